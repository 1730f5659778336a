"""Fixtures of the infra area: a valid stack config to vary, and the program run under Pulumi's mocks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.render import Rendering, StackConfig, run_program, stack_config

NS = "percolate-platform"
DIGESTS = {
    "percolate": ("a" * 64, "b" * 64, "c" * 64),
    "percolate-reading": ("d" * 64, "e" * 64, "f" * 64),
}
REPOSITORIES = {
    "percolate": "ghcr.io/percolation-labs/percolate",
    "percolate-reading": "ghcr.io/percolation-labs/percolate-reading",
}


def image_entry(project: str, version: str = "0.1.0") -> dict[str, Any]:
    index, amd64, arm64 = DIGESTS[project]
    return {
        "repository": REPOSITORIES[project],
        "version": version,
        "digest": f"sha256:{index}",
        "platforms": {"amd64": f"sha256:{amd64}", "arm64": f"sha256:{arm64}"},
        "source": f"2025.10.25.1430-build.123-v{version}-abc1234",
    }


def base_config() -> dict[str, Any]:
    """A complete, valid config in the stack file's shape (structured values, secrets as `secure:`)."""
    return {
        f"{NS}:repository": {"owner": "percolation-labs", "name": "percolate", "visibility": "public"},
        f"{NS}:requiredChecks": ["test"],
        f"{NS}:releaseManagers": {"users": ["alice"], "teams": [{"slug": "release-managers", "id": 2001}]},
        f"{NS}:productionReviewers": {"users": ["bob"], "teams": [{"slug": "platform", "id": 2002}]},
        f"{NS}:actions": {"allowedActions": ["docker/*", "pypa/gh-action-pypi-publish@*"]},
        f"{NS}:percolateGitPat": {"secure": "v1:ciphertext"},
        f"{NS}:argocd": {
            "manifestsRepo": "https://github.com/percolation-labs/percolate-cloud.git",
            "basePath": "apps/prod",
            "targetRevision": "main",
            "namespaces": {"percolate-api": "percolate", "percolate-reading": "reading"},
        },
        f"{NS}:images": {"percolate": image_entry("percolate"), "percolate-reading": image_entry("percolate-reading")},
    }


def flatten(config: dict[str, Any]) -> StackConfig:
    """The config as Pulumi hands it to the program: JSON text for structures, secret keys apart."""
    return stack_config({"config": config}, Path("Pulumi.test.yaml"))


USER_IDS = {"alice": 1001, "bob": 1002, "carol": 1003}
TEAM_IDS = {"release-managers": 2001, "platform": 2002}


@dataclass
class Answers:
    """Answers to the program's provider lookups, and a record of the lookups made."""

    registry: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((token, dict(args)))
        if token == "github:index/getUser:getUser":
            return {"id": str(USER_IDS[args["username"]]), "login": args["username"]}
        if token == "github:index/getTeam:getTeam":
            return {"id": str(TEAM_IDS[args["slug"]]), "slug": args["slug"]}
        if token == "docker:index/getRegistryImage:getRegistryImage":
            return {"id": args["name"], "name": args["name"], "sha256Digest": self.registry[args["name"]]}
        raise AssertionError(f"unexpected lookup {token}")


def registry_matching(config: dict[str, Any]) -> dict[str, str]:
    """What a registry whose release tags were never moved answers for the config's pins."""
    images = config.get(f"{NS}:images") or {}
    return {f"{e['repository']}:{e['version']}": e["digest"] for e in images.values() if e.get("digest")}


@pytest.fixture
def config() -> dict[str, Any]:
    return copy.deepcopy(base_config())


@pytest.fixture
def render() -> Callable[..., Rendering]:
    """Run the program under mocks with a config (stack file shape); lookups answered like an honest registry."""

    def run(config: dict[str, Any], answers: Answers | None = None, *, preview: bool = True) -> Rendering:
        answers = answers or Answers(registry=registry_matching(config))
        return run_program(flatten(config), answers, preview=preview)

    return run


@pytest.fixture
def settings_input() -> Callable[[dict[str, Any]], tuple[dict[str, Any], set[str]]]:
    """Turns a config (stack file shape) into the (values, secret keys) `parse_settings` takes."""

    def convert(config: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
        flat = flatten(config)
        return dict(flat.values), set(flat.secret_keys)

    return convert


@pytest.fixture
def answers() -> type[Answers]:
    return Answers


@pytest.fixture
def image() -> Callable[..., dict[str, Any]]:
    return image_entry


@pytest.fixture
def ids() -> dict[str, dict[str, int]]:
    return {"users": USER_IDS, "teams": TEAM_IDS}


# A canary for percolate-reading, as a stack file would configure it, for the Rollouts and namespace tests.
CANARY = {
    "percolate-reading": {
        "steps": [{"setWeight": 20}, {"pause": "2m"}, {"analysis": True}, {"setWeight": 50}, {"pause": "5m"}],
        "analysis": {"web": {"port": 8080, "path": "/healthz"}, "count": 4, "interval": "30s"},
    }
}


@pytest.fixture
def canary_config(config: dict[str, Any]) -> dict[str, Any]:
    """The base config with that canary and the Rollouts controller installed, gated by a service account."""
    config[f"{NS}:canary"] = copy.deepcopy(CANARY)
    config[f"{NS}:argoRollouts"] = {
        "install": True,
        "gate": {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
    }
    return config
