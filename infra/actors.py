"""The people named in config as the numeric ids GitHub's APIs take: logins looked up, team ids from config.

A login is public (any token may read `GET /users/{login}`), so it is looked up. A team's
slug is not: reading it needs the organization permission Members: read, which the
`GITHUB_TOKEN` of a pull request's preview can never hold. Teams therefore carry their id in
config; `pulumi up` (never a preview) checks that each slug still has that id, so a team
renamed or recreated stops the run before anyone gets or loses a right by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github

from infra.config import Actors
from pipelines.core.errors import RuleRefused


@dataclass(frozen=True)
class ResolvedActors:
    users: tuple[int, ...]
    teams: tuple[int, ...]


def resolve_actors(actors: Actors, provider: pulumi.ProviderResource, *, check_teams: bool) -> ResolvedActors:
    """Look every login up through the GitHub provider; take team ids from config, checked when `check_teams`."""
    options = pulumi.InvokeOptions(provider=provider)
    users = tuple(int(github.get_user(username=login, opts=options).id) for login in actors.users)
    if check_teams:
        for team in actors.teams:
            found = int(github.get_team(slug=team.slug, summary_only=True, opts=options).id)
            if found != team.id:
                refused = RuleRefused(
                    f"team {team.slug} has id {found} on GitHub, but the stack config says {team.id}",
                    hint=f"if {team.slug} is the team you mean, set its id in the stack config "
                    f"(gh api orgs/ORG/teams/{team.slug} --jq .id), in a reviewed pull request",
                )
                raise pulumi.RunError(str(refused)) from refused
    return ResolvedActors(users, tuple(team.id for team in actors.teams))
