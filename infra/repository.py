"""The repository itself: merge options, branch clean-up, vulnerability alerts and GitHub's security features."""

from __future__ import annotations

import pulumi
import pulumi_github as github

from infra.config import RepositoryConfig

ENABLED = "enabled"


class RepositorySettings(pulumi.ComponentResource):
    """Squash merges only (the PR title becomes the commit), branches deleted on merge, security features on.

    The repository exists before the first `pulumi up`: it is imported once (docs/infra.md),
    protected from deletion, and archived rather than deleted should it ever leave the program.
    """

    def __init__(self, name: str, config: RepositoryConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("percolate:github:RepositorySettings", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        security: github.RepositorySecurityAndAnalysisArgsDict = {
            "secret_scanning": {"status": ENABLED},
            "secret_scanning_push_protection": {"status": ENABLED},
        }
        if config.private:
            # Public repositories always have advanced security; GitHub refuses the setting for them.
            security["advanced_security"] = {"status": ENABLED}
        self.repository = github.Repository(
            name,
            name=config.name,
            description=config.description,
            visibility=config.visibility,
            allow_merge_commit=False,
            allow_rebase_merge=False,
            allow_squash_merge=True,
            squash_merge_commit_title="PR_TITLE",
            squash_merge_commit_message="PR_BODY",
            allow_update_branch=True,
            allow_auto_merge=False,
            delete_branch_on_merge=True,
            has_issues=True,
            has_wiki=False,
            vulnerability_alerts=True,
            security_and_analysis=security,
            archive_on_destroy=True,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=True)),
        )
        github.RepositoryDependabotSecurityUpdates(
            f"{name}-dependabot-security-updates", repository=self.repository.name, enabled=True, opts=child
        )
        self.name = self.repository.name
        self.node_id = self.repository.node_id
        self.repo_id = self.repository.repo_id
        self.register_outputs({"name": self.name, "repoId": self.repo_id})
