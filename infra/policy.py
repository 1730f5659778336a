"""Policy checks: plain functions over the resources the program declares (as `render` records them).

Each check returns the problems it finds, an empty list when the policy holds. They
run in the tests and in `python -m infra render --check`; `evaluate` runs them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from infra.argocd import UNRELEASED, UNRELEASED_ANNOTATION
from infra.branches import MAIN_BRANCH
from infra.config import looks_like_token
from infra.forkprs import APPROVAL_POLICY, PRIVATE_SETTINGS
from infra.release_tags import RELEASE_TAG_PATTERN
from infra.render import Declared
from pipelines.core.catalog import PRODUCTION_ENVIRONMENT
from pipelines.wheels.trusted_publishers import Workflow, job_check_names

BRANCH_PROTECTION = "github:index/branchProtection:BranchProtection"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
SECRET_TYPES = {
    "github:index/actionsSecret:ActionsSecret": ("value", "plaintextValue"),
    "github:index/actionsOrganizationSecret:ActionsOrganizationSecret": ("value", "plaintextValue"),
}
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
FORK_PULL_REQUESTS = "pulumi-python:dynamic/github:ForkPullRequestSettings"
ACTIONS_PERMISSIONS = "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions"
GITHUB_OWNED = ("actions/*", "github/*")
PRIVATE_OFF = tuple(key for key, value in PRIVATE_SETTINGS.items() if value is False)
_PINNED = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")


def _of(resources: Iterable[Declared], type_: str) -> list[Declared]:
    return [resource for resource in resources if resource.type == type_]


def _strings(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def no_plaintext_secrets(resources: Sequence[Declared]) -> list[str]:
    """Secret values reach resources only as Pulumi secrets; no input holds something shaped like a token."""
    problems = []
    for resource in resources:
        for field in SECRET_TYPES.get(resource.type, ()):
            if field in resource.inputs and field not in resource.secrets:
                problems.append(f"{resource.type} {resource.name}: {field} is plain text, not a Pulumi secret")
        for path, text in _strings(resource.inputs):
            if path not in resource.secrets and looks_like_token(text):
                problems.append(f"{resource.type} {resource.name}: {path} holds a token in plain text")
    return problems


def images_pinned_by_digest(resources: Sequence[Declared]) -> list[str]:
    """Every Argo CD Application of a released image overrides its image with `repository@sha256:…`.

    An image not released yet (a new stack) has no override, and its Application says so in an
    annotation; an override lost for a released image, or a tag instead of a digest, fails.
    """
    problems = []
    applications = _of(resources, APPLICATION)
    if not applications:
        problems.append("no Argo CD Application is declared")
    for application in applications:
        if application.inputs.get("spec", {}).get("source", {}).get("chart"):
            continue  # a Helm chart (the Argo Rollouts controller) is pinned by its chart version, not a digest
        images = application.inputs.get("spec", {}).get("source", {}).get("kustomize", {}).get("images", [])
        annotations = application.inputs.get("metadata", {}).get("annotations") or {}
        unreleased = annotations.get(UNRELEASED_ANNOTATION) == UNRELEASED
        if not images and not unreleased:
            problems.append(
                f"Application {application.name}: no image override; it deploys whatever tag its manifests name"
            )
        if images and unreleased:
            problems.append(f"Application {application.name}: marked unreleased, yet it overrides its image")
        problems += [
            f"Application {application.name}: image {image!r} is not pinned by digest"
            for image in images
            if not _PINNED.fullmatch(image)
        ]
    return problems


def admins_included_on_main(resources: Sequence[Declared]) -> list[str]:
    """main is protected, with an approving review, and administrators are held to it."""
    rules = [rule for rule in _of(resources, BRANCH_PROTECTION) if rule.inputs.get("pattern") == MAIN_BRANCH]
    if not rules:
        return [f"no branch protection on {MAIN_BRANCH}"]
    problems = []
    for rule in rules:
        if rule.inputs.get("enforceAdmins") is not True:
            problems.append(f"branch protection {rule.name}: administrators are not included (enforceAdmins)")
        reviews = rule.inputs.get("requiredPullRequestReviews") or [{}]
        if (reviews[0].get("requiredApprovingReviewCount") or 0) < 1:
            problems.append(f"branch protection {rule.name}: no approving review required")
    return problems


def production_reviewed_without_bypass(resources: Sequence[Declared]) -> list[str]:
    """production has required reviewers, prevents self-review, and administrators cannot bypass it."""
    environments = [
        env for env in _of(resources, ENVIRONMENT) if env.inputs.get("environment") == PRODUCTION_ENVIRONMENT
    ]
    if not environments:
        return [f"no {PRODUCTION_ENVIRONMENT} environment"]
    problems = []
    for environment in environments:
        reviewers = environment.inputs.get("reviewers") or [{}]
        if not (reviewers[0].get("users") or reviewers[0].get("teams")):
            problems.append(f"environment {environment.name}: no required reviewers")
        if environment.inputs.get("canAdminsBypass") is not False:
            problems.append(f"environment {environment.name}: administrators may bypass it (canAdminsBypass)")
        if environment.inputs.get("preventSelfReview") is not True:
            problems.append(f"environment {environment.name}: the person who started a deployment may approve it")
    return problems


def release_tags_protected(resources: Sequence[Declared]) -> list[str]:
    """Release tags: creation only by bypass actors (release managers); update and deletion by nobody."""
    tag_rules = [
        ruleset
        for ruleset in _of(resources, RULESET)
        if ruleset.inputs.get("target") == "tag"
        and ruleset.inputs.get("enforcement") == "active"
        and RELEASE_TAG_PATTERN in ruleset.inputs.get("conditions", {}).get("refName", {}).get("includes", [])
    ]
    problems = []
    if not any(r.inputs.get("rules", {}).get("creation") is True and r.inputs.get("bypassActors") for r in tag_rules):
        problems.append(f"no active tag ruleset lets only named release managers create {RELEASE_TAG_PATTERN}")
    immutable = [
        r
        for r in tag_rules
        if r.inputs.get("rules", {}).get("update") is True and r.inputs.get("rules", {}).get("deletion") is True
    ]
    if not immutable:
        problems.append(f"no active tag ruleset forbids updating and deleting {RELEASE_TAG_PATTERN}")
    problems += [
        f"tag ruleset {r.name}: someone may bypass the ban on moving or deleting release tags"
        for r in immutable
        if r.inputs.get("bypassActors")
    ]
    return problems


def fork_pr_workflows_off(resources: Sequence[Declared]) -> list[str]:
    """Fork pull requests run no workflows (private) or only after a maintainer's approval every time (public)."""
    settings = _of(resources, FORK_PULL_REQUESTS)
    if not settings:
        return ["the fork pull request settings are not managed"]
    problems = []
    for setting in settings:
        inputs = setting.inputs
        if inputs.get("private"):
            for key in PRIVATE_OFF:
                if inputs.get(key) is not False:
                    problems.append(f"{setting.name}: {key} is not false")
        elif inputs.get("approval_policy") != APPROVAL_POLICY:
            problems.append(
                f"{setting.name}: approval_policy is {inputs.get('approval_policy')!r}, not {APPROVAL_POLICY}"
            )
    return problems


def required_checks_exist(resources: Sequence[Declared], check_names: set[str]) -> list[str]:
    """Every status check the branch protection requires is the name of a job in .github/workflows."""
    problems = []
    for rule in _of(resources, BRANCH_PROTECTION):
        for checks in rule.inputs.get("requiredStatusChecks") or []:
            problems += [
                f"branch protection {rule.name}: required check {context!r} is no job name in .github/workflows "
                "(a required check that never reports blocks every merge)"
                for context in checks.get("contexts", [])
                if context not in check_names
            ]
    return problems


def allowed_patterns(resources: Sequence[Declared]) -> list[list[str]]:
    """The allow-list of each declared Actions policy: its patterns, with GitHub's own actions when allowed."""
    lists = []
    for permissions in _of(resources, ACTIONS_PERMISSIONS):
        config = permissions.inputs.get("allowedActionsConfig") or {}
        patterns = list(config.get("patternsAlloweds") or [])
        if config.get("githubOwnedAllowed"):
            patterns += GITHUB_OWNED
        lists.append(patterns)
    return lists


def action_allowed(uses: str, patterns: Sequence[str]) -> bool:
    """Whether GitHub runs `uses` under an allow-list. Actions and reusable workflows of the repository
    itself (`./…`, or the self-repository reference `$/…`) always run."""
    return uses.startswith(("./", "$/")) or any(fnmatchcase(uses, pattern) for pattern in patterns)


def _with_nested(uses: str, nested: Mapping[str, Sequence[str]], seen: tuple[str, ...] = ()) -> Iterable[str]:
    for inner in nested.get(uses, ()):
        if inner.startswith("./") or inner in seen:
            continue  # a file of the action's own repository is part of that action
        yield inner
        yield from _with_nested(inner, nested, (*seen, inner))


def workflow_actions_allowed(
    resources: Sequence[Declared], workflows: Sequence[Workflow], nested: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Every action a workflow uses is allowed by the Actions policy (else GitHub refuses to run the job).

    GitHub applies the allow-list to the actions a composite action uses too: `nested` maps an
    action's `owner/repo@ref` to the `uses:` of its steps (from the action's own metadata).
    """
    problems = []
    for patterns in allowed_patterns(resources):
        for workflow in workflows:
            for job in workflow.jobs:
                for uses in job.uses:
                    if not action_allowed(uses, patterns):
                        problems.append(
                            f"{workflow.file} job {job.id}: {uses.split('@')[0]} is not in the allowed actions"
                        )
                    for inner in _with_nested(uses, nested or {}):
                        if not action_allowed(inner, patterns):
                            problems.append(
                                f"{workflow.file} job {job.id}: {inner.split('@')[0]} (used inside "
                                f"{uses.split('@')[0]}) is not in the allowed actions"
                            )
    return problems


POLICIES: tuple[Callable[[Sequence[Declared]], list[str]], ...] = (
    no_plaintext_secrets,
    images_pinned_by_digest,
    admins_included_on_main,
    production_reviewed_without_bypass,
    release_tags_protected,
    fork_pr_workflows_off,
)


@dataclass(frozen=True)
class PolicyResult:
    name: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class PolicyReport:
    results: tuple[PolicyResult, ...]

    @property
    def ok(self) -> bool:
        return not any(result.problems for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [{"name": r.name, "ok": not r.problems, "problems": list(r.problems)} for r in self.results],
        }

    def describe(self) -> list[str]:
        lines = [f"policy: {'ok' if self.ok else 'FAILED'} ({len(self.results)} checks)"]
        for result in self.results:
            lines.append(f"  {'ok    ' if not result.problems else 'FAILED'} {result.name}")
            lines += [f"         - {problem}" for problem in result.problems]
        return lines


def staging_declares_no_github(resources: Sequence[Declared]) -> list[str]:
    """The staging stack declares Argo CD only: GitHub settings are declared once, by the prod stack."""
    return [
        f"{resource.type} {resource.name}: a GitHub setting in the staging stack (the prod stack declares them)"
        for resource in resources
        if resource.type.startswith(("github:", "pulumi:providers:github", "pulumi-python:dynamic/github:"))
    ]


STAGING_POLICIES = (no_plaintext_secrets, images_pinned_by_digest, staging_declares_no_github)


def evaluate_staging(resources: Sequence[Declared]) -> PolicyReport:
    """The policies of the staging stack (the GitHub ones belong to prod's)."""
    return PolicyReport(tuple(PolicyResult(policy.__name__, tuple(policy(resources))) for policy in STAGING_POLICIES))


def evaluate(
    resources: Sequence[Declared], workflows: Sequence[Workflow], nested: Mapping[str, Sequence[str]] | None = None
) -> PolicyReport:
    """Run every policy, and the rules that hold the declared settings against the workflow files
    (`nested`: the actions each pinned composite action uses, when known)."""
    results = [PolicyResult(policy.__name__, tuple(policy(resources))) for policy in POLICIES]
    check_names = job_check_names(list(workflows))
    results.append(PolicyResult(required_checks_exist.__name__, tuple(required_checks_exist(resources, check_names))))
    results.append(
        PolicyResult(workflow_actions_allowed.__name__, tuple(workflow_actions_allowed(resources, workflows, nested)))
    )
    return PolicyReport(tuple(results))
