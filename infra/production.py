"""The prod stack: the GitHub repository's settings and the Argo CD Applications pinned to released digests.

GitHub settings are declared here only (the staging stack declares none). The pins are the
`percolate-platform:images` subtree the release jobs write back; each is cross-checked against
its release tag in the registry unless `registryCheck: false`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_github as github

from infra.actions import ActionsPolicy
from infra.actors import resolve_actors
from infra.argocd import ArgoCd
from infra.branches import MainBranchProtection
from infra.config import SECRETS, parse_settings
from infra.digest_check import verify_pins
from infra.environments import DeploymentEnvironments
from infra.namespaces import OwnedNamespaces
from infra.pages import PagesSite
from infra.release_tags import RELEASE_TAG_PATTERN, ReleaseTagRules
from infra.repository import RepositorySettings
from infra.rollouts import ArgoRollouts, canary_namespaces
from infra.secrets import ActionsSecrets
from pipelines.core.errors import PipelineError
from pipelines.wheels.trusted_publishers import expected_publishers


def declare_production(values: Mapping[str, Any], secret_keys: set[str]) -> None:
    """Validate the prod stack's config, then declare its GitHub settings and Argo CD Applications."""
    try:
        settings = parse_settings(values, secret_keys)
        if settings.registry_check:
            verify_pins(settings.images)
    except PipelineError as error:
        raise pulumi.RunError(str(error)) from error

    config = pulumi.Config()
    provider = github.Provider("github", owner=settings.repository.owner)
    on_github = pulumi.ResourceOptions(providers=[provider])

    repository = RepositorySettings("repository", settings.repository, on_github)
    MainBranchProtection("main-branch", repository.node_id, settings.required_checks, on_github)
    # Team ids come from config; only `pulumi up` (whose token may read the organization) checks them.
    check_teams = not pulumi.runtime.is_dry_run()
    release_managers = resolve_actors(settings.release_managers, provider, check_teams=check_teams)
    ReleaseTagRules("release-tags", repository.name, release_managers, on_github)
    ActionsPolicy("actions", settings.repository, repository.name, settings.actions, on_github)
    DeploymentEnvironments(
        "environments",
        repository.name,
        resolve_actors(settings.production_reviewers, provider, check_teams=check_teams),
        on_github,
    )
    PagesSite("pages", repository.name, on_github)
    ActionsSecrets(
        "secrets",
        repository.name,
        repository.repo_id,
        {SECRETS[key]: config.require_secret(key) for key in settings.secrets},
        settings.secrets_at_organization,
        on_github,
    )
    pins = {pin.project: pin for pin in settings.images}
    namespaces = OwnedNamespaces(
        "namespaces",
        canary_namespaces(settings.argocd, settings.canaries),
        {"app.kubernetes.io/part-of": settings.argocd.project},
    )
    argocd = ArgoCd("argocd", settings.argocd, pins, canaries=settings.canaries, namespaces=namespaces)
    ArgoRollouts("argo-rollouts", settings.argocd, settings.argo_rollouts, settings.canaries, namespaces)

    pulumi.export("repository", settings.repository.full_name)
    pulumi.export("requiredChecks", list(settings.required_checks))
    pulumi.export("releaseTagPattern", RELEASE_TAG_PATTERN)
    pulumi.export("argocdImages", argocd.images)
    pulumi.export(
        "trustedPublishers",
        [publisher.to_dict() for publisher in expected_publishers(settings.repository.owner, settings.repository.name)],
    )
