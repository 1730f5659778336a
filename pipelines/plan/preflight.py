"""The preflight plan: which checks `python -m pipelines preflight` runs before the first tag, and their results.

Pure. A check has a dotted name whose first part is its group (`github.environments`, `clusters.prod.argocd`);
`--only` picks groups and `--stack` the stacks whose own checks run (`stacks.X`, `manifests.X.*`,
`clusters.X*`). Each check ends passed, failed or skipped, with what it saw and, unless it passed, what
to do. Only a failed check fails the run: a skipped one could not be read from here (no credential
given, or no API, as for PyPI's trusted publishers) and says how to check it instead.

What the stack files say that the checks need is handed over as `StackFacts`, plain values, so that
the rules (`preflight_rules`) never depend on the Pulumi program's settings types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from pipelines.core.catalog import PULUMI_STACK
from pipelines.core.errors import InputError

# Each group of checks, in the order they run and print, and what it reads.
GROUPS: dict[str, str] = {
    "stacks": "Pulumi.prod.yaml and Pulumi.staging.yaml, validated as the Pulumi program validates them",
    "github": "the repository's environments, their secrets (names only) and the release teams' ids",
    "publishers": "the trusted publishers PyPI and TestPyPI must hold, against the workflows that publish",
    "manifests": "the manifests repository with PERCOLATE_GIT_PAT, and each stack's application folders",
    "registry": "the image registry's API (/v2/) with the credentials the registry client finds",
    "clusters": "each stack's cluster through its kubeconfig, and the CRDs of Argo CD and Argo Rollouts",
}
STAGING_STACK = "staging"
STACKS = (PULUMI_STACK, STAGING_STACK)
STACK_CHOICES = (*STACKS, "all")


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: the check, how it ended, what it saw, and what to do (None when nothing)."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0]

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.PASSED, detail)


def failed(name: str, detail: str, fix: str | None) -> CheckResult:
    return CheckResult(name, Status.FAILED, detail, fix)


def skipped(name: str, detail: str, fix: str | None = None) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, detail, fix)


@dataclass(frozen=True)
class Scope:
    """Which groups run, and for which stacks."""

    groups: tuple[str, ...]
    stacks: tuple[str, ...]

    def runs(self, group: str) -> bool:
        return group in self.groups


def parse_scope(only: str | None, stack: str) -> Scope:
    """`--only github,registry` (every group when None) and `--stack prod|staging|all`; InputError otherwise."""
    if stack not in STACK_CHOICES:
        raise InputError(f"--stack {stack!r} is not a stack", hint=f"use one of {', '.join(STACK_CHOICES)}")
    stacks = STACKS if stack == "all" else (stack,)
    if only is None:
        return Scope(tuple(GROUPS), stacks)
    asked = [part.strip() for part in only.split(",") if part.strip()]
    unknown = [group for group in asked if group not in GROUPS]
    if unknown or not asked:
        raise InputError(
            f"--only {only!r} names no group of checks" if not asked else f"--only: unknown group {unknown[0]!r}",
            hint=f"the groups are {', '.join(GROUPS)} (comma-separated)",
        )
    return Scope(tuple(group for group in GROUPS if group in asked), stacks)


@dataclass(frozen=True)
class TeamSetting:
    """A team the stack config names by slug and id, and where (for the `pulumi config set` that fixes it)."""

    slug: str
    id: int
    path: str  # e.g. percolate-platform:releaseManagers.teams[0]


@dataclass(frozen=True)
class StackFacts:
    """What one stack file says that the checks read further: where its manifests are, whether it rolls out by
    canary, and (prod) the repository and its release teams."""

    stack: str
    file: str
    manifests_repo: str
    base_path: str
    target_revision: str
    argocd_namespace: str
    canaries: tuple[str, ...] = ()  # projects rolled out by canary steps
    rollouts_installed: bool = False  # the program installs the Argo Rollouts controller
    repository: str | None = None  # OWNER/NAME (the prod stack configures the repository)
    teams: tuple[TeamSetting, ...] = ()


def exit_code(results: Iterable[CheckResult]) -> int:
    """1 while any check failed, else 0: a skipped check does not fail the run."""
    return 1 if any(result.status is Status.FAILED for result in results) else 0


def summary(results: Iterable[CheckResult]) -> str:
    counted = {status: 0 for status in Status}
    for result in results:
        counted[result.status] += 1
    return ", ".join(f"{count} {status.value}" for status, count in counted.items())


def render(results: list[CheckResult]) -> str:
    """The report for people: a line per check, the fix indented below it (a fix the line before gave too is
    not repeated), and the counts."""
    width = max((len(result.name) for result in results), default=0)
    lines = []
    previous = None
    for result in results:
        label = "FAILED" if result.status is Status.FAILED else result.status.value
        lines.append(f"{label:<8} {result.name:<{width}}  {result.detail}")
        if result.fix:
            lines.append(f"{'':<8} {'':<{width}}  fix: {'as above' if result.fix == previous else result.fix}")
        previous = result.fix
    lines.append(summary(results))
    return "\n".join(lines)
