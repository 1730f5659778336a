"""The Pulumi program's entry point; run by a person (`python -m infra render …`) it is the offline review instead.

Pulumi runs this file with its engine attached (a resource monitor): then it reads
and validates the stack config and wires the components. Nothing here decides a
setting; each component module owns its concern.
"""

import sys

from pulumi.runtime.settings import get_monitor

if get_monitor() is None:
    from infra.render import main

    sys.exit(main())

import pulumi
import pulumi_github as github

from infra.actions import ActionsPolicy
from infra.actors import resolve_actors
from infra.argocd import ArgoCd
from infra.branches import MainBranchProtection
from infra.config import SECRETS, parse_settings, read_stack_config
from infra.digest_check import verify_pins
from infra.environments import DeploymentEnvironments
from infra.pages import PagesSite
from infra.release_tags import RELEASE_TAG_PATTERN, ReleaseTagRules
from infra.repository import RepositorySettings
from infra.rollouts import ArgoRollouts
from infra.secrets import ActionsSecrets
from pipelines.core.errors import PipelineError
from pipelines.wheels.trusted_publishers import expected_publishers

try:
    settings = parse_settings(*read_stack_config())
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
argocd = ArgoCd("argocd", settings.argocd, {pin.project: pin for pin in settings.images}, canaries=settings.canaries)
ArgoRollouts("argo-rollouts", settings.argocd, settings.argo_rollouts, settings.canaries)

pulumi.export("repository", settings.repository.full_name)
pulumi.export("requiredChecks", list(settings.required_checks))
pulumi.export("releaseTagPattern", RELEASE_TAG_PATTERN)
pulumi.export("argocdImages", argocd.images)
pulumi.export(
    "trustedPublishers",
    [publisher.to_dict() for publisher in expected_publishers(settings.repository.owner, settings.repository.name)],
)
