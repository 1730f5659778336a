"""preflight's stacks group: each stack file validated as `pulumi up` validates it (the Pulumi program's own
infra.config and infra.staging, over the one stack-file reader), and what the other groups need of it."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.errors import PipelineError
from pipelines.plan.preflight import STAGING_STACK, CheckResult, StackFacts, TeamSetting, failed, passed


def read_stack(root: Path, stack: str) -> tuple[CheckResult, StackFacts | None]:
    """The stack file validated as `pulumi up` validates it, and what the other checks need of it."""
    from infra.config import parse_settings
    from infra.render import read_stack_file
    from infra.staging import ENVIRONMENT_KEY, is_staging, parse_staging_settings

    file, name = f"Pulumi.{stack}.yaml", f"stacks.{stack}"
    if not (root / file).is_file():
        return failed(name, f"{file} does not exist in {root}", f"create it: `pulumi stack init {stack}`"), None
    try:
        config = read_stack_file(root / file)
        secret_keys = set(config.secret_keys)
        if is_staging(config.values) != (stack == STAGING_STACK):
            says = "does not say" if stack == STAGING_STACK else "says"
            return failed(
                name, f"{file} {says} {ENVIRONMENT_KEY}: staging", f"correct {ENVIRONMENT_KEY} in {file}"
            ), None
        if stack == STAGING_STACK:
            argocd = parse_staging_settings(config.values, secret_keys).argocd
            where = (argocd.manifests_repo, argocd.base_path, argocd.target_revision, argocd.namespace)
            facts = StackFacts(stack, file, *where)
        else:
            settings = parse_settings(config.values, secret_keys)
            argocd = settings.argocd
            where = (argocd.manifests_repo, argocd.base_path, argocd.target_revision, argocd.namespace)
            roles = (
                ("releaseManagers", settings.release_managers),
                ("productionReviewers", settings.production_reviewers),
            )
            teams = tuple(
                TeamSetting(team.slug, team.id, f"percolate-platform:{key}.teams[{index}]")
                for key, actors in roles
                for index, team in enumerate(actors.teams)
            )
            canaries = tuple(sorted(settings.canaries))
            install = settings.argo_rollouts.install
            facts = StackFacts(stack, file, *where, canaries, install, settings.repository.full_name, teams)
    except PipelineError as error:
        return failed(name, error.message, error.hint), None
    canary = f"; canary: {', '.join(facts.canaries)}" if facts.canaries else ""
    detail = f"{file} is valid: Argo CD renders {facts.base_path} of {facts.manifests_repo} at {facts.target_revision}"
    return passed(name, detail + canary), facts
