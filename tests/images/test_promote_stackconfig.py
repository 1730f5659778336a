"""`promote --stack-config`: the promoted digests written back into the stack file, and blocked versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.deploy.write_back import StackFile

TAG = "percolate-v0.1.0"
# A prod stack file with one release already written back (the repository's own file may have none yet).
STACK = """\
# People edit everything here except `percolate-platform:images`, which release jobs write.
config:
  percolate-platform:repository:
    owner: percolation-labs
    name: percolate
  percolate-platform:images:
    # The API service.
    percolate:
      repository: ghcr.io/percolation-labs/percolate
      version: 0.1.0
      digest: sha256:1111111111111111111111111111111111111111111111111111111111111111   # what Argo CD pins
      platforms:
        amd64: sha256:2222222222222222222222222222222222222222222222222222222222222222
        arm64: sha256:3333333333333333333333333333333333333333333333333333333333333333
      source: 2025.10.25.1430-build.123-v0.1.0-abc1234
    percolate-reading:
      repository: ghcr.io/percolation-labs/percolate-reading
"""


@pytest.fixture
def stack(tmp_path: Path) -> StackFile:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(STACK)
    return StackFile(path)


def test_promote_writes_the_digests_into_the_stack_file_and_nothing_else(cli, area, monorepo, clean_env, stack):
    monorepo.tag(TAG)
    area.push_build("percolate", sha=monorepo.head, number=12)
    before = stack.path.read_text()
    reading = stack.pin("percolate-reading")

    result = cli(
        "promote",
        TAG,
        "--registry",
        area.registry(),
        "--root",
        str(monorepo.root),
        "--stack-config",
        str(stack.path),
        "--json",
        env=clean_env,
    )

    assert result.code == 0, result.stderr
    data = result.json()
    assert data["stack_config"] == {"file": str(stack.path), "changed": True}
    pin = stack.pin("percolate")
    assert (pin.repository, pin.version, pin.source) == (data["repository"], "0.1.0", data["source"])
    assert pin.digest == data["index_digest"] == area.digest("percolate", "0.1.0")
    assert pin.platform_digests() == data["platforms"]
    assert stack.pin("percolate-reading") == reading
    changed = [line for line in stack.path.read_text().splitlines() if line not in before.splitlines()]
    assert len(changed) == 5  # repository, digest, the two platforms, source; the version stays 0.1.0


def test_a_blocked_version_is_refused_before_the_registry_is_touched(cli, area, monorepo, clean_env, stack: Any):
    stack.path.write_text(
        stack.path.read_text().replace(
            "      source: 2025.10.25.1430-build.123-v0.1.0-abc1234\n",
            "      source: 2025.10.25.1430-build.123-v0.1.0-abc1234\n      blocked: [0.2.0]\n",
        )
    )
    monorepo.tag("percolate-v0.2.0")
    area.push_build("percolate", sha=monorepo.head, number=12, version="0.2.0")
    before = stack.path.read_bytes()
    tags_before = area.tags("percolate")

    result = cli(
        "promote",
        "percolate-v0.2.0",
        "--registry",
        area.registry(),
        "--root",
        str(monorepo.root),
        "--stack-config",
        str(stack.path),
        env=clean_env,
    )

    assert result.code == 1
    assert "percolate 0.2.0 is blocked" in result.stderr
    assert area.tags("percolate") == tags_before
    assert stack.path.read_bytes() == before
