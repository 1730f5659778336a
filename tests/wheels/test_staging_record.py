"""percolate-rocks' staging: the record on the RC's GitHub release, written by `wheels staging-record` and
required by `wheels find-rc --require-staging`.

The RC files are real wheels and sdists (conftest.py), served by the PEP 691 loopback index; GitHub's
releases API is a loopback server answering with the documented shapes (release by tag with its
assets; an asset download that redirects to storage, as GitHub's does). Every record here is signed
as rc2's build signs it (test_staging_signature.py refuses the other signers), so these tests are
about what a record says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import Corrupt
from pipelines.staging.wheel_record import parse_record
from tests.wheels.conftest import OUTSIDE_A_CHECKOUT, RC2_BUILD, attach_signed, find_rc, record


def test_a_passed_record_of_the_served_files_lets_find_rc_take_the_rc(
    cli, published, releases, sigstore, trusted_root, tmp_path
):
    data = record(cli, published.url, "0.2.0rc2", "passed", tmp_path / "record.json")
    written = json.loads(data)
    assert written["result"] == "passed" and written["version"] == "0.2.0rc2"
    assert set(written["files"]) == {name for name in published.files if "0.2.0rc2" in name}
    attach_signed(releases, sigstore, data)
    result = find_rc(cli, published.url, tmp_path / "rc", releases, trusted_root)
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["rc"] == 2
    assert report["staging"]["result"] == "passed"
    assert report["staging"]["files"] == {f["filename"]: f["sha256"] for f in report["files"]}
    assert RC2_BUILD.identity in result.stderr  # the progress names the signer it required
    assert "ghs_sampletoken" not in result.stdout + result.stderr
    # The release was read with the token (a private repository's releases need it), never printed.
    assert releases.authorizations[0] == "Bearer ghs_sampletoken"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "has no staging record"),
        ("failed", "failed staging (https://github.com/percolation-labs/percolate/actions/runs/7)"),
        ("person", "was uploaded by mallory, not by a workflow"),
        ("other-files", "tested other files than the index serves now"),
        ("older-rc", "is about percolate-rocks 0.2.0rc1, not percolate-rocks 0.2.0rc2"),
        ("corrupt", "is not a non-empty string"),
    ],
)
def test_find_rc_refuses_an_rc_that_did_not_pass_staging(
    cli, published, releases, sigstore, trusted_root, tmp_path, setup, message
):
    """Each record is signed by rc2's own build: what it says is refused, not who wrote it."""
    passed = record(cli, published.url, "0.2.0rc2", "passed", tmp_path / "passed.json")
    if setup == "failed":
        attach_signed(releases, sigstore, record(cli, published.url, "0.2.0rc2", "failed", tmp_path / "r.json"))
    elif setup == "person":
        attach_signed(releases, sigstore, passed, uploader="mallory")
    elif setup == "other-files":
        document = json.loads(passed)
        first = sorted(document["files"])[0]
        document["files"][first] = "0" * 64
        attach_signed(releases, sigstore, json.dumps(document).encode())
    elif setup == "older-rc":
        attach_signed(releases, sigstore, record(cli, published.url, "0.2.0rc1", "passed", tmp_path / "r.json"))
    elif setup == "corrupt":
        document = json.loads(passed)
        document["project"] = ""
        attach_signed(releases, sigstore, json.dumps(document).encode())
    result = find_rc(cli, published.url, tmp_path / "rc", releases, trusted_root)
    assert result.code == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "rc").exists(), "nothing is written for a refused RC"


def test_require_staging_without_a_repository_is_bad_input(cli, published, tmp_path):
    result = cli(
        "wheels", "find-rc", "percolate-rocks", "0.2.0", "--index", published.url, "--to", str(tmp_path / "rc"),
        "--require-staging", cwd=OUTSIDE_A_CHECKOUT, env={"GITHUB_REPOSITORY": "", "GITHUB_TOKEN": ""},
    )  # fmt: skip
    assert result.code == 2
    assert "GITHUB_REPOSITORY" in result.stderr
    assert not (tmp_path / "rc").exists()


def test_staging_record_refuses_a_version_the_index_does_not_serve(cli, published, tmp_path):
    result = cli(
        "wheels", "staging-record", "percolate-rocks", "0.2.0rc9", "--result", "passed",
        "--index", published.url, "--out", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert result.code == 2 and "serves no file" in result.stderr
    assert not (tmp_path / "r.json").exists()
    final = cli("wheels", "staging-record", "percolate-rocks", "0.2.0", "--result", "passed", "--out", "x.json")
    assert final.code == 2 and "no release candidate" in final.stderr


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(
    st.binary(max_size=200)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
    | st.dictionaries(
        st.sampled_from(["kind", "project", "version", "result", "recorded_at", "run_url", "index", "files"]),
        JSON_VALUES | st.just("wheel-staging-record") | st.just("passed"),
    ).map(lambda value: json.dumps(value).encode())
)
def test_any_bytes_are_a_record_or_corrupt(data):
    try:
        parsed = parse_record(data, "test")
    except Corrupt as error:
        assert error.hint
    else:
        assert parsed.result in ("passed", "failed") and parsed.files


ROCKS_SUITE = (
    Path(__file__).resolve().parents[2] / "examples" / "monorepo" / "percolate-rocks" / "tests" / "integration"
)


@pytest.mark.parametrize(("under_test", "passes"), [("0.2.0rc1", True), ("0.2.0rc2", False)])
def test_the_rocks_suite_tests_the_installed_rc(rc_sets, installable_target, tmp_path, under_test, passes):
    """The staging suite against the real RC wheel installed into a folder of its own (as pip on a clean
    runner does); naming another RC than the one installed is the control it must fail."""
    wheel = rc_sets.full_set("0.2.0rc1")[installable_target]
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROCKS_SUITE), "-p", "no:cacheprovider", "-q"],
        check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "PACKAGE_VERSION": under_test},
    )  # fmt: skip
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    if not passes:
        assert "test_the_installed_version_is_the_rc_under_test FAILED" in result.stdout or "1 failed" in result.stdout


def _rc2_dist(published, folder: Path) -> Path:
    """The folder of rc2's files as the build run has them (its artifacts)."""
    folder.mkdir()
    for path in published.files.values():
        if "0.2.0rc2" in path.name:
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def _record_with_files(cli, published, dist: Path, out: Path):
    return cli(
        "wheels", "staging-record", "percolate-rocks", "0.2.0rc2", "--result", "passed", "--index", published.url,
        "--files", str(dist), "--out", str(out), "--json",
    )  # fmt: skip


def test_a_record_names_exactly_the_files_the_run_built(cli, published, tmp_path):
    dist = _rc2_dist(published, tmp_path / "dist")

    written = _record_with_files(cli, published, dist, tmp_path / "r.json")

    assert written.code == 0, written.stderr
    assert set(written.json()["files"]) == {p.name for p in dist.iterdir()}


@pytest.mark.parametrize("planted", ["extra-file", "other-bytes", "alias-version"])
def test_a_file_the_run_did_not_build_is_never_recorded_as_tested(cli, published, tmp_path, planted):
    """Someone uploads to TestPyPI between the publish job and the record: the record refuses (exit 1) rather
    than name a file no runner tested, which find-rc would then release. The control is the record without
    --files, which takes whatever the index serves."""
    dist = _rc2_dist(published, tmp_path / "dist")
    wheel = next(p for p in dist.iterdir() if p.name.endswith(".whl"))
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    if planted == "extra-file":
        name = "percolate_rocks-0.2.0rc2-cp311-cp311-musllinux_1_2_x86_64.whl"
        (stranger / name).write_bytes(wheel.read_bytes())
    elif planted == "alias-version":  # the same version under PEP 440 (c2 is rc2)
        name = wheel.name.replace("0.2.0rc2", "0.2.0c2")
        (stranger / name).write_bytes(wheel.read_bytes())
    else:
        name = wheel.name
        (stranger / name).write_bytes(wheel.read_bytes() + b"\0")
    published.files = {**{k: v for k, v in published.files.items() if k != name}, name: stranger / name}

    refused = _record_with_files(cli, published, dist, tmp_path / "r.json")
    control = record(cli, published.url, "0.2.0rc2", "passed", tmp_path / "control.json")

    assert refused.code == 1, refused.stderr
    assert name in refused.stderr and not (tmp_path / "r.json").exists()
    assert name in json.loads(control)["files"]
