"""Build metadata: the record of an RC build, checked against its plan (pure rule and the command)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.tags import parse_tag
from pipelines.core.version_check import VersionReading, check_versions
from pipelines.core.versions import parse_version
from pipelines.plan.build_record import BuiltFile, PushedImage, build_metadata, parse_pushed_image
from pipelines.plan.steps import make_plan

SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32
WHEEL_NAMES = [
    "percolate_rocks-0.2.0rc1-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "percolate_rocks-0.2.0rc1-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "percolate_rocks-0.2.0rc1-cp39-abi3-macosx_10_12_x86_64.whl",
    "percolate_rocks-0.2.0rc1-cp39-abi3-macosx_11_0_arm64.whl",
    "percolate_rocks-0.2.0rc1-cp39-abi3-win_amd64.whl",
    "percolate_rocks-0.2.0rc1.tar.gz",
]


def plan_of(tag_name: str) -> dict:
    tag = parse_tag(tag_name)
    readings = [VersionReading("f", "version", tag.version.release, parse_version(tag.version.release))]
    check = check_versions(tag.project, readings, expected=tag.version)
    at = datetime(2025, 10, 25, 14, 30, tzinfo=UTC)
    return make_plan(tag, check, commit=SHA, run_number=7, at=at, registry="ghcr.io/percolation-labs").to_dict()


def files(names: list[str]) -> list[BuiltFile]:
    return [BuiltFile(name, "0" * 64, 10) for name in names]


def pushed(plan: dict) -> list[PushedImage]:
    return [PushedImage(a["platform"], a["name"], DIGEST) for a in plan["artifacts"] if a["kind"] == "image"]


def test_a_complete_wheel_build_is_recorded_with_its_files():
    record = build_metadata(plan_of("percolate-rocks-v0.2.0-rc1"), files=files(WHEEL_NAMES), run_id="99")
    assert (record["tag"], record["commit"], record["run_number"], record["run_id"]) == (
        "percolate-rocks-v0.2.0-rc1",
        SHA,
        7,
        "99",
    )
    assert record["package_version"] == "0.2.0rc1"
    assert [f["name"] for f in record["files"]] == sorted(WHEEL_NAMES)


def test_a_missing_target_or_a_stray_file_fails():
    with pytest.raises(CheckFailed) as caught:
        build_metadata(plan_of("percolate-rocks-v0.2.0-rc1"), files=files([*WHEEL_NAMES[1:], "notes.txt"]), run_id=None)
    assert "no file for the planned wheel manylinux-x86_64" in caught.value.message
    assert "notes.txt is not one of the planned files" in caught.value.message


def test_an_image_build_is_recorded_with_its_digests():
    plan = plan_of("percolate-v0.1.0-rc2")
    record = build_metadata(plan, images=pushed(plan), run_id=None)
    assert [(i["platform"], i["digest"]) for i in record["images"]] == [("amd64", DIGEST), ("arm64", DIGEST)]
    assert "files" not in record


def test_images_must_be_the_planned_references_of_every_platform():
    plan = plan_of("percolate-v0.1.0-rc2")
    amd64, arm64 = pushed(plan)
    with pytest.raises(CheckFailed, match="no image pushed for the planned platform arm64"):
        build_metadata(plan, images=[amd64], run_id=None)
    moved = PushedImage("arm64", arm64.reference.replace("build.7", "build.8"), DIGEST)
    with pytest.raises(CheckFailed, match=r"arm64 was pushed as .*build.8.* but the plan says .*build.7"):
        build_metadata(plan, images=[amd64, moved], run_id=None)
    with pytest.raises(CheckFailed, match="builds images only"):
        build_metadata(plan, images=pushed(plan), files=files(["x.whl"]), run_id=None)


def test_a_release_plan_has_no_build_to_record():
    with pytest.raises(InputError, match="stage 'release'"):
        build_metadata(plan_of("percolate-v0.1.0"), run_id=None)


@pytest.mark.parametrize("text", ["amd64", "amd64=ref", "amd64=ref@sha256:abc", "=ref@" + DIGEST, "amd64=@" + DIGEST])
def test_pushed_image_arguments_are_strict(text):
    with pytest.raises(InputError):
        parse_pushed_image(text)
    assert parse_pushed_image(f"amd64=ghcr.io/o/p:t@{DIGEST}") == PushedImage("amd64", "ghcr.io/o/p:t", DIGEST)


def test_the_command_writes_the_record_and_refuses_an_incomplete_build(cli, monorepo, tmp_path):
    monorepo.tag("percolate-rocks-v0.2.0-rc1")
    plan = cli("plan", "percolate-rocks-v0.2.0-rc1", "--json", cwd=monorepo.root)
    assert plan.code == 0, plan.stderr
    (tmp_path / "plan.json").write_text(plan.stdout)
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in WHEEL_NAMES:
        (dist / name).write_bytes(name.encode())
    out = tmp_path / "build-metadata.json"

    result = cli(
        "build-metadata",
        "--plan",
        str(tmp_path / "plan.json"),
        "--files",
        str(dist),
        "--out",
        str(out),
        env={"GITHUB_RUN_ID": "4242"},
    )
    assert result.code == 0, result.stderr
    record = json.loads(out.read_text())
    assert (record["commit"], record["run_id"]) == (monorepo.head, "4242")
    assert {f["name"]: f["size"] for f in record["files"]} == {name: len(name) for name in WHEEL_NAMES}

    (dist / WHEEL_NAMES[0]).unlink()
    out.unlink()
    refused = cli("build-metadata", "--plan", str(tmp_path / "plan.json"), "--files", str(dist), "--out", str(out))
    assert refused.code == 1 and "no file for the planned wheel manylinux-x86_64" in refused.stderr
    assert not out.exists()


def test_the_command_reads_what_the_push_jobs_wrote(cli, monorepo, tmp_path):
    plan = cli(
        "plan",
        "percolate-v0.1.0-rc1",
        "--json",
        "--run-number",
        "12",
        "--at",
        "2025-10-25T14:30:00Z",
        cwd=monorepo.root,
    )
    assert plan.code == 0, plan.stderr
    (tmp_path / "plan.json").write_text(plan.stdout)
    pushed_files = []
    for artifact in plan.json()["artifacts"]:
        path = tmp_path / f"pushed-{artifact['platform']}.txt"
        path.write_text(f"{artifact['platform']}={artifact['name']}@{DIGEST}\n")
        pushed_files.append(str(path))
    out = tmp_path / "build-metadata.json"

    result = cli(
        "build-metadata", "--plan", str(tmp_path / "plan.json"), "--images", *pushed_files, "--out", str(out), "--json"
    )
    assert result.code == 0, result.stderr
    assert json.loads(out.read_text()) == result.json()
    assert [image["platform"] for image in result.json()["images"]] == ["amd64", "arm64"]

    missing = cli(
        "build-metadata",
        "--plan",
        str(tmp_path / "plan.json"),
        "--images",
        pushed_files[0],
        "--out",
        str(tmp_path / "other.json"),
    )
    assert missing.code == 1 and "no image pushed for the planned platform arm64" in missing.stderr
