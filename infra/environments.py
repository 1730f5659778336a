"""Deployment environments: `production` behind required reviewers, `staging` for release candidates.

Which refs may deploy is a list of Ruby `File.fnmatch` patterns (GitHub's syntax). A
release tag `{project}-vX.Y.Z` must match and an RC tag `…-rcN` must not, so the
patch number is matched as one to three digits rather than with a trailing `*`
(which would also match `3-rc1`).
"""

from __future__ import annotations

import re

import pulumi
import pulumi_github as github

from infra.actors import ResolvedActors
from infra.branches import MAIN_BRANCH
from pipelines.core.catalog import PRODUCTION_ENVIRONMENT, PROJECTS, STAGING_ENVIRONMENT

PATCH_DIGITS = 3


def release_tag_patterns() -> tuple[str, ...]:
    """Tags of final releases of every catalog project (patch numbers up to 999)."""
    return tuple(
        f"{project.name}-v*.*.{'[0-9]' * digits}" for project in PROJECTS for digits in range(1, PATCH_DIGITS + 1)
    )


def rc_tag_patterns() -> tuple[str, ...]:
    """Tags of release candidates of every catalog project."""
    return tuple(f"{project.name}-v*.*.*-rc[1-9]*" for project in PROJECTS)


class DeploymentEnvironments(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        repository: pulumi.Input[str],
        reviewers: ResolvedActors,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:github:DeploymentEnvironments", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        custom_refs: github.RepositoryEnvironmentDeploymentBranchPolicyArgsDict = {
            "protected_branches": False,
            "custom_branch_policies": True,
        }
        production = github.RepositoryEnvironment(
            f"{name}-{PRODUCTION_ENVIRONMENT}",
            repository=repository,
            environment=PRODUCTION_ENVIRONMENT,
            reviewers=[{"users": list(reviewers.users), "teams": list(reviewers.teams)}],
            prevent_self_review=True,
            can_admins_bypass=False,
            deployment_branch_policy=custom_refs,
            opts=child,
        )
        staging = github.RepositoryEnvironment(
            f"{name}-{STAGING_ENVIRONMENT}",
            repository=repository,
            environment=STAGING_ENVIRONMENT,
            can_admins_bypass=False,
            deployment_branch_policy=custom_refs,
            opts=child,
        )
        self._policies(f"{name}-{PRODUCTION_ENVIRONMENT}", production, repository, release_tag_patterns(), MAIN_BRANCH)
        self._policies(f"{name}-{STAGING_ENVIRONMENT}", staging, repository, rc_tag_patterns(), None)
        self.register_outputs({})

    def _policies(
        self,
        prefix: str,
        environment: github.RepositoryEnvironment,
        repository: pulumi.Input[str],
        tag_patterns: tuple[str, ...],
        branch: str | None,
    ) -> None:
        refs = [("branch", branch)] if branch is not None else []
        refs += [("tag", pattern) for pattern in tag_patterns]
        for kind, pattern in refs:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{prefix}-{kind}-{re.sub('[^A-Za-z0-9]+', '-', pattern).strip('-')}",
                repository=repository,
                environment=environment.environment,
                opts=pulumi.ResourceOptions(parent=self),
                **{f"{kind}_pattern": pattern},
            )
