"""`preflight`: before the first tag, each step of the setup checked where it can be read (docs/preflight.md).

The plan of checks and their result model are pipelines.plan.preflight, the rules preflight_rules. This
module reads, group by group: the stack files through the Pulumi program's own validation (preflight_stacks),
GitHub through pipelines.edges.github_settings, the workflows for the trusted publishers
(pipelines.wheels.trusted_publishers), the registry's /v2/, and each cluster through pipelines.health.crds.
Credentials come from the existing loaders, which the output boundary remembers; nothing here prints one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, add_registry_option, add_root_option, positive_seconds
from pipelines.commands.checkout import resolve_root
from pipelines.commands.preflight_stacks import read_stack
from pipelines.core.catalog import PRODUCTION_ENVIRONMENT, PULUMI_STACK, STAGING_ENVIRONMENT, image_projects
from pipelines.core.errors import InputError, PipelineError, Unauthorized
from pipelines.output import emit, progress
from pipelines.plan.preflight import (
    GROUPS,
    STACK_CHOICES,
    STACKS,
    STAGING_STACK,
    CheckResult,
    StackFacts,
    TeamSetting,
    exit_code,
    failed,
    parse_scope,
    passed,
    render,
    skipped,
)

if TYPE_CHECKING:
    from pipelines.edges.github import GitHubApi
    from pipelines.plan.preflight_rules import ManagedSecret, SecretNeeds
    from pipelines.wheels.trusted_publishers import TrustedPublisher, WorkflowFiles

DEFAULT_TIMEOUT = 30.0
WORKFLOWS = ".github/workflows"
TOKEN_FIX = (
    "set GITHUB_TOKEN to a token that may read this repository's environments and secret names (Environments and "
    "Secrets: read; Actions: read too if it is private) and the organization's teams (Members: read), such as "
    "INFRA_GITHUB_TOKEN, the token of `pulumi up` (docs/preflight.md)"
)
PAT_FIX = "set PERCOLATE_GIT_PAT to the token of the Actions secret PERCOLATE_GIT_PAT and run this again"
Facts = dict[str, StackFacts | None]


@dataclass(frozen=True)
class PreflightRequest:
    only: str | None
    stack: str
    registry: str
    kubeconfig: Path | None
    context: str | None
    staging_kubeconfig: Path | None
    staging_context: str | None
    timeout: float
    root: Path | None
    json: bool


def _failure(name: str, error: PipelineError, refused: str | None = None) -> CheckResult:
    """The failed result of what stopped a check; `refused` is the fix when a token was refused."""
    return failed(name, error.message, refused if refused and isinstance(error, Unauthorized) else error.hint)


def _read(name: str, check: Callable[[], CheckResult], refused: str | None = None) -> CheckResult:
    """`check()`, or the failed result of what stopped it."""
    try:
        return check()
    except PipelineError as error:
        return _failure(name, error, refused)


def _api(token: str, timeout: float, rights: str) -> GitHubApi:
    from pipelines.edges.github import TIMEOUTS, GitHubApi
    from pipelines.edges.http import HttpClient, RetryPolicy

    http = HttpClient(policy=RetryPolicy(max_time=timeout), timeouts=TIMEOUTS, say=progress)
    return GitHubApi(_api_url(), token, http=http, rights_hint=rights)


def _api_url() -> str:
    return os.environ.get("GITHUB_API_URL") or "https://api.github.com"


def _workflows(root: Path) -> dict[str, Any]:
    from pipelines.edges.files import read_yaml

    folder = root / WORKFLOWS
    files = sorted(p for p in folder.iterdir() if p.suffix in {".yml", ".yaml"}) if folder.is_dir() else []
    return {path.name: read_yaml(path, fix="fix the workflow file's YAML") for path in files}


def _managed() -> list[ManagedSecret]:
    """The Actions secrets the Pulumi program sets from secret config (infra/config.py, infra/secrets.py)."""
    from infra.config import NAMESPACE, REQUIRED_SECRETS, SECRETS
    from pipelines.plan.preflight_rules import ManagedSecret

    return [ManagedSecret(name, f"{NAMESPACE}:{key}", key in REQUIRED_SECRETS) for key, name in SECRETS.items()]


def _github(root: Path, facts: Facts, timeout: float) -> list[CheckResult]:
    from pipelines.edges.github import token_named
    from pipelines.plan.preflight_rules import secret_needs

    prod = facts[PULUMI_STACK]
    try:
        needs = secret_needs(_workflows(root))
    except PipelineError as error:
        return [_failure("github.secrets", error)]
    environments = sorted({PRODUCTION_ENVIRONMENT, STAGING_ENVIRONMENT, *needs.environments})
    teams: dict[str, list[TeamSetting]] = {}
    for team in prod.teams if prod else ():
        teams.setdefault(team.slug, []).append(team)
    names = ["github.environments", "github.secrets.repository", *(f"github.secrets.{e}" for e in environments)]
    names += [f"github.team.{slug}" for slug in teams] if prod else ["github.teams"]
    token = token_named("GITHUB_TOKEN")
    if prod is None or prod.repository is None:
        return [
            skipped(name, "Pulumi.prod.yaml does not read: the repository is unknown", "fix it first") for name in names
        ]
    if token is None:
        return [skipped(name, "GITHUB_TOKEN is not set", TOKEN_FIX) for name in names]
    api = _api(token, timeout, TOKEN_FIX)
    try:
        return _github_reads(api, prod.repository, environments, needs, teams)
    finally:
        api.close()


def _github_reads(
    api: GitHubApi, repository: str, environments: list[str], needs: SecretNeeds, teams: dict[str, list[TeamSetting]]
) -> list[CheckResult]:
    from pipelines.edges import github_settings as github
    from pipelines.plan import preflight_rules as rules

    managed = _managed()
    managed_names = frozenset(secret.name for secret in managed)
    present = partial(github.environments, api, repository)
    results = [
        _read("github.environments", lambda: rules.judge_environments(repository, environments, present()), TOKEN_FIX)
    ]
    try:  # read first: an environment's own secrets must not be repository secrets too
        in_repository = github.repository_secrets(api, repository)
        results.append(rules.judge_repository_secrets(repository, managed, needs.anywhere, in_repository))
    except PipelineError as error:
        in_repository = frozenset()
        results.append(_failure("github.secrets.repository", error, TOKEN_FIX))

    def environment_secrets(environment: str) -> CheckResult:
        needed = needs.of(environment)
        own = needed - managed_names - rules.AUTOMATIC_SECRETS
        held = github.environment_secrets(api, repository, environment) if own else frozenset()
        return rules.judge_environment_secrets(environment, needed, managed_names, held, in_repository)

    def team(slug: str, settings: list[TeamSetting]) -> CheckResult:
        owner = repository.split("/")[0]
        return rules.judge_team(owner, slug, settings, github.team_id(api, owner, slug))

    for environment in environments:
        results.append(_read(f"github.secrets.{environment}", partial(environment_secrets, environment), TOKEN_FIX))
    for slug, settings in teams.items():
        results.append(_read(f"github.team.{slug}", partial(team, slug, settings), TOKEN_FIX))
    return results


def _publisher_workflow(files: WorkflowFiles, check: str, publisher: TrustedPublisher) -> CheckResult:
    from pipelines.wheels.trusted_publishers import check_publisher

    problems = check_publisher(publisher, files.read(publisher.workflow))
    if problems:
        return failed(check, "; ".join(problems), f"fix {WORKFLOWS}/{publisher.workflow}, then run this again")
    where = f"to {publisher.index.host} only from environment {publisher.environment}"
    return passed(check, f"{publisher.workflow} publishes {publisher.project} {where}")


def _publishers(root: Path, facts: Facts) -> list[CheckResult]:
    """The workflow side of each trusted publisher (checked), and PyPI's side (skipped: no API) with its values."""
    from pipelines.core.catalog import GITHUB_REPOSITORY
    from pipelines.wheels.trusted_publishers import WorkflowFiles, expected_publishers

    prod = facts[PULUMI_STACK]
    owner, name = ((prod.repository if prod else None) or GITHUB_REPOSITORY).split("/")
    files = WorkflowFiles(root / WORKFLOWS)
    results = []
    for publisher in expected_publishers(owner, name):
        check = f"publishers.{publisher.project}.{publisher.index.name}"
        results.append(_read(f"{check}.workflow", partial(_publisher_workflow, files, f"{check}.workflow", publisher)))
        form = ", ".join(f"{field} {value}" for field, value in publisher.form().items())
        by_hand = (
            f"on {publisher.settings_url} (before the first upload: a pending publisher on {publisher.pending_url}) "
            f"a GitHub publisher with {form}"
        )
        results.append(skipped(f"{check}.form", f"{publisher.index.host} has no API for trusted publishers", by_hand))
    return results


def _manifests(facts: Facts, stacks: tuple[str, ...], timeout: float) -> list[CheckResult]:
    from pipelines.edges.github import token_named

    token = token_named("PERCOLATE_GIT_PAT")
    return [result for stack in stacks for result in _manifest_folders(stack, facts[stack], token, timeout)]


def _folder(api: GitHubApi, facts: StackFacts, repository: str, application: str) -> CheckResult:
    from pipelines.edges.github_settings import folder
    from pipelines.plan.preflight_rules import judge_manifest_folder

    entries = folder(api, repository, f"{facts.base_path}/{application}", facts.target_revision)
    return judge_manifest_folder(facts, repository, application, entries)


def _manifest_folders(stack: str, facts: StackFacts | None, token: str | None, timeout: float) -> list[CheckResult]:
    """The manifests repository readable with the PAT, and `{basePath}/{application}` there for each application."""
    from pipelines.edges.github_settings import repository as read_repository
    from pipelines.plan.preflight_rules import github_repository

    name = f"manifests.{stack}"
    applications = [str(project.argocd_application) for project in image_projects()]
    names = [name, *(f"{name}.{application}" for application in applications)]
    repository = github_repository(facts.manifests_repo) if facts else None
    if facts is None:
        return [skipped(each, f"Pulumi.{stack}.yaml does not read", "fix it first") for each in names]
    if repository is None:
        return [skipped(each, f"{facts.manifests_repo} is not on github.com: check it by hand") for each in names]
    if token is None:
        return [skipped(each, "PERCOLATE_GIT_PAT is not set", PAT_FIX) for each in names]
    rights = f"give PERCOLATE_GIT_PAT read access to {repository} (Contents: read), or correct argocd.manifestsRepo"
    api = _api(token, timeout, rights)
    try:
        try:
            found = read_repository(api, repository)
        except PipelineError as error:
            unread = [skipped(each, f"{name} failed: its folders cannot be read") for each in names[1:]]
            return [_failure(name, error, rights), *unread]
        results = [passed(name, f"{found['full_name']} is readable with PERCOLATE_GIT_PAT")]
        for application, check in zip(applications, names[1:], strict=True):
            results.append(_read(check, partial(_folder, api, facts, repository, application), rights))
        return results
    finally:
        api.close()


def _registry(registry: str, timeout: float) -> CheckResult:
    from pipelines.core.errors import Unavailable
    from pipelines.images.registry.connect import connect
    from pipelines.images.registry.credentials import CREDENTIAL_SOURCES

    host = registry.split("/")[0]
    try:
        with connect(registry, push=False, max_time=timeout, say=progress) as client:
            client.ping()
            who = client.credentials.source if client.credentials else "anonymously (no credentials found)"
    except Unavailable as error:
        return failed("registry", error.message, f"check that {host} is reachable from here (DNS, HTTPS_PROXY)")
    except PipelineError as error:
        return _failure("registry", error, f"set credentials that may read the packages: {CREDENTIAL_SOURCES}")
    return passed("registry", f"{host} answers its API (/v2/) with {who}")


def _clusters(request: PreflightRequest, facts: Facts, stacks: tuple[str, ...]) -> list[CheckResult]:
    from pipelines.health.crds import check_stack_cluster

    results: list[CheckResult] = []
    for stack in stacks:
        staging = stack == STAGING_STACK
        kubeconfig, context = (
            (request.staging_kubeconfig, request.staging_context) if staging else (request.kubeconfig, request.context)
        )
        results += check_stack_cluster(
            stack, kubeconfig, context, facts[stack], request.timeout, environ=os.environ, say=progress
        )
    return results


def _check_usage(request: PreflightRequest) -> None:
    """What the user named must exist or parse, before anything is read (exit 2)."""
    for option, path in (("--kubeconfig", request.kubeconfig), ("--staging-kubeconfig", request.staging_kubeconfig)):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{option} {path} is not a file", hint="pass the path of a kubeconfig file")
    from pipelines.edges.http import require_secure_url
    from pipelines.images.registry.location import parse_registry

    require_secure_url(_api_url(), "GITHUB_API_URL", "https://api.github.com")
    parse_registry(request.registry)


def _preflight(request: PreflightRequest) -> int:
    scope = parse_scope(request.only, request.stack)
    root = resolve_root(request.root)
    _check_usage(request)
    progress(f"preflight of {root}: {', '.join(scope.groups)} for {', '.join(scope.stacks)}")
    read = {stack: read_stack(root, stack) for stack in STACKS}
    facts: Facts = {stack: stack_facts for stack, (_, stack_facts) in read.items()}
    results: list[CheckResult] = []
    for group in scope.groups:
        progress(f"checking {group}: {GROUPS[group]}")
        if group == "stacks":
            results += [read[stack][0] for stack in scope.stacks]
        elif group == "github":
            results += _github(root, facts, request.timeout)
        elif group == "publishers":
            results += _publishers(root, facts)
        elif group == "manifests":
            results += _manifests(facts, scope.stacks, request.timeout)
        elif group == "registry":
            results.append(_registry(request.registry, request.timeout))
        else:
            results += _clusters(request, facts, scope.stacks)
    emit(request.json, [result.to_dict() for result in results], render(results))
    return exit_code(results)


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "preflight",
        summary="before the first tag: check every step of the setup that can be read (GitHub, registry, clusters)",
        description="Check, before the first tag, each step of the setup where it can be read (docs/preflight.md):\n"
        + "".join(f"  {group:<11}{what}\n" for group, what in GROUPS.items())
        + "Each check prints passed, failed or skipped, with what to do. Exit 1 while any check fails (a\n"
        "skipped one does not), 2 for bad usage. Credentials: GITHUB_TOKEN (settings, secret names, teams),\n"
        "PERCOLATE_GIT_PAT (the manifests repository), the registry's (REGISTRY_USERNAME/REGISTRY_PASSWORD,\n"
        "GITHUB_TOKEN for ghcr.io, or the Docker config), KUBECONFIG and STAGING_KUBECONFIG (kubeconfig paths);\n"
        "GITHUB_API_URL replaces https://api.github.com. None is ever printed.",
        request=PreflightRequest,
        run=_preflight,
        examples="  python -m pipelines preflight\n"
        "  python -m pipelines preflight --only github,manifests --json\n"
        "  STAGING_KUBECONFIG=~/.kube/staging python -m pipelines preflight --only clusters --stack staging",
    )
    parser.add_argument("--only", metavar="GROUP[,GROUP…]", help=f"run only these groups: {', '.join(GROUPS)}")
    parser.add_argument(
        "--stack", choices=STACK_CHOICES, default="all", help="the stacks whose files, manifests and cluster to check"
    )
    add_registry_option(parser)
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="the prod cluster's kubeconfig (default: $KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument("--context", metavar="NAME", help="its context (default: its current-context)")
    parser.add_argument(
        "--staging-kubeconfig",
        type=Path,
        metavar="FILE",
        help="the staging cluster's kubeconfig (default: $STAGING_KUBECONFIG)",
    )
    parser.add_argument("--staging-context", metavar="NAME", help="its context (default: its current-context)")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up on each service (GitHub, the registry, a cluster) after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    add_root_option(parser)
