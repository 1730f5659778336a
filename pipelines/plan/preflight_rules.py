"""The preflight rules: what each check read, judged into a `CheckResult` with the fix. Pure.

- which secrets the workflows' jobs read, by environment (`secret_needs`), and whether GitHub holds them
  where they belong: secrets the Pulumi program manages in the repository (or organization), the others
  in their environment only;
- whether each team the stack config names by slug has the id written beside it;
- whether the manifests repository holds a Kustomize folder per application;
- whether a cluster serves the CRDs of Argo CD and, where a canary is configured, of Argo Rollouts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.plan.preflight import CheckResult, StackFacts, TeamSetting, failed, passed, skipped

ARGOCD_CRDS = ("applications.argoproj.io", "appprojects.argoproj.io")
ROLLOUTS_CRDS = ("rollouts.argoproj.io", "analysistemplates.argoproj.io")
# The files Kustomize reads as a folder's kustomization (Argo CD renders each application's folder with it).
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
AUTOMATIC_SECRETS = frozenset({"GITHUB_TOKEN"})  # every job has it; nobody sets it
ENVIRONMENTS_FIX = (
    "run `pulumi up --stack prod`: it declares production and staging (infra/environments.py) and "
    "github-pages (infra/pages.py)"
)
_SECRET_REFERENCE = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")
_GITHUB_REPOSITORY = re.compile(
    r"(?:https://github\.com/|ssh://git@github\.com/|git@github\.com:)([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?"
)


@dataclass(frozen=True)
class ManagedSecret:
    """An Actions secret the Pulumi program sets from secret config (infra/secrets.py)."""

    name: str
    config_key: str  # e.g. percolate-platform:percolateGitPat
    required: bool


@dataclass(frozen=True)
class SecretNeeds:
    """The secrets the workflows' jobs read: those of jobs in each environment, and those of any job."""

    by_environment: tuple[tuple[str, frozenset[str]], ...]
    anywhere: frozenset[str]

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(environment for environment, _ in self.by_environment)

    def of(self, environment: str) -> frozenset[str]:
        return dict(self.by_environment).get(environment, frozenset())


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _environment(job: Mapping[str, Any]) -> str | None:
    environment = job.get("environment")
    if isinstance(environment, Mapping):
        environment = environment.get("name")
    # An environment chosen by an expression is known only when the job runs.
    return environment if isinstance(environment, str) and "${{" not in environment else None


def secret_needs(workflows: Mapping[str, Any]) -> SecretNeeds:
    """What the loaded workflow documents (file name -> document) read as `secrets.NAME`, by the job's environment."""
    by_environment: dict[str, set[str]] = {}
    anywhere: set[str] = set()
    for document in workflows.values():
        jobs = document.get("jobs") if isinstance(document, Mapping) else None
        for job in (jobs or {}).values() if isinstance(jobs, Mapping) else ():
            if not isinstance(job, Mapping):
                continue
            names = {name for text in _strings(job) for name in _SECRET_REFERENCE.findall(text)}
            names -= AUTOMATIC_SECRETS
            anywhere |= names
            if (environment := _environment(job)) is not None:
                by_environment.setdefault(environment, set()).update(names)
    return SecretNeeds(
        tuple((environment, frozenset(names)) for environment, names in sorted(by_environment.items())),
        frozenset(anywhere),
    )


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def judge_environments(repository: str, required: Iterable[str], present: frozenset[str]) -> CheckResult:
    name = "github.environments"
    wanted = sorted(set(required))
    missing = [environment for environment in wanted if environment not in present]
    if missing:
        return failed(
            name, f"{repository} has no environment {_listed(missing)} (it has: {_listed(present)})", ENVIRONMENTS_FIX
        )
    return passed(name, f"{repository} has the environments {_listed(wanted)}")


def judge_repository_secrets(
    repository: str, managed: Sequence[ManagedSecret], needed: frozenset[str], present: frozenset[str]
) -> CheckResult:
    """The secrets the program sets: each required one present, and the optional ones the workflows read noted."""
    name = "github.secrets.repository"
    missing = [secret for secret in managed if secret.required and secret.name not in present]
    optional = sorted(s.name for s in managed if not s.required and s.name in needed and s.name not in present)
    unset = f"; optional and not set: {', '.join(optional)}" if optional else ""
    if missing:
        fix = "; ".join(f"pulumi config set --secret {secret.config_key} --stack prod" for secret in missing)
        return failed(
            name,
            f"{repository} has no Actions secret {_listed(s.name for s in missing)}{unset}",
            f"{fix}, then `pulumi up --stack prod` (infra/secrets.py sets each as an Actions secret)",
        )
    have = sorted(secret.name for secret in managed if secret.name in present)
    return passed(name, f"{repository} has the Actions secrets {_listed(have)}{unset}")


def judge_environment_secrets(
    environment: str,
    needed: frozenset[str],
    managed: frozenset[str],
    in_environment: frozenset[str],
    in_repository: frozenset[str],
) -> CheckResult:
    """The secrets the jobs of `environment` read that the program does not set: each an environment secret there,
    and none also a repository secret (every job, a pull request's too, could read that copy)."""
    name = f"github.secrets.{environment}"
    own = sorted(needed - managed - AUTOMATIC_SECRETS)
    if not own:
        return passed(name, f"no job in environment {environment} reads a secret of its own")
    missing = [secret for secret in own if secret not in in_environment]
    doubled = [secret for secret in own if secret in in_repository]
    where = f"Settings → Environments → {environment} → Environment secrets"
    if missing:
        return failed(
            name,
            f"environment {environment} lacks the secret(s) {_listed(missing)} its jobs read",
            f"add {_listed(missing)} in {where} (docs/preflight.md says what each holds)",
        )
    if doubled:
        return failed(
            name,
            f"{_listed(doubled)} is also a repository secret, which every job can read",
            f"delete the repository secret {_listed(doubled)} (Settings → Secrets and variables → Actions); "
            f"keep it in {where} only",
        )
    return passed(name, f"environment {environment} holds {_listed(own)}")


def judge_team(organization: str, slug: str, settings: Sequence[TeamSetting], found: int | None) -> CheckResult:
    """The team's id on GitHub against the id(s) the stack config writes beside its slug."""
    name = f"github.team.{slug}"
    paths = ", ".join(setting.path for setting in settings)
    if found is None:
        return failed(
            name,
            f"organization {organization} has no team {slug} (named at {paths})",
            f"create the team {slug} in {organization}, or correct the slug in Pulumi.prod.yaml",
        )
    wrong = [setting for setting in settings if setting.id != found]
    if wrong:
        configured = ", ".join(f"{setting.id} at {setting.path}" for setting in wrong)
        fixes = "; ".join(f"pulumi config set --path '{setting.path}.id' {found} --stack prod" for setting in wrong)
        return failed(name, f"team {slug} has id {found} on GitHub; the stack config says {configured}", fixes)
    return passed(name, f"team {slug} has id {found}, as the stack config says")


def github_repository(url: str) -> str | None:
    """OWNER/NAME of a github.com git URL (https, ssh or scp form); None for any other host."""
    match = _GITHUB_REPOSITORY.fullmatch(url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def judge_manifest_folder(
    facts: StackFacts, repository: str, application: str, entries: Sequence[str] | None
) -> CheckResult:
    """`{basePath}/{application}` at the stack's revision: a folder Kustomize can render."""
    name = f"manifests.{facts.stack}.{application}"
    path = f"{facts.base_path}/{application}"
    where = f"{repository}:{path} at {facts.target_revision}"
    add = (
        f"add the Kustomize manifests of {application} at {path} on {facts.target_revision} of {repository} "
        f"(Argo CD renders {facts.base_path}/{{application}} of {facts.file})"
    )
    if entries is None:
        return failed(name, f"{where} does not exist", add)
    if not entries:
        return failed(name, f"{where} is a file, not a folder", add)
    if not any(entry in KUSTOMIZATIONS for entry in entries):
        return failed(
            name,
            f"{where} holds no kustomization.yaml (it holds {_listed(entries)})",
            f"add a kustomization.yaml to {path} listing its manifests: Argo CD renders the folder with Kustomize",
        )
    return passed(name, f"{where} holds a kustomization ({len(entries)} entries)")


def serves(document: Mapping[str, Any] | None, version: str) -> bool:
    """Whether a CustomResourceDefinition serves `version` (spec.versions[].served)."""
    spec = document.get("spec") if isinstance(document, Mapping) else None
    versions = spec.get("versions") if isinstance(spec, Mapping) else None
    return any(
        isinstance(entry, Mapping) and entry.get("name") == version and entry.get("served") is True
        for entry in versions or ()
    )


def judge_crds(
    name: str, cluster: str, found: Mapping[str, Mapping[str, Any] | None], version: str, fix: str
) -> CheckResult:
    """Every CRD in `found` (name -> its object, None when absent) exists and serves `version`."""
    missing = [crd for crd, document in found.items() if document is None]
    unserved = [crd for crd, document in found.items() if document is not None and not serves(document, version)]
    if missing:
        return failed(name, f"{cluster} has no CustomResourceDefinition {_listed(missing)}", fix)
    if unserved:
        return failed(
            name, f"{cluster}: {_listed(unserved)} do(es) not serve {version}, which the program and the gate use", fix
        )
    return passed(name, f"{cluster} serves {_listed(found)} at {version}")


def argocd_fix(facts: StackFacts | None) -> str:
    namespace = facts.argocd_namespace if facts else "argocd"
    return (
        f"install Argo CD in namespace {namespace} of this cluster (its install manifests bring the CRDs), e.g. "
        f"`kubectl create namespace {namespace} && kubectl apply -n {namespace} --server-side -f "
        "https://raw.githubusercontent.com/argoproj/argo-cd/stable/manifests/install.yaml`"
    )


def rollouts_fix(name: str, facts: StackFacts | None) -> CheckResult | str:
    """The skipped result when the stack needs no Argo Rollouts CRDs (or cannot be told whether), else the fix
    for when they are missing."""
    if facts is None:
        return skipped(
            name, "the stack file does not read, so whether it configures a canary is unknown", "fix it first"
        )
    if not facts.canaries:
        return skipped(name, f"{facts.file} configures no canary (percolate-platform:canary): no Argo Rollouts needed")
    if facts.rollouts_installed:
        return (
            f"`pulumi up --stack {facts.stack}` declares the Argo Rollouts controller (argoRollouts.install: true): "
            "run it, then wait for Argo CD to sync the application argo-rollouts, which brings the CRDs"
        )
    return (
        "install Argo Rollouts (its Helm chart argo-rollouts, or `kubectl create namespace argo-rollouts && kubectl "
        "apply -n argo-rollouts -f https://github.com/argoproj/argo-rollouts/releases/latest/download/install.yaml`), "
        f"or set percolate-platform:argoRollouts.install: true in {facts.file}"
    )
