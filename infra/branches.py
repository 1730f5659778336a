"""Branch protection on main: one approving review, required status checks, administrators included."""

from __future__ import annotations

import pulumi
import pulumi_github as github

MAIN_BRANCH = "main"
REQUIRED_APPROVALS = 1


class MainBranchProtection(pulumi.ComponentResource):
    """Pull requests into main need an approval (stale ones dismissed) and the required checks on an up-to-date branch.

    The checks are job names of our workflows (tests prove each exists); admins are held to the same rules.
    """

    def __init__(
        self,
        name: str,
        repository_node_id: pulumi.Input[str],
        required_checks: tuple[str, ...],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:github:MainBranchProtection", name, None, opts)
        self.protection = github.BranchProtection(
            name,
            repository_id=repository_node_id,
            pattern=MAIN_BRANCH,
            enforce_admins=True,
            allows_deletions=False,
            allows_force_pushes=False,
            require_conversation_resolution=True,
            required_pull_request_reviews=[
                {"required_approving_review_count": REQUIRED_APPROVALS, "dismiss_stale_reviews": True}
            ],
            required_status_checks=[{"strict": True, "contexts": list(required_checks)}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"pattern": MAIN_BRANCH})
