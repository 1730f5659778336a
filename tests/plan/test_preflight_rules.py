"""The preflight plan and rules (pipelines/plan/preflight.py, preflight_rules.py), pure, and the GitHub reads'
checks of an answer's shape (pipelines/edges/github_settings.py) against a loopback server."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from infra.config import SECRETS
from infra.pages import PAGES_ENVIRONMENT
from kit.loopback import reply, serving
from pipelines.core.catalog import PRODUCTION_ENVIRONMENT, STAGING_ENVIRONMENT
from pipelines.core.errors import Corrupt, InputError
from pipelines.edges import github_settings
from pipelines.edges.github import GitHubApi
from pipelines.edges.http import HttpClient, RetryPolicy
from pipelines.plan.preflight import (
    GROUPS,
    STACKS,
    StackFacts,
    Status,
    TeamSetting,
    exit_code,
    failed,
    parse_scope,
    passed,
    render,
    skipped,
)
from pipelines.plan.preflight_rules import (
    ManagedSecret,
    github_repository,
    judge_crds,
    judge_environment_secrets,
    judge_repository_secrets,
    judge_team,
    rollouts_fix,
    secret_needs,
    serves,
)
from tests.conftest import REPO_ROOT
from tests.plan.conftest import UPSTREAM_CRDS
from tests.workflows.conftest import load_yaml

MANAGED = frozenset(SECRETS.values())


def the_workflows() -> dict[str, object]:
    return {path.name: load_yaml(path) for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))}


def test_the_workflows_need_what_the_docs_say_each_environment_holds():
    needs = secret_needs(the_workflows())
    own = {environment: sorted(needs.of(environment) - MANAGED) for environment in needs.environments}
    assert own == {
        PAGES_ENVIRONMENT: [],
        PRODUCTION_ENVIRONMENT: ["INFRA_GITHUB_TOKEN", "KUBECONFIG"],
        STAGING_ENVIRONMENT: ["STAGING_KUBECONFIG"],
    }
    assert "PERCOLATE_GIT_PAT" in needs.anywhere and "GITHUB_TOKEN" not in needs.anywhere


def test_the_environments_checked_are_those_the_program_declares():
    # infra/environments.py declares production and staging, infra/pages.py github-pages.
    assert set(secret_needs(the_workflows()).environments) == {
        PRODUCTION_ENVIRONMENT,
        STAGING_ENVIRONMENT,
        PAGES_ENVIRONMENT,
    }


def test_secret_needs_reads_every_string_of_a_job_and_skips_an_environment_chosen_at_run_time():
    workflows = {
        "a.yml": {
            "jobs": {
                "x": {"environment": {"name": "production"}, "steps": [{"env": {"A": "${{ secrets.ONE }}"}}]},
                "y": {"environment": "${{ inputs.where }}", "steps": [{"with": {"b": "${{ secrets.TWO }}"}}]},
                "z": {"steps": [{"run": "echo", "env": {"C": "${{ secrets.GITHUB_TOKEN }}"}}]},
            }
        },
        "broken.yml": "not a workflow",
    }
    needs = secret_needs(workflows)
    assert needs.by_environment == (("production", frozenset({"ONE"})),)
    assert needs.anywhere == {"ONE", "TWO"}


def test_an_organization_secret_counts_and_optional_ones_are_only_noted():
    managed = [ManagedSecret("PERCOLATE_GIT_PAT", "percolate-platform:percolateGitPat", True)]
    managed.append(ManagedSecret("SLACK_WEBHOOK_URL", "percolate-platform:slackWebhookUrl", False))
    result = judge_repository_secrets(
        "o/r", managed, frozenset({"SLACK_WEBHOOK_URL"}), frozenset({"PERCOLATE_GIT_PAT"})
    )
    assert result.status is Status.PASSED
    assert result.detail.endswith("optional and not set: SLACK_WEBHOOK_URL")


def test_an_environment_whose_jobs_read_nothing_of_their_own_passes_without_a_read():
    result = judge_environment_secrets("github-pages", frozenset({"PERCOLATE_GIT_PAT"}), MANAGED, frozenset(), MANAGED)
    assert result.status is Status.PASSED


def test_a_team_that_is_not_there_and_one_named_twice_with_two_ids():
    missing = judge_team("labs", "ops", [TeamSetting("ops", 7, "percolate-platform:releaseManagers.teams[0]")], None)
    assert missing.status is Status.FAILED and "has no team ops" in missing.detail
    twice = [
        TeamSetting("ops", 7, "percolate-platform:releaseManagers.teams[0]"),
        TeamSetting("ops", 8, "percolate-platform:productionReviewers.teams[0]"),
    ]
    result = judge_team("labs", "ops", twice, 7)
    assert result.status is Status.FAILED
    assert result.fix == "pulumi config set --path 'percolate-platform:productionReviewers.teams[0].id' 7 --stack prod"


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/percolation-labs/percolate-cloud.git", "percolation-labs/percolate-cloud"),
        ("https://github.com/percolation-labs/percolate-cloud", "percolation-labs/percolate-cloud"),
        ("git@github.com:percolation-labs/percolate-cloud.git", "percolation-labs/percolate-cloud"),
        ("ssh://git@github.com/percolation-labs/cloud.v2.git", "percolation-labs/cloud.v2"),
        ("https://gitlab.com/percolation-labs/percolate-cloud.git", None),
        ("https://github.com/percolation-labs", None),
    ],
)
def test_the_manifests_repository_on_github(url, repository):
    assert github_repository(url) == repository


def test_the_upstream_crds_serve_the_version_the_program_uses_and_a_retired_one_does_not():
    assert all(serves(document, "v1alpha1") for document in UPSTREAM_CRDS.values())
    retired = json.loads(json.dumps(UPSTREAM_CRDS["rollouts.argoproj.io"]))
    for version in retired["spec"]["versions"]:
        version["served"] = False
    assert not serves(retired, "v1alpha1") and not serves(None, "v1alpha1")
    result = judge_crds(
        "clusters.prod.rollouts", "the prod cluster", {"rollouts.argoproj.io": retired}, "v1alpha1", "x"
    )
    assert result.status is Status.FAILED and "do(es) not serve v1alpha1" in result.detail


def test_rollouts_are_needed_only_where_a_canary_is_configured():
    plain = StackFacts("staging", "Pulumi.staging.yaml", "https://github.com/o/r.git", "apps/staging", "main", "argocd")
    assert isinstance(rollouts_fix("clusters.staging.rollouts", plain), type(skipped("", "")))
    canary = StackFacts("prod", "Pulumi.prod.yaml", "u", "apps/prod", "main", "argocd", ("percolate-reading",))
    assert "install Argo Rollouts" in str(rollouts_fix("clusters.prod.rollouts", canary))
    assert rollouts_fix("x", None).status is Status.SKIPPED  # type: ignore[union-attr]


def test_scope_by_group_and_stack():
    assert parse_scope(None, "all").groups == tuple(GROUPS) and parse_scope(None, "all").stacks == STACKS
    chosen = parse_scope(" clusters , stacks", "staging")
    assert (chosen.groups, chosen.stacks) == (("stacks", "clusters"), ("staging",))
    with pytest.raises(InputError, match="unknown group 'cluster'"):
        parse_scope("cluster", "all")
    with pytest.raises(InputError, match="is not a stack"):
        parse_scope(None, "qa")


def test_exit_code_and_report():
    results = [
        passed("a.one", "fine"),
        skipped("a.two", "no token", "set it"),
        skipped("a.three", "no token", "set it"),
    ]
    assert exit_code(results) == 0  # skipped does not fail
    assert exit_code([*results, failed("b", "broken", "mend it")]) == 1
    text = render(results)
    assert "fix: set it" in text and "fix: as above" in text
    assert text.splitlines()[-1] == "1 passed, 0 failed, 2 skipped"


@pytest.mark.parametrize(
    "answer",
    [
        {"environments": [{"name": "production"}]},  # no total_count
        {"total_count": 1, "environments": {"name": "production"}},
        {"total_count": 1, "environments": [{"id": 1}]},
        ["production"],
    ],
)
def test_a_listing_of_the_wrong_shape_is_corrupt(answer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply(self, 200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    with serving(Handler) as url:
        api = GitHubApi(url, "token-Qz7Xk2Lp9W", http=HttpClient(policy=RetryPolicy(max_time=5)), rights_hint="r")
        with pytest.raises(Corrupt, match="GitHub API GET /repos/o/r/environments"):
            github_settings.environments(api, "o/r")
        api.close()


def test_a_team_answer_without_an_id_and_a_file_where_a_folder_belongs():
    answers = {
        "/orgs/o/teams/t": {"slug": "t"},
        "/repos/o/m/contents/apps/prod/x": {"type": "file", "name": "x"},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply(
                self, 200, json.dumps(answers[self.path.split("?")[0]]).encode(), {"Content-Type": "application/json"}
            )

    with serving(Handler) as url:
        api = GitHubApi(url, "token-Qz7Xk2Lp9W", http=HttpClient(policy=RetryPolicy(max_time=5)), rights_hint="r")
        with pytest.raises(Corrupt, match="without a team id"):
            github_settings.team_id(api, "o", "t")
        assert github_settings.folder(api, "o/m", "apps/prod/x", "main") == ()
        api.close()
