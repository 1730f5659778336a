"""GitHub Pages for the release dashboard: published by the `pages.yml` workflow (build type `workflow`),
from its `github-pages` environment, which only `main`, release tags and RC tags may deploy to.

Pages is its own `RepositoryPages` resource: the Repository's `pages` block is deprecated in
pulumi-github 6.x. GitHub creates the `github-pages` environment when Pages is enabled; declaring it
here (an idempotent update) pins which refs may deploy: the workflow runs on pushes to main, and as the
last job of the RC build and release workflows, whose runs are on their RC or release tag; a tag the
environment does not admit would be refused at the deploy job.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_github as github

from infra.branches import MAIN_BRANCH
from infra.environments import rc_tag_patterns, release_tag_patterns

PAGES_ENVIRONMENT = "github-pages"


class PagesSite(pulumi.ComponentResource):
    def __init__(self, name: str, repository: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("percolate:github:PagesSite", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pages = github.RepositoryPages(name, repository=repository, build_type="workflow", opts=child)
        environment = github.RepositoryEnvironment(
            f"{name}-{PAGES_ENVIRONMENT}",
            repository=repository,
            environment=PAGES_ENVIRONMENT,
            can_admins_bypass=False,
            deployment_branch_policy={"protected_branches": False, "custom_branch_policies": True},
            opts=child,
        )
        tags = (*release_tag_patterns(), *rc_tag_patterns())
        refs = [("branch", MAIN_BRANCH)] + [("tag", pattern) for pattern in tags]
        for kind, pattern in refs:
            github.RepositoryEnvironmentDeploymentPolicy(
                f"{name}-{kind}-{re.sub('[^A-Za-z0-9]+', '-', pattern).strip('-')}",
                repository=repository,
                environment=environment.environment,
                opts=child,
                **{f"{kind}_pattern": pattern},
            )
        self.register_outputs({})
