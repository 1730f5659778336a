"""GitHub Pages for the dashboard: published by a workflow, from an environment that main, release tags and
RC tags (and nothing else) may deploy to: pages.yml runs on main and as the last job of the RC build and
release workflows, whose runs are on their tags."""

from __future__ import annotations

from fnmatch import fnmatchcase

POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"


def test_pages_are_built_by_a_workflow(config, render):
    rendering = render(config)
    [pages] = rendering.of_type("github:index/repositoryPages:RepositoryPages")
    assert pages.inputs == {"repository": "percolate", "buildType": "workflow"}
    repository = rendering.named("github:index/repository:Repository", "repository")
    assert "pages" not in repository.inputs  # the deprecated block stays unused


def test_only_main_release_and_rc_tags_may_deploy_the_site(config, render):
    rendering = render(config)
    [environment] = [
        r
        for r in rendering.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
        if r.inputs["environment"] == "github-pages"
    ]
    assert environment.inputs["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}
    policies = [p.inputs for p in rendering.of_type(POLICY) if p.inputs["environment"] == "github-pages"]
    assert [p["branchPattern"] for p in policies if "branchPattern" in p] == ["main"]
    tags = [p["tagPattern"] for p in policies if "tagPattern" in p]
    for tag, admitted in (
        ("percolate-v0.3.1", True),
        ("percolate-reading-v1.20.300", True),
        ("percolate-rocks-v0.2.0", True),
        ("percolate-v0.3.1-rc1", True),  # an RC build's run calls pages.yml
        ("percolate-rocks-v0.2.0-rc12", True),
        ("percolate-v0.3.1-rc0", False),
        ("v1.0.0", False),
        ("other-v1.0.0-rc1", False),
    ):
        assert any(fnmatchcase(tag, pattern) for pattern in tags) is admitted, tag
