"""Release tags (`*-v*`): only release managers create them; nobody moves or deletes them.

Two tag rulesets, because bypass actors bypass every rule of a ruleset: one restricts
creation with the release managers as its only bypass actors; the other forbids
updates and deletions and has no bypass actors at all. Pushing such a tag starts a
build (`-rcN`) or a release.
"""

from __future__ import annotations

import pulumi
import pulumi_github as github

from infra.actors import ResolvedActors

RELEASE_TAG_PATTERN = "refs/tags/*-v*"


def bypass_actors(actors: ResolvedActors) -> list[github.RepositoryRulesetBypassActorArgsDict]:
    found: list[github.RepositoryRulesetBypassActorArgsDict] = []
    for actor_type, ids in (("User", actors.users), ("Team", actors.teams)):
        found += [{"actor_type": actor_type, "actor_id": actor_id, "bypass_mode": "always"} for actor_id in ids]
    return found


class ReleaseTagRules(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        repository: pulumi.Input[str],
        release_managers: ResolvedActors,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:github:ReleaseTagRules", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        conditions: github.RepositoryRulesetConditionsArgsDict = {
            "ref_name": {"includes": [RELEASE_TAG_PATTERN], "excludes": []}
        }
        github.RepositoryRuleset(
            f"{name}-create",
            name="release tags: created by release managers only",
            repository=repository,
            target="tag",
            enforcement="active",
            conditions=conditions,
            rules={"creation": True},
            bypass_actors=bypass_actors(release_managers),
            opts=child,
        )
        github.RepositoryRuleset(
            f"{name}-immutable",
            name="release tags: never moved or deleted",
            repository=repository,
            target="tag",
            enforcement="active",
            conditions=conditions,
            rules={"update": True, "deletion": True, "non_fast_forward": True},
            opts=child,
        )
        self.register_outputs({"pattern": RELEASE_TAG_PATTERN})
