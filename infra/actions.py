"""The repository's GitHub Actions policy: token defaults, allowed actions pinned by SHA, fork pull requests."""

from __future__ import annotations

import pulumi
import pulumi_github as github

from infra.config import ActionsConfig, RepositoryConfig
from infra.forkprs import ForkPullRequestSettings


class ActionsPolicy(pulumi.ComponentResource):
    """Default token read and write and Actions may open and approve pull requests, as the seed asks (our
    workflows still declare least privilege per job); only GitHub's own and the listed actions run, every
    one pinned to a full commit SHA; fork pull requests are as restricted as the repository's visibility allows.
    """

    def __init__(
        self,
        name: str,
        repository: RepositoryConfig,
        repository_name: pulumi.Input[str],
        config: ActionsConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:github:ActionsPolicy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        github.ActionsRepositoryPermissions(
            f"{name}-permissions",
            repository=repository_name,
            enabled=True,
            allowed_actions="selected",
            allowed_actions_config={
                "github_owned_allowed": True,
                "verified_allowed": config.verified_allowed,
                "patterns_alloweds": list(config.allowed_actions),
            },
            sha_pinning_required=True,
            opts=child,
        )
        github.WorkflowRepositoryPermissions(
            f"{name}-workflow-permissions",
            repository=repository_name,
            default_workflow_permissions="write",
            can_approve_pull_request_reviews=True,
            opts=child,
        )
        ForkPullRequestSettings(
            f"{name}-fork-pull-requests",
            owner=repository.owner,
            repository=repository_name,
            private=repository.private,
            opts=child,
        )
        self.register_outputs({})
