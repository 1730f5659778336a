"""The stack config, validated up front into frozen typed settings before any resource is declared.

`parse_settings` is pure: it takes the config as Pulumi hands it over (every key
`namespace:name`, structured values as JSON text) and the set of keys holding
secrets, and returns `StackSettings` or raises `InputError` naming the key and the
fix. Secret values never enter the settings: only which secrets are set; the
program reads the values as Pulumi secrets. `read_stack_config` is the edge that
collects the config from the Pulumi runtime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.canary_settings import ArgoRolloutsConfig, parse_argo_rollouts
from pipelines.core.catalog import PULUMI_PROJECT, image_projects
from pipelines.core.config_fields import MISSING, ConfigObject, config_error
from pipelines.core.names import DNS_LABEL, GITHUB_LOGIN, GITHUB_REPOSITORY_NAME
from pipelines.deploy.canary import CANARY_KEY, Canary, parse_canaries
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_images

NAMESPACE = PULUMI_PROJECT
# Secret config key -> the Actions secret it becomes.
SECRETS = {
    "percolateGitPat": "PERCOLATE_GIT_PAT",
    "pypiApiToken": "PYPI_API_TOKEN",
    "testPypiApiToken": "TEST_PYPI_API_TOKEN",
    # Optional: release notifications (python -m pipelines notify); the URL's path is the credential.
    "slackWebhookUrl": "SLACK_WEBHOOK_URL",
    "discordWebhookUrl": "DISCORD_WEBHOOK_URL",
}
REQUIRED_SECRETS = ("percolateGitPat",)
KEYS = (
    "repository",
    "requiredChecks",
    "releaseManagers",
    "productionReviewers",
    "actions",
    "secretsAtOrganization",
    "argocd",
    "registryCheck",
    "images",
    "canary",
    "argoRollouts",
    *SECRETS,
)
MAX_REVIEWERS = 6  # GitHub accepts at most six required reviewers per environment

_TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|pypi-[A-Za-z0-9_-]{20,})"
    r"|hooks\.slack\.com/services/[^\s/]+/|discord(?:app)?\.com/api/webhooks/[0-9]+/"  # webhook URLs
)
_SECRET_NAMES = re.compile(r"(token|password|secret|pat|privatekey|apikey|registryauth)$", re.IGNORECASE)
_TEAM = re.compile(r"[a-z0-9][a-z0-9_-]*")
_ACTION_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.*/-]+(?:@[A-Za-z0-9_.*/-]+)?")
_DURATION = re.compile(r"[0-9]+(?:ms|s|m|h)")
_GIT_URL = re.compile(r"(?:https://|ssh://|git@)\S+")
_PATH = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_CHECK_NAME = re.compile(r"\S(?:.*\S)?")


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


@dataclass(frozen=True)
class Team:
    """A team of the repository's organization: its slug (for people) and its numeric id (for GitHub's APIs).

    The id is config, not a lookup: resolving a slug needs the organization permission Members: read,
    which the pull request previews' token never has. `pulumi up` checks that the slug still has that id.
    """

    slug: str
    id: int


@dataclass(frozen=True)
class Actors:
    """GitHub users (logins) and teams (slug and id, of the repository's organization)."""

    users: tuple[str, ...] = ()
    teams: tuple[Team, ...] = ()

    @property
    def count(self) -> int:
        return len(self.users) + len(self.teams)


@dataclass(frozen=True)
class RepositoryConfig:
    owner: str
    name: str
    visibility: str
    description: str

    @property
    def private(self) -> bool:
        return self.visibility == "private"

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class ActionsConfig:
    allowed_actions: tuple[str, ...]
    verified_allowed: bool


@dataclass(frozen=True)
class ArgoCdConfig:
    namespace: str
    project: str
    manifests_repo: str
    base_path: str
    target_revision: str
    server: str
    namespaces: tuple[tuple[str, str], ...]  # (application, destination namespace), catalog order
    revision_history_limit: int
    retry_limit: int
    backoff_duration: str
    backoff_factor: int
    backoff_max_duration: str

    def namespace_of(self, application: str) -> str:
        return dict(self.namespaces)[application]


@dataclass(frozen=True)
class StackSettings:
    repository: RepositoryConfig
    required_checks: tuple[str, ...]
    release_managers: Actors
    production_reviewers: Actors
    actions: ActionsConfig
    secrets: tuple[str, ...]  # the secret config keys that are set, e.g. ("percolateGitPat",)
    secrets_at_organization: bool
    argocd: ArgoCdConfig
    registry_check: bool
    images: tuple[ImagePin, ...]
    canaries: dict[str, Canary] = field(default_factory=dict)  # by project (docs/canary.md)
    argo_rollouts: ArgoRolloutsConfig = field(default_factory=ArgoRolloutsConfig)


def _walk_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            decoded = json.loads(value) if value[:1] in "[{" else None
        except json.JSONDecodeError:
            decoded = None
        return _walk_strings(decoded) if decoded is not None else [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _walk_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _walk_strings(item)]
    return []


def looks_like_token(text: str) -> bool:
    """Whether `text` contains something shaped like a GitHub or PyPI token."""
    return bool(_TOKEN_SHAPES.search(text))


def find_plaintext_secrets(values: Mapping[str, Any], secret_keys: set[str]) -> list[str]:
    """Config keys that hold a secret in plain text: a secret-named key, or a value shaped like a token."""
    found = []
    for key, value in values.items():
        if key in secret_keys or value in (None, ""):
            continue
        name = key.split(":", 1)[-1]
        if _SECRET_NAMES.search(name) or name in SECRETS or any(map(looks_like_token, _walk_strings(value))):
            found.append(key)
    return sorted(found)


def _teams(data: ConfigObject, repository: Any) -> tuple[Team, ...]:
    """`teams: [{slug, id}]`: the id GitHub's APIs take, the slug people read (and `pulumi up` checks)."""
    owner = repository.get("owner", "OWNER") if isinstance(repository, Mapping) else "OWNER"
    items = data.raw("teams", [], "[{slug: release-managers, id: 1234567}]")
    if not isinstance(items, list):
        raise config_error(
            data.where("teams"), f"expected a list, got {items!r}", "e.g. [{slug: release-managers, id: 1234567}]"
        )
    teams = []
    for index, item in enumerate(items):
        path = f"{data.where('teams')}[{index}]"
        slug = item if isinstance(item, str) else item.get("slug") if isinstance(item, Mapping) else None
        look_up = f"gh api orgs/{owner}/teams/{slug or 'SLUG'} --jq .id"
        if not isinstance(item, Mapping):
            raise config_error(
                path,
                f"{item!r} has no team id (previews cannot look slugs up: their token may not read the organization)",
                f"write it as {{slug: {slug or 'SLUG'}, id: ID}}; the id is printed by `{look_up}`",
            )
        team = ConfigObject(item, path, ("slug", "id"), "{slug: release-managers, id: 1234567}", guide="docs/infra.md")
        slug = team.string("slug", example="release-managers", pattern=_TEAM)
        team_id = team.raw("id", MISSING, "1234567")
        if isinstance(team_id, bool) or not isinstance(team_id, int) or team_id < 1:
            raise config_error(team.where("id"), f"{team_id!r} is not a team id", f"the id is printed by `{look_up}`")
        teams.append(Team(slug, team_id))
    return tuple(dict.fromkeys(teams))


def _actors(root: ConfigObject, field: str, *, who: str, most: int | None = None) -> Actors:
    data = root.child(field, ("users", "teams"), "{users: [alice], teams: [{slug: release-managers, id: 1234567}]}")
    actors = Actors(
        users=data.strings("users", example="alice", pattern=GITHUB_LOGIN, default=[]),
        teams=_teams(data, root.data.get("repository", {})),
    )
    if actors.count == 0:
        setting = data.path.split(":", 1)[1]
        fix = f"name at least one: pulumi config set --path '{setting}.users[0]' LOGIN"
        raise config_error(data.path, f"no {who}: both users and teams are empty", fix)
    if most is not None and actors.count > most:
        raise config_error(
            data.path, f"{actors.count} {who}; GitHub accepts at most {most}", "name a team instead of many users"
        )
    return actors


def _repository(root: ConfigObject) -> RepositoryConfig:
    fields = ("owner", "name", "visibility", "description")
    data = root.child("repository", fields, "{owner: percolation-labs, name: percolate}")
    visibility = data.string("visibility", example="public", default="public")
    if visibility not in ("public", "private"):
        raise config_error(
            data.where("visibility"), f"{visibility!r} is neither public nor private", "set public or private"
        )
    return RepositoryConfig(
        owner=data.string("owner", example="percolation-labs", pattern=GITHUB_LOGIN),
        name=data.string("name", example="percolate", pattern=GITHUB_REPOSITORY_NAME),
        visibility=visibility,
        description=data.string("description", example="'The Percolate monorepo'", default="The Percolate monorepo"),
    )


def _actions(root: ConfigObject) -> ActionsConfig:
    data = root.child("actions", ("allowedActions", "verifiedAllowed"), "{allowedActions: ['docker/*']}")
    return ActionsConfig(
        allowed_actions=data.strings("allowedActions", example="docker/build-push-action@*", pattern=_ACTION_PATTERN),
        verified_allowed=data.boolean("verifiedAllowed", default=False),
    )


ARGOCD_FIELDS = (
    "namespace", "project", "manifestsRepo", "basePath", "targetRevision", "server", "namespaces",
    "revisionHistoryLimit", "retry",
)  # fmt: skip
RETRY_FIELDS = ("limit", "backoffDuration", "backoffFactor", "backoffMaxDuration")


def _argocd(root: ConfigObject) -> ArgoCdConfig:
    data = root.child("argocd", ARGOCD_FIELDS, "{manifestsRepo: ..., basePath: apps/prod, targetRevision: main, ...}")
    manifests = data.string("manifestsRepo", example="https://github.com/percolation-labs/percolate-cloud.git")
    if not _GIT_URL.fullmatch(manifests):
        fix = "use https://HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git"
        raise config_error(data.where("manifestsRepo"), f"{manifests!r} is not a git URL", fix)
    server = data.string("server", example="https://kubernetes.default.svc", default="https://kubernetes.default.svc")
    if not server.startswith("https://"):
        fix = "use the cluster's API URL, e.g. https://kubernetes.default.svc"
        raise config_error(data.where("server"), f"{server!r} is not an https URL", fix)
    applications = tuple(str(project.argocd_application) for project in image_projects())
    namespaces = data.child("namespaces", applications, "{percolate-api: percolate, percolate-reading: percolate}")
    retry = data.child("retry", RETRY_FIELDS, "{limit: 5}", default={})
    return ArgoCdConfig(
        namespace=data.string("namespace", example="argocd", default="argocd", pattern=DNS_LABEL),
        project=data.string("project", example="percolate", default="percolate", pattern=DNS_LABEL),
        manifests_repo=manifests,
        base_path=data.string("basePath", example="apps/prod", pattern=_PATH),
        target_revision=data.string("targetRevision", example="main"),
        server=server,
        namespaces=tuple((app, namespaces.string(app, example="percolate", pattern=DNS_LABEL)) for app in applications),
        revision_history_limit=data.integer("revisionHistoryLimit", default=10, minimum=1),
        retry_limit=retry.integer("limit", default=5, minimum=1),
        backoff_duration=retry.string("backoffDuration", example="5s", default="5s", pattern=_DURATION),
        backoff_factor=retry.integer("backoffFactor", default=2, minimum=1),
        backoff_max_duration=retry.string("backoffMaxDuration", example="3m", default="3m", pattern=_DURATION),
    )


def parse_settings(values: Mapping[str, Any], secret_keys: set[str]) -> StackSettings:
    """Validate the whole stack config; the first problem found is raised, naming the key and the fix."""
    plaintext = find_plaintext_secrets(values, secret_keys)
    if plaintext:
        raise config_error(
            plaintext[0],
            "holds a secret in plain text",
            f"remove it from the stack file and set it encrypted: pulumi config set --secret {plaintext[0]} "
            "(then rotate the leaked value)",
        )
    ours = {
        # Secret values are never decoded nor kept: only whether they are set matters here.
        key.split(":", 1)[1]: True if key in secret_keys else decode_value(key, value)
        for key, value in values.items()
        if key.startswith(f"{NAMESPACE}:") and value not in (None, "")
    }
    root = ConfigObject(ours, NAMESPACE, KEYS, "see docs/infra.md", guide="docs/infra.md", separator=":")
    for name in REQUIRED_SECRETS:
        if name not in ours:
            fix = f"pulumi config set --secret {_key(name)} (the value of Actions secret {SECRETS[name]})"
            raise config_error(_key(name), "missing", fix)
    required_checks = root.strings("requiredChecks", example="test", pattern=_CHECK_NAME)
    if not required_checks:
        raise config_error(_key("requiredChecks"), "is empty", "name the CI job that must pass, e.g. [test]")
    return StackSettings(
        repository=_repository(root),
        required_checks=required_checks,
        release_managers=_actors(root, "releaseManagers", who="release managers"),
        production_reviewers=_actors(root, "productionReviewers", who="reviewers", most=MAX_REVIEWERS),
        actions=_actions(root),
        secrets=tuple(name for name in SECRETS if name in ours),
        secrets_at_organization=root.boolean("secretsAtOrganization", default=False),
        argocd=_argocd(root),
        registry_check=root.boolean("registryCheck", default=True),
        images=tuple(parse_images(ours.get("images"), key=IMAGES_KEY).values()),
        canaries=parse_canaries(ours.get("canary"), key=CANARY_KEY),
        argo_rollouts=parse_argo_rollouts(ours.get("argoRollouts")),
    )


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """Every config key the Pulumi runtime holds for this run, and which of them are secrets (the edge)."""
    from pulumi.runtime import config as runtime

    values = {**runtime.get_config_env(), **runtime.CONFIG.get()}
    secret_keys = set(runtime.get_config_secret_keys_env()) | {key for key in values if runtime.is_config_secret(key)}
    return values, secret_keys


def decode_value(key: str, raw: Any) -> Any:
    """A config value as Pulumi hands it over: structured values arrive as JSON text."""
    if isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            fix = "set it again with pulumi config set --path"
            raise config_error(key, f"is not valid structured config: {error}", fix) from None
    return raw
