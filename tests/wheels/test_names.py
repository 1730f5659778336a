"""The pure rules of pipelines.wheels.select: file-name parsing (property-tested), RC choice, promotion plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.utils import parse_wheel_filename as reference_parse
from packaging.version import Version

from pipelines.core.catalog import PROJECTS
from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.versions import parse_release
from pipelines.wheels.select import (
    FileKind,
    parse_filename,
    parse_sdist_filename,
    parse_wheel_filename,
    plan_promotion,
    rc_number,
    select_rc,
)

ROCKS = next(p for p in PROJECTS if p.ships_wheels)
DIST = (ROCKS.distribution or ROCKS.name).replace("-", "_")
TAGS = {
    "manylinux-x86_64": "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux-aarch64": "manylinux_2_28_aarch64",
    "macos-x86_64": "macosx_10_12_x86_64",
    "macos-arm64": "macosx_11_0_arm64",
    "windows-x64": "win_amd64",
}


def rc_files(version: str, without: tuple[str, ...] = ()) -> list[str]:
    files = [f"{DIST}-{version}-cp39-abi3-{tag}.whl" for name, tag in TAGS.items() if name not in without]
    return files + ([] if "sdist" in without else [f"{DIST}-{version}.tar.gz"])


# --- file names -----------------------------------------------------------------------------------

alnum = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
distributions = (
    st.builds(
        lambda first, middle, last: first + middle + last,
        alnum,
        st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_."), max_size=12),
        alnum,
    )
    | alnum
)
releases = st.lists(st.integers(0, 999), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts)))
versions = st.builds(
    lambda release, pre, post, dev: release + pre + post + dev,
    releases,
    st.sampled_from(["", "a1", "b2", "rc3", "rc10"]),
    st.sampled_from(["", ".post1"]),
    st.sampled_from(["", ".dev4"]),
)
tag_parts = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_"), min_size=1, max_size=16)
tag_sets = st.lists(tag_parts, min_size=1, max_size=3).map(".".join)
builds = st.none() | st.builds(lambda d, rest: d + rest, st.sampled_from("0123456789"), st.text(alnum, max_size=4))


@given(distributions, versions, builds, tag_sets, tag_sets, tag_sets)
def test_wheel_names_round_trip(distribution, version, build, python_tag, abi_tag, platform_tag):
    filename = (
        "-".join([distribution, version] + ([build] if build else []) + [python_tag, abi_tag, platform_tag]) + ".whl"
    )
    name = parse_wheel_filename(filename)
    assert name.filename == filename
    assert (name.distribution, name.version, name.build) == (distribution, version, build)
    assert (name.python_tag, name.abi_tag, name.platform_tag) == (python_tag, abi_tag, platform_tag)
    assert name.platforms == tuple(platform_tag.split("."))
    assert name.project == canonicalize_name(distribution)
    # packaging's reference parser agrees on the name and version wherever it accepts the name.
    try:
        ref_name, ref_version, _, _ = reference_parse(filename)
    except ValueError:
        return
    assert (ref_name, ref_version) == (name.project, Version(version))


@given(distributions, versions, versions)
def test_with_version_changes_only_the_version(distribution, version, new):
    wheel = parse_wheel_filename(f"{distribution}-{version}-cp311-cp311-win_amd64.whl")
    assert wheel.with_version(new).filename == f"{distribution}-{new}-cp311-cp311-win_amd64.whl"
    sdist = parse_sdist_filename(f"{distribution}-{version}.tar.gz")
    assert sdist.with_version(new).filename == f"{distribution}-{new}.tar.gz"


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_as_input(text):
    try:
        name = parse_filename(text)
    except InputError as error:
        assert error.hint
    else:
        assert name.filename == text


@given(distributions.map(lambda d: d.replace("_", "-")), versions)
def test_legacy_sdist_names_keep_their_dashes(distribution, version):
    name = parse_sdist_filename(f"{distribution}-{version}.tar.gz")
    assert (name.kind, name.distribution, name.version) == (FileKind.SDIST, distribution, version)


@pytest.mark.parametrize(
    "filename",
    [
        "pkg-1.0-py3-none.whl",  # four parts
        "pkg-1.0-1-2-py3-none-any.whl",  # seven parts
        "pkg-notaversion-py3-none-any.whl",
        "pkg-1.0-x1-py3-none-any.whl",  # a build tag starts with a digit
        "-1.0-py3-none-any.whl",
        "pkg-1.0-py3-none-any..x.whl",
        "pkg-1.0-py3-none-any.zip",
        "pkg.tar.gz",
        "pkg-1.0.zip",
        "pkg-1.0+local!.tar.gz",
    ],
)
def test_malformed_names_are_refused(filename):
    with pytest.raises(InputError):
        parse_filename(filename)


def test_compressed_platform_tags_and_build_tags():
    name = parse_wheel_filename(f"{DIST}-0.2.0rc3-1local-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert name.build == "1local"
    assert name.platforms == ("manylinux_2_17_x86_64", "manylinux2014_x86_64")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.2.0rc3", 3), ("0.2.0rc12", 12), ("0.2.0c3", 3), ("0.2.0", None), ("0.2.1rc1", None),
     ("0.2.0a1", None), ("0.2.0rc1.post1", None), ("0.2.0rc1.dev1", None), ("1!0.2.0rc1", None),
     ("0.2.0rc1+local", None), ("0.2rc1", None)],
)  # fmt: skip
def test_rc_number_is_exactly_an_rc_of_the_release(text, expected):
    assert rc_number(Version(text), parse_release("0.2.0")) == expected


# --- choosing the RC ------------------------------------------------------------------------------


def test_the_newest_complete_rc_wins_over_a_newer_incomplete_one():
    files = rc_files("0.2.0rc1") + rc_files("0.2.0rc2") + rc_files("0.2.0rc10", without=("macos-arm64",))
    selection = select_rc(ROCKS, parse_release("0.2.0"), files)
    assert selection.require().rc == 2
    assert [(c.rc, c.missing) for c in selection.candidates] == [(10, ("macos-arm64",)), (2, ()), (1, ())]
    assert sorted(n.filename for n in selection.require().files) == sorted(rc_files("0.2.0rc2"))


def test_other_projects_versions_and_junk_are_ignored():
    other = "percolate_reading-0.2.0rc9-py3-none-any.whl"
    files = rc_files("0.2.0rc1") + rc_files("0.3.0rc4") + rc_files("0.2.0") + [other, "README.txt"]
    selection = select_rc(ROCKS, parse_release("0.2.0"), files)
    assert selection.require().rc == 1
    assert other in selection.ignored and "README.txt" in selection.ignored
    assert set(rc_files("0.3.0rc4")) <= set(selection.ignored)


def test_no_complete_rc_says_what_each_lacks():
    files = rc_files("0.2.0rc1", without=("sdist",)) + rc_files("0.2.0rc2", without=("windows-x64", "macos-x86_64"))
    with pytest.raises(CheckFailed) as failure:
        select_rc(ROCKS, parse_release("0.2.0"), files).require()
    assert "rc2 lacks macos-x86_64, windows-x64" in failure.value.message
    assert "rc1 lacks sdist" in failure.value.message


def test_no_rc_at_all_names_the_tag_to_push():
    with pytest.raises(CheckFailed) as failure:
        select_rc(ROCKS, parse_release("0.2.0"), rc_files("0.1.0rc1")).require()
    assert f"{ROCKS.name}-v0.2.0-rc1" in (failure.value.hint or "")


def test_a_target_needs_a_matching_platform_not_just_any_wheel():
    files = rc_files("0.2.0rc1", without=("manylinux-aarch64",))
    files.append(f"{DIST}-0.2.0rc1-cp39-abi3-musllinux_1_2_aarch64.whl")
    selection = select_rc(ROCKS, parse_release("0.2.0"), files)
    assert selection.candidates[0].missing == ("manylinux-aarch64",)


# --- planning a promotion -------------------------------------------------------------------------


def test_plan_renames_every_file_to_the_final_version():
    plan = plan_promotion(ROCKS, parse_release("0.2.0"), rc_files("0.2.0rc3"))
    assert (plan.rc, plan.from_version, plan.to_version) == (3, "0.2.0rc3", "0.2.0")
    assert sorted(r.target.filename for r in plan.renames) == sorted(rc_files("0.2.0"))
    for rename in plan.renames:
        assert rename.source.with_version("0.2.0") == rename.target


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (rc_files("0.2.0rc3") + rc_files("0.2.0rc2"), "more than one release candidate"),
        (rc_files("0.2.0"), "not a release candidate of 0.2.0"),
        (rc_files("0.2.1rc1"), "not a release candidate of 0.2.0"),
        ([*rc_files("0.2.0rc3"), "percolate_reading-0.2.0rc3-py3-none-any.whl"], "another project"),
        ([*rc_files("0.2.0rc3"), "notes.txt"], "neither a wheel nor an sdist"),
        ([], "no files"),
        ([*rc_files("0.2.0rc3"), f"{DIST}-0.2.0c3.tar.gz"], "the same name"),
    ],
)
def test_plan_refuses_anything_but_one_rc_of_the_project(files, needle):
    with pytest.raises(InputError) as failure:
        plan_promotion(ROCKS, parse_release("0.2.0"), files)
    assert needle in failure.value.message


def test_plan_refuses_an_incomplete_set_as_a_failed_check():
    with pytest.raises(CheckFailed) as failure:
        plan_promotion(ROCKS, parse_release("0.2.0"), rc_files("0.2.0rc3", without=("sdist",)))
    assert failure.value.message.endswith("lacks sdist")


def test_plan_refuses_a_pre_release_target():
    with pytest.raises(InputError):
        plan_promotion(ROCKS, parse_release("0.2.0").with_rc(1), rc_files("0.2.0rc1"))
