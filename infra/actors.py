"""Resolving the people named in config (GitHub logins and team slugs) to the numeric ids GitHub's APIs take."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github

from infra.config import Actors


@dataclass(frozen=True)
class ResolvedActors:
    users: tuple[int, ...]
    teams: tuple[int, ...]


def resolve_actors(actors: Actors, provider: pulumi.ProviderResource) -> ResolvedActors:
    """Look every login and team slug up through the GitHub provider (a failed lookup fails the run)."""
    options = pulumi.InvokeOptions(provider=provider)
    users = tuple(int(github.get_user(username=login, opts=options).id) for login in actors.users)
    teams = tuple(int(github.get_team(slug=slug, summary_only=True, opts=options).id) for slug in actors.teams)
    return ResolvedActors(users, teams)
