"""Teams carry their numeric id in config: a pull request's preview (no organization access) looks
nothing up, and `pulumi up` checks each slug still has the configured id before anything changes."""

from __future__ import annotations

import pytest

from infra.config import parse_settings
from pipelines.core.errors import InputError, RuleRefused

NS = "percolate-platform"
GET_TEAM = "github:index/getTeam:getTeam"


def test_a_preview_uses_the_configured_team_ids_without_reading_the_organization(config, render, answers, ids):
    lookups = answers()
    config[f"{NS}:images"] = {}
    rendering = render(config, lookups, preview=True)
    assert [token for token, _ in lookups.calls if token == GET_TEAM] == []
    environment = rendering.named("github:index/repositoryEnvironment:RepositoryEnvironment", "environments-production")
    assert environment.inputs["reviewers"][0]["teams"] == [ids["teams"]["platform"]]


def test_an_up_checks_every_team_slug_against_its_configured_id(config, render, answers):
    lookups = answers()
    config[f"{NS}:images"] = {}
    render(config, lookups, preview=False)
    checked = sorted(args["slug"] for token, args in lookups.calls if token == GET_TEAM)
    assert checked == ["platform", "release-managers"]


def test_an_up_stops_when_a_slug_has_another_id(config, render, answers):
    config[f"{NS}:images"] = {}
    config[f"{NS}:productionReviewers"]["teams"] = [{"slug": "platform", "id": 9999}]
    with pytest.raises(RuleRefused) as raised:
        render(config, answers(), preview=False)
    assert raised.value.message == "team platform has id 2002 on GitHub, but the stack config says 9999"
    assert "gh api orgs/ORG/teams/platform --jq .id" in str(raised.value.hint)


@pytest.mark.parametrize(
    ("teams", "problem", "fix"),
    [
        (["release-managers"], "has no team id", "gh api orgs/percolation-labs/teams/release-managers --jq .id"),
        ([{"slug": "release-managers"}], "releaseManagers.teams[0].id: missing", "1234567"),
        ([{"slug": "release-managers", "id": "2001"}], "'2001' is not a team id", "--jq .id"),
        ([{"slug": "release-managers", "id": 0}], "0 is not a team id", "--jq .id"),
        ([{"slug": "Release Managers", "id": 1}], "teams[0].slug", "release-managers"),
        ([{"slug": "release-managers", "id": 1, "name": "x"}], "teams[0].name: unknown key", "slug, id"),
    ],
)
def test_a_team_without_a_valid_id_is_a_config_error(config, settings_input, teams, problem, fix):
    config[f"{NS}:releaseManagers"]["teams"] = teams
    with pytest.raises(InputError) as raised:
        parse_settings(*settings_input(config))
    assert problem in raised.value.message
    assert fix in str(raised.value.hint)
