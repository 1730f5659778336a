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
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pipelines.catalog import PULUMI_PROJECT, image_projects
from pipelines.errors import InputError
from pipelines.stackconfig import IMAGES_KEY, ImagePin, parse_images

NAMESPACE = PULUMI_PROJECT
# Secret config key -> the Actions secret it becomes.
SECRETS = {
    "percolateGitPat": "PERCOLATE_GIT_PAT",
    "pypiApiToken": "PYPI_API_TOKEN",
    "testPypiApiToken": "TEST_PYPI_API_TOKEN",
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
    *SECRETS,
)
MAX_REVIEWERS = 6  # GitHub accepts at most six required reviewers per environment

_TOKEN_SHAPES = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|pypi-[A-Za-z0-9_-]{20,})")
_SECRET_NAMES = re.compile(r"(token|password|secret|pat|privatekey|apikey|registryauth)$", re.IGNORECASE)
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_TEAM = re.compile(r"[a-z0-9][a-z0-9_-]*")
_OWNER = _LOGIN
_REPOSITORY = re.compile(r"[A-Za-z0-9._-]{1,100}")
_ACTION_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.*/-]+(?:@[A-Za-z0-9_.*/-]+)?")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DURATION = re.compile(r"[0-9]+(?:ms|s|m|h)")
_MISSING = object()


def _key(name: str) -> str:
    return f"{NAMESPACE}:{name}"


def _fail(path: str, problem: str, fix: str) -> InputError:
    return InputError(f"stack config {path}: {problem}", hint=fix)


@dataclass(frozen=True)
class Actors:
    """GitHub users (logins) and teams (slugs of the repository's organization)."""

    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

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

    def pin_for(self, project: str) -> ImagePin | None:
        return next((pin for pin in self.images if pin.project == project), None)


class _Object:
    """A config object (a mapping) read field by field, every error naming the field's full path."""

    def __init__(self, data: Any, path: str, fields: tuple[str, ...], example: str) -> None:
        if not isinstance(data, Mapping):
            raise _fail(path, f"expected an object, got {data!r}", f"set it as in docs/infra.md, e.g. {example}")
        unknown = sorted(set(map(str, data)) - set(fields))
        if unknown:
            raise _fail(path, f"unknown field(s) {', '.join(unknown)}", f"the fields are {', '.join(fields)}")
        self.data = data
        self.path = path

    def raw(self, field: str, default: Any, example: str) -> Any:
        value = self.data.get(field, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise _fail(f"{self.path}.{field}", "missing", f"pulumi config set --path '{self._config_path(field)}' {example}")
            return default
        return value

    def _config_path(self, field: str) -> str:
        return f"{self.path.split(':', 1)[1]}.{field}"

    def string(self, field: str, *, example: str, default: Any = _MISSING, pattern: re.Pattern[str] | None = None) -> str:
        value = self.raw(field, default, example)
        if not isinstance(value, str) or not value.strip() or (pattern is not None and not pattern.fullmatch(value)):
            raise _fail(f"{self.path}.{field}", f"{value!r} is not valid", f"use a value like {example}")
        return value

    def boolean(self, field: str, *, default: bool) -> bool:
        return _boolean(self.raw(field, default, "true"), f"{self.path}.{field}")

    def integer(self, field: str, *, default: int, minimum: int) -> int:
        value = self.raw(field, default, str(default))
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _fail(f"{self.path}.{field}", f"{value!r} is not a whole number of at least {minimum}", f"e.g. {default}")
        return value

    def strings(self, field: str, *, example: str, pattern: re.Pattern[str], default: Any = _MISSING) -> tuple[str, ...]:
        return _strings(self.raw(field, default, f"[{example}]"), f"{self.path}.{field}", example, pattern)


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _fail(path, f"{value!r} is not true or false", "set true or false")


def _strings(value: Any, path: str, example: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(path, f"expected a list, got {value!r}", f"e.g. [{example}]")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise _fail(f"{path}[{index}]", f"{item!r} is not valid", f"use a value like {example}")
    return tuple(dict.fromkeys(value))


def _decode(values: Mapping[str, Any], name: str) -> Any:
    """A config value as Pulumi hands it over: structured values arrive as JSON text."""
    raw = values.get(_key(name))
    if isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as error:
            raise _fail(_key(name), f"is not valid structured config: {error}", "set it again with pulumi config set --path") from None
    return raw


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


def _actors(value: Any, path: str, *, who: str) -> Actors:
    data = _Object(value, path, ("users", "teams"), "{users: [alice], teams: [release-managers]}")
    actors = Actors(
        users=data.strings("users", example="alice", pattern=_LOGIN, default=[]),
        teams=data.strings("teams", example="release-managers", pattern=_TEAM, default=[]),
    )
    if actors.count == 0:
        raise _fail(path, f"no {who}: both users and teams are empty", f"name at least one: pulumi config set --path '{path.split(':', 1)[1]}.users[0]' LOGIN")
    return actors


def _repository(value: Any) -> RepositoryConfig:
    path = _key("repository")
    data = _Object(value, path, ("owner", "name", "visibility", "description"), "{owner: percolation-labs, name: percolate}")
    visibility = data.string("visibility", example="public", default="public")
    if visibility not in ("public", "private"):
        raise _fail(f"{path}.visibility", f"{visibility!r} is neither public nor private", "set public or private")
    return RepositoryConfig(
        owner=data.string("owner", example="percolation-labs", pattern=_OWNER),
        name=data.string("name", example="percolate", pattern=_REPOSITORY),
        visibility=visibility,
        description=data.string("description", example="'The Percolate monorepo'", default="The Percolate monorepo"),
    )


def _actions(value: Any) -> ActionsConfig:
    data = _Object(value, _key("actions"), ("allowedActions", "verifiedAllowed"), "{allowedActions: ['docker/*']}")
    return ActionsConfig(
        allowed_actions=data.strings("allowedActions", example="docker/build-push-action@*", pattern=_ACTION_PATTERN),
        verified_allowed=data.boolean("verifiedAllowed", default=False),
    )


def _argocd(value: Any) -> ArgoCdConfig:
    path = _key("argocd")
    fields = (
        "namespace", "project", "manifestsRepo", "basePath", "targetRevision", "server", "namespaces",
        "revisionHistoryLimit", "retry",
    )  # fmt: skip
    data = _Object(value, path, fields, "{manifestsRepo: https://github.com/percolation-labs/percolate-manifests.git, ...}")
    manifests = data.string("manifestsRepo", example="https://github.com/percolation-labs/percolate-manifests.git")
    if not re.fullmatch(r"(?:https://|ssh://|git@)\S+", manifests):
        raise _fail(f"{path}.manifestsRepo", f"{manifests!r} is not a git URL", "use https://HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git")
    server = data.string("server", example="https://kubernetes.default.svc", default="https://kubernetes.default.svc")
    if not server.startswith("https://"):
        raise _fail(f"{path}.server", f"{server!r} is not an https URL", "use the cluster's API URL, e.g. https://kubernetes.default.svc")
    applications = [str(project.argocd_application) for project in image_projects()]
    namespaces = _Object(data.raw("namespaces", _MISSING, "{percolate-api: percolate}"), f"{path}.namespaces", tuple(applications), "{percolate-api: percolate}")
    retry = _Object(data.raw("retry", {}, "{limit: 5}"), f"{path}.retry", ("limit", "backoffDuration", "backoffFactor", "backoffMaxDuration"), "{limit: 5}")
    return ArgoCdConfig(
        namespace=data.string("namespace", example="argocd", default="argocd", pattern=_DNS_LABEL),
        project=data.string("project", example="percolate", default="percolate", pattern=_DNS_LABEL),
        manifests_repo=manifests,
        base_path=data.string("basePath", example="apps/prod", pattern=re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")),
        target_revision=data.string("targetRevision", example="main"),
        server=server,
        namespaces=tuple((app, namespaces.string(app, example="percolate", pattern=_DNS_LABEL)) for app in applications),
        revision_history_limit=data.integer("revisionHistoryLimit", default=10, minimum=1),
        retry_limit=retry.integer("limit", default=5, minimum=1),
        backoff_duration=retry.string("backoffDuration", example="5s", default="5s", pattern=_DURATION),
        backoff_factor=retry.integer("backoffFactor", default=2, minimum=1),
        backoff_max_duration=retry.string("backoffMaxDuration", example="3m", default="3m", pattern=_DURATION),
    )


def _required(values: Mapping[str, Any], name: str, parse: Callable[[Any], Any], example: str) -> Any:
    value = _decode(values, name)
    if value is None:
        raise _fail(_key(name), "missing", f"set it (see docs/infra.md), e.g. {example}")
    return parse(value)


def parse_settings(values: Mapping[str, Any], secret_keys: set[str]) -> StackSettings:
    """Validate the whole stack config; the first problem found is raised, naming the key and the fix."""
    ours = sorted(key for key in values if key.startswith(f"{NAMESPACE}:"))
    unknown = [key for key in ours if key.split(":", 1)[1] not in KEYS]
    if unknown:
        raise _fail(unknown[0], "unknown key", f"the keys of {NAMESPACE} are: {', '.join(KEYS)}")
    plaintext = find_plaintext_secrets(values, secret_keys)
    if plaintext:
        key = plaintext[0]
        raise _fail(
            key,
            "holds a secret in plain text",
            f"remove it from the stack file and set it encrypted: pulumi config set --secret {key} (then rotate the leaked value)",
        )
    for name in REQUIRED_SECRETS:
        if values.get(_key(name)) in (None, ""):
            raise _fail(_key(name), "missing", f"pulumi config set --secret {_key(name)} (the value of Actions secret {SECRETS[name]})")

    required_checks = _required(
        values, "requiredChecks", lambda v: _strings(v, _key("requiredChecks"), "test", re.compile(r"\S(?:.*\S)?")), "[test]"
    )
    if not required_checks:
        raise _fail(_key("requiredChecks"), "is empty", "name the CI job that must pass, e.g. [test]")
    registry_check = _decode(values, "registryCheck")
    at_organization = _decode(values, "secretsAtOrganization")
    return StackSettings(
        repository=_required(values, "repository", _repository, "{owner: percolation-labs, name: percolate}"),
        required_checks=required_checks,
        release_managers=_required(values, "releaseManagers", lambda v: _actors(v, _key("releaseManagers"), who="release managers"), "{users: [alice]}"),
        production_reviewers=_reviewers(values),
        actions=_required(values, "actions", _actions, "{allowedActions: ['docker/*']}"),
        secrets=tuple(name for name in SECRETS if values.get(_key(name)) not in (None, "")),
        secrets_at_organization=False if at_organization is None else _boolean(at_organization, _key("secretsAtOrganization")),
        argocd=_required(values, "argocd", _argocd, "{manifestsRepo: ..., basePath: apps/prod, targetRevision: main}"),
        registry_check=True if registry_check is None else _boolean(registry_check, _key("registryCheck")),
        images=tuple(parse_images(_decode(values, "images"), key=IMAGES_KEY).values()),
    )


def _reviewers(values: Mapping[str, Any]) -> Actors:
    path = _key("productionReviewers")
    reviewers = _required(values, "productionReviewers", lambda v: _actors(v, path, who="reviewers"), "{teams: [platform]}")
    if reviewers.count > MAX_REVIEWERS:
        raise _fail(path, f"{reviewers.count} reviewers; GitHub accepts at most {MAX_REVIEWERS}", "name a team instead of many users")
    return reviewers


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """Every config key the Pulumi runtime holds for this run, and which of them are secrets (the edge)."""
    from pulumi.runtime import config as runtime

    values = {**runtime.get_config_env(), **runtime.CONFIG.get()}
    secret_keys = set(runtime.get_config_secret_keys_env()) | {key for key in values if runtime.is_config_secret(key)}
    return values, secret_keys
