"""The stack config is validated up front into frozen settings; each mistake is one error naming key and fix."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import KEYS, Team, find_plaintext_secrets, parse_settings
from pipelines.core.errors import InputError, exit_code_of

NS = "percolate-platform"


def test_a_valid_config_becomes_typed_settings(config, settings_input):
    settings = parse_settings(*settings_input(config))
    assert settings.repository.full_name == "percolation-labs/percolate"
    assert not settings.repository.private
    assert settings.required_checks == ("test",)
    assert settings.release_managers.users == ("alice",)
    assert settings.release_managers.teams == (Team("release-managers", 2001),)
    assert settings.secrets == ("percolateGitPat",)
    assert settings.secrets_at_organization is False
    assert settings.registry_check is True
    assert settings.argocd.namespace_of("percolate-reading") == "reading"
    assert settings.argocd.revision_history_limit == 10
    assert {pin.project: pin.digest for pin in settings.images}["percolate"] == "sha256:" + "a" * 64
    with pytest.raises(AttributeError):
        settings.registry_check = False  # type: ignore[misc]


def test_optional_switches_are_read(config, settings_input):
    config[f"{NS}:registryCheck"] = False
    config[f"{NS}:secretsAtOrganization"] = True
    config[f"{NS}:pypiApiToken"] = {"secure": "v1:x"}
    settings = parse_settings(*settings_input(config))
    assert settings.registry_check is False
    assert settings.secrets_at_organization is True
    assert settings.secrets == ("percolateGitPat", "pypiApiToken")


def _error(config, settings_input) -> InputError:
    with pytest.raises(InputError) as raised:
        parse_settings(*settings_input(config))
    return raised.value


@pytest.mark.parametrize(
    ("change", "key", "fix"),
    [
        (lambda c: c.pop(f"{NS}:repository"), f"{NS}:repository: missing", "owner: percolation-labs"),
        (
            lambda c: c[f"{NS}:repository"].pop("owner"),
            f"{NS}:repository.owner: missing",
            "pulumi config set --path 'repository.owner'",
        ),
        (
            lambda c: c[f"{NS}:repository"].update(visibility="internal"),
            f"{NS}:repository.visibility",
            "public or private",
        ),
        (lambda c: c[f"{NS}:repository"].update(nmae="x"), f"{NS}:repository.nmae: unknown key", "the keys of"),
        (lambda c: c.update({f"{NS}:reviewers": {"users": ["bob"]}}), f"{NS}:reviewers: unknown key", "the keys of"),
        (
            lambda c: c.update({f"{NS}:productionReviewers": {"users": [], "teams": []}}),
            f"{NS}:productionReviewers: no reviewers",
            "users[0]",
        ),
        (
            lambda c: c.update({f"{NS}:productionReviewers": {"users": [f"u{i}" for i in range(7)]}}),
            "7 reviewers",
            "name a team",
        ),
        (
            lambda c: c.update({f"{NS}:releaseManagers": {"users": ["-bad-"]}}),
            f"{NS}:releaseManagers.users[0]",
            "like alice",
        ),
        (lambda c: c.update({f"{NS}:requiredChecks": []}), f"{NS}:requiredChecks: is empty", "e.g. [test]"),
        (lambda c: c.pop(f"{NS}:percolateGitPat"), f"{NS}:percolateGitPat: missing", "pulumi config set --secret"),
        (
            lambda c: c[f"{NS}:images"]["percolate"].update(digest="sha256:nothex"),
            f"{NS}:images.percolate.digest",
            "64 lower-case hex",
        ),
        (lambda c: c[f"{NS}:images"].update({"percolator": {}}), "unknown project 'percolator'", "image projects are"),
        (
            lambda c: c[f"{NS}:argocd"]["namespaces"].pop("percolate-api"),
            f"{NS}:argocd.namespaces.percolate-api: missing",
            "percolate",
        ),
        (
            lambda c: c[f"{NS}:argocd"]["namespaces"].update({"percolate-web": "web"}),
            f"{NS}:argocd.namespaces.percolate-web: unknown key",
            "percolate-api",
        ),
        (lambda c: c[f"{NS}:argocd"].update(manifestsRepo="ftp://x"), f"{NS}:argocd.manifestsRepo", "git@HOST"),
        (lambda c: c[f"{NS}:argocd"].update(server="http://cluster"), f"{NS}:argocd.server", "https"),
        (lambda c: c[f"{NS}:argocd"].update(retry={"limit": 0}), f"{NS}:argocd.retry.limit", "e.g. 5"),
        (lambda c: c.update({f"{NS}:registryCheck": "yes"}), f"{NS}:registryCheck", "true or false"),
    ],
)
def test_each_mistake_names_the_key_and_the_fix(config, settings_input, change, key, fix):
    change(config)
    error = _error(config, settings_input)
    assert key in error.message
    assert fix in str(error.hint)
    assert exit_code_of(error) == 2


def test_a_secret_in_plain_text_fails_the_run_naming_the_key(config, settings_input):
    config[f"{NS}:percolateGitPat"] = "hunter2"
    error = _error(config, settings_input)
    assert f"{NS}:percolateGitPat: holds a secret in plain text" in error.message
    assert f"pulumi config set --secret {NS}:percolateGitPat" in str(error.hint)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("github:token", "anything"),
        (f"{NS}:pypiApiToken", "pypi-" + "A" * 40),
        ("kubernetes:context", "prod ghp_" + "a" * 36),
        ("docker:registryAuth", [{"address": "ghcr.io", "password": "github_pat_" + "b" * 30}]),
    ],
)
def test_plain_text_secrets_anywhere_in_the_config_are_refused(config, settings_input, key, value):
    config[key] = value
    assert _error(config, settings_input).message.startswith(f"stack config {key}: holds a secret in plain text")


def test_the_same_values_are_accepted_as_secure_config(config, settings_input):
    config["github:token"] = {"secure": "v1:abc"}
    config["docker:registryAuth"] = [{"address": "ghcr.io", "password": {"secure": "v1:abc"}}]
    values, secret_keys = settings_input(config)
    assert find_plaintext_secrets(values, secret_keys) == []
    parse_settings(values, secret_keys)


def test_structured_config_that_is_not_json_is_reported(config, settings_input):
    values, secret_keys = settings_input(config)
    values[f"{NS}:actions"] = "{not json"
    with pytest.raises(InputError, match=f"{NS}:actions: is not valid structured config"):
        parse_settings(values, secret_keys)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from((*KEYS, "unknownKey")), junk=json_values)
def test_any_value_under_any_key_is_accepted_or_refused_naming_that_key(config, settings_input, key, junk):
    varied = copy.deepcopy(config)
    varied[f"{NS}:{key}"] = junk
    try:
        parse_settings(*settings_input(varied))
    except InputError as error:
        assert error.message.startswith("stack config ") or error.message.startswith("Pulumi.prod.yaml: ")
        assert key in error.message
        assert error.hint
