"""`promote TAG` end to end: the CLI in a subprocess against a real registry, skopeo reading back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
IMAGE_MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}


def blob_files(local_registry: Any) -> set[str]:
    """Every blob the registry stores, as files on its disk."""
    root = local_registry.folder / "storage" / "docker" / "registry" / "v2" / "blobs"
    return {str(path.relative_to(root)) for path in root.rglob("data")}


@pytest.fixture
def released(monorepo: Any) -> Any:
    """The monorepo with the release tag on HEAD, where the RC builds were built."""
    monorepo.tag(TAG)
    return monorepo


def run_promote(
    cli: Any, area: Any, repo: Any, env: dict[str, str], *args: str, tag: str = TAG, host: str | None = None
):
    return cli("promote", tag, "--registry", area.registry(host), "--root", str(repo.root), *args, env=env)


@pytest.mark.parametrize("shape", ["oci", "docker", "buildx"])
def test_promote_copies_the_newest_complete_build_byte_for_byte_and_creates_the_index(
    cli, area, released, clean_env, local_registry, shape
):
    sha = released.head
    area.push_build(PROJECT, sha=sha, number=9, at="2025-10-24T09:00:00+00:00", shape=shape)
    newest = area.push_build(PROJECT, sha=sha, number=12, at="2025-10-25T14:30:00+00:00", shape=shape)
    area.push_build(PROJECT, sha=sha, number=13, at="2025-10-25T16:00:00+00:00", arches=("amd64",), shape=shape)
    blobs_before = blob_files(local_registry)

    result = run_promote(cli, area, released, clean_env, "--json")

    assert result.code == 0, result.stderr
    data = result.json()
    assert data["source"] == f"2025.10.25.1430-build.12-v0.1.0-{sha[:7]}"
    assert data["skipped_builds"] == [f"2025.10.25.1600-build.13-v0.1.0-{sha[:7]} (has amd64; missing arm64)"]
    assert data["platforms"] == {arch: pushed.digest for arch, pushed in newest.items()}
    assert data["tags_written"] == ["0.1.0-amd64", "0.1.0-arm64", "0.1.0"]
    assert data["commit_check"]["status"] == "match"
    for arch, pushed in newest.items():
        assert area.raw(PROJECT, f"0.1.0-{arch}") == pushed.data  # byte for byte, as skopeo reads it
    index_raw = area.raw(PROJECT, "0.1.0")
    assert area.digest(PROJECT, "0.1.0") == data["index_digest"]
    index = json.loads(index_raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    images = [entry for entry in index["manifests"] if entry["platform"]["os"] == "linux"]
    assert [(e["platform"]["architecture"], e["mediaType"] in IMAGE_MANIFEST_TYPES) for e in images] == [
        ("amd64", True),
        ("arm64", True),
    ]
    for entry in images:
        image_raw = area.raw(PROJECT, entry["digest"])
        assert len(image_raw) == entry["size"]
        assert json.loads(image_raw)["mediaType"] in IMAGE_MANIFEST_TYPES
    # Zero blob bytes moved: the registry stores manifests as blobs too, and the new index is the only new one.
    index_hex = data["index_digest"].removeprefix("sha256:")
    assert blob_files(local_registry) - blobs_before == {f"sha256/{index_hex[:2]}/{index_hex}/data"}

    requests = data["requests"]
    # A platform's os/arch comes from its config blob; an index's platform image is read for its config too.
    image_reads = 2 if shape == "buildx" else 0
    assert requests["by_kind"] == {
        "tags": 1,
        "manifest-get": 2 + image_reads,
        # Each release tag checked in the round trip right before its PUT and read back after it; the index
        # is checked again alongside the platform tags' read-back, the round trip right before its PUT, and
        # the platform tags are read again alongside the index's read-back.
        "manifest-head": 9,
        "manifest-put": 3,
        "blob-get": 2,
    }
    assert requests["total"] == requests["budget"] + 2 + image_reads
    assert requests["blob_bytes_written"] == 0


def test_buildx_shaped_builds_keep_their_attestations_in_the_release_index(cli, area, released, clean_env):
    newest = area.push_build(PROJECT, sha=released.head, number=3, shape="buildx")

    result = run_promote(cli, area, released, clean_env, "--json")

    assert result.code == 0, result.stderr
    index = json.loads(area.raw(PROJECT, "0.1.0"))
    for arch, pushed in newest.items():
        per_arch = json.loads(pushed.data)["manifests"]
        image, attestation = per_arch
        assert image in index["manifests"] and attestation in index["manifests"]
        assert attestation["annotations"]["vnd.docker.reference.digest"] == image["digest"]
        assert any(arch in note and "is an index" in note for note in result.json()["notes"])


def test_a_rerun_writes_nothing_and_a_half_done_run_is_completed(cli, area, released, clean_env):
    newest = area.push_build(PROJECT, sha=released.head, number=5)
    # A run that stopped after its first write, redone here by skopeo, an independent client.
    area.skopeo.copy(
        area.repository(PROJECT),
        area.build_tag(version="0.1.0", sha=released.head, number=5, at="2025-10-25T14:30:00+00:00", arch="amd64"),
        "0.1.0-amd64",
    )

    completed = run_promote(cli, area, released, clean_env, "--json")
    again = run_promote(cli, area, released, clean_env, "--json")

    assert completed.code == 0, completed.stderr
    assert completed.json()["tags_unchanged"] == ["0.1.0-amd64"]
    assert completed.json()["tags_written"] == ["0.1.0-arm64", "0.1.0"]
    assert again.code == 0, again.stderr
    assert again.json()["tags_written"] == []
    assert again.json()["tags_unchanged"] == ["0.1.0-amd64", "0.1.0-arm64", "0.1.0"]
    assert again.json()["index_digest"] == completed.json()["index_digest"] == area.digest(PROJECT, "0.1.0")
    assert again.json()["requests"]["by_kind"] == {"tags": 1, "manifest-get": 2, "manifest-head": 3, "blob-get": 2}
    assert {arch: area.digest(PROJECT, f"0.1.0-{arch}") for arch in newest} == {
        arch: pushed.digest for arch, pushed in newest.items()
    }


def test_a_release_tag_holding_another_digest_is_never_moved(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=1, at="2025-10-20T10:00:00+00:00")
    area.push_build(PROJECT, sha=released.head, number=2, at="2025-10-21T10:00:00+00:00")
    old_arm64 = area.build_tag(
        version="0.1.0", sha=released.head, number=1, at="2025-10-20T10:00:00+00:00", arch="arm64"
    )
    new_arm64 = area.build_tag(
        version="0.1.0", sha=released.head, number=2, at="2025-10-21T10:00:00+00:00", arch="arm64"
    )
    area.skopeo.copy(area.repository(PROJECT), old_arm64, "0.1.0-arm64")
    held, wanted = area.digest(PROJECT, "0.1.0-arm64"), area.digest(PROJECT, new_arm64)

    result = run_promote(cli, area, released, clean_env)

    assert result.code == 1
    assert "0.1.0-arm64" in result.stderr and held in result.stderr and wanted in result.stderr
    assert "never moves a release tag" in result.stderr and "Traceback" not in result.stderr
    assert area.digest(PROJECT, "0.1.0-arm64") == held
    assert not {"0.1.0-amd64", "0.1.0"} & set(area.tags(PROJECT))


def test_dry_run_reads_and_plans_but_writes_nothing(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=7)
    before = sorted(area.tags(PROJECT))

    result = run_promote(cli, area, released, clean_env, "--dry-run", "--json")

    assert result.code == 0, result.stderr
    assert result.json()["dry_run"] is True
    assert result.json()["tags_written"] == ["0.1.0-amd64", "0.1.0-arm64", "0.1.0"]
    assert "manifest-put" not in result.json()["requests"]["by_kind"]
    assert sorted(area.tags(PROJECT)) == before
    assert "would write 0.1.0" in result.stderr


def test_text_output_summarises_the_promotion_and_progress_goes_to_stderr(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=4)

    result = run_promote(cli, area, released, clean_env)

    assert result.code == 0, result.stderr
    assert result.stdout.startswith(
        f"promoted percolate 0.1.0 from build 2025.10.25.1430-build.4-v0.1.0-{released.head[:7]}"
    )
    assert "0.1.0-amd64" in result.stdout and "(multi-arch index)" in result.stdout
    assert "listing the tags of" in result.stderr and "writing 0.1.0 ->" in result.stderr


def test_percolate_reading_is_promoted_in_its_own_repository(cli, area, monorepo, clean_env):
    monorepo.tag("percolate-reading-v2.3.4")
    pushed = area.push_build("percolate-reading", sha=monorepo.head, number=40, version="2.3.4")

    result = run_promote(cli, area, monorepo, clean_env, "--json", tag="percolate-reading-v2.3.4")

    assert result.code == 0, result.stderr
    assert result.json()["repository"] == f"{area.host}/{area.namespace}/percolate-reading"
    assert area.digest("percolate-reading", "2.3.4-arm64") == pushed["arm64"].digest
    with pytest.raises(RuntimeError, match="404"):  # nothing was written to the other project's repository
        area.tags(PROJECT)


def test_commit_mismatch_fails_unless_allowed(cli, area, monorepo, clean_env):
    built = monorepo.head
    area.push_build(PROJECT, sha=built, number=8)
    (monorepo.root / "percolate" / "CHANGES").write_text("after the RC\n")
    later = monorepo.commit_all("a change after the RC build")
    monorepo.tag(TAG)

    refused = run_promote(cli, area, monorepo, clean_env)
    tags_after_refusal = set(area.tags(PROJECT))
    allowed = run_promote(cli, area, monorepo, clean_env, "--allow-commit-mismatch", "--json")

    assert refused.code == 1
    assert f"{TAG} is commit {later[:12]}" in refused.stderr and built[:7] in refused.stderr
    assert "--allow-commit-mismatch" in refused.stderr
    assert not {"0.1.0-amd64", "0.1.0-arm64", "0.1.0"} & tags_after_refusal
    assert allowed.code == 0, allowed.stderr
    assert allowed.json()["commit_check"]["status"] == "mismatch-allowed"


def test_release_tag_missing_from_the_checkout_fails_with_a_fetch_hint(cli, area, monorepo, clean_env):
    area.push_build(PROJECT, sha=monorepo.head, number=8)

    result = run_promote(cli, area, monorepo, clean_env)

    assert result.code == 1
    assert f"{TAG} is not in this checkout" in result.stderr and "git fetch --tags" in result.stderr
    assert "0.1.0" not in area.tags(PROJECT)


def test_outside_a_checkout_the_commit_check_is_skipped(cli, area, clean_env, tmp_path):
    area.push_build(PROJECT, sha="abc1234def", number=8)
    outside = tmp_path / "not-a-checkout"
    outside.mkdir()

    result = cli("promote", TAG, "--registry", area.registry(), "--json", cwd=outside, env=clean_env)

    assert result.code == 0, result.stderr
    assert result.json()["commit_check"]["status"] == "skipped"
    assert "was not checked" in result.stderr


def test_no_build_of_the_version_names_the_version_and_the_newest_builds(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=2, version="0.0.9")

    result = run_promote(cli, area, released, clean_env)

    assert result.code == 1
    assert "no RC build of 0.1.0" in result.stderr
    assert f"2025.10.25.1430-build.2-v0.0.9-{released.head[:7]}" in result.stderr


def test_only_incomplete_builds_name_the_missing_platform(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=2, arches=("arm64",))

    result = run_promote(cli, area, released, clean_env)

    assert result.code == 1
    assert "no complete RC build of 0.1.0" in result.stderr and "missing amd64" in result.stderr


def test_an_image_whose_config_disagrees_with_its_tag_is_refused(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=2, config_arch={"amd64": "arm64"})

    result = run_promote(cli, area, released, clean_env)

    assert result.code == 1
    assert "is tagged amd64, but its image is linux/arm64" in result.stderr
    assert "0.1.0" not in area.tags(PROJECT)


def test_github_actions_outputs_and_step_summary(cli, area, released, clean_env, tmp_path: Path):
    pushed = area.push_build(PROJECT, sha=released.head, number=6)
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    outputs.write_text("earlier=kept\n")

    result = run_promote(
        cli, area, released, {**clean_env, "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)}
    )

    assert result.code == 0, result.stderr
    lines = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    index = area.digest(PROJECT, "0.1.0")
    assert lines["earlier"] == "kept"
    assert lines["index-digest"] == index
    assert lines["digest-amd64"] == pushed["amd64"].digest and lines["digest-arm64"] == pushed["arm64"].digest
    assert lines["image"] == f"{area.host}/{area.namespace}/percolate@{index}"
    assert f"| `0.1.0` | `{index}` | written |" in summary.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["percolate-v0.1.0-rc2"], "is an RC tag"),
        (["percolate-rocks-v0.1.0"], "ships wheels, not images"),
        (["percolate-v0.1"], "malformed tag"),
        (
            ["percolate-v0.1.0", "--stack-config", "no-such/Pulumi.prod.yaml"],
            "stack config no-such/Pulumi.prod.yaml not found",
        ),
        (["percolate-v0.1.0", "--registry", "https://ghcr.io/x"], "has a scheme"),
        (["percolate-v0.1.0", "--registry", "127.0.0.1:99999/x"], "outside 1-65535"),
        (["percolate-v0.1.0", "--registry", "ghcr.io/Upper"], "invalid component"),
        (["percolate-v0.1.0", "--max-time", "0"], "not a positive number of seconds"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(cli, clean_env, args, message):
    result = cli("promote", *args, env=clean_env)

    assert result.code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_help_describes_the_command_with_examples(cli):
    result = cli("promote", "--help")

    assert result.code == 0
    assert "newest RC build" in result.stdout and "examples:" in result.stdout and "--dry-run" in result.stdout


def test_a_promotion_loads_neither_a_thread_pool_nor_logging_nor_http_client(area, released, clean_env):
    """Its requests go out at once on threads of its own (`at_once`): `concurrent.futures` would load `logging`,
    which costs a fresh process more than the requests it starts. Its HTTP is `http_wire`'s: `http.client`
    would load `email` and `ssl`, and a plain-http registry needs no TLS."""
    area.push_build(PROJECT, sha=released.head, number=12, at="2025-10-25T14:30:00+00:00", shape="buildx")
    where = ["--registry", area.registry(), "--root", str(released.root)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipelines", "promote", TAG, "--dry-run", "--json", *where],
        capture_output=True,
        text=True,
        env={**os.environ, **clean_env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert {"pipelines.images.release", "pipelines.images.reading"} <= imported  # the control: it did read
    # shutil: argparse imports it for the terminal's width, which `arguments.HelpFormatter` finds without it.
    assert imported.isdisjoint({"concurrent.futures", "logging", "http.client", "email", "ssl", "shutil"})
