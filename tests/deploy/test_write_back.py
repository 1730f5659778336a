"""The write-back: only `images.<project>` changes; every other byte, comments included, stays."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.deploy.write_back import StackFile

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"


@pytest.fixture
def stack(tmp_path: Path) -> StackFile:
    path = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    return StackFile(path)


def test_write_back_matches_the_golden_file_byte_for_byte(stack: StackFile, make_pin):
    assert stack.write_pin(make_pin("percolate", "0.2.0", blocked=("0.1.5",)))
    assert stack.write_pin(make_pin("percolate-reading", "0.1.0", build=131))
    assert stack.path.read_bytes() == (GOLDEN.with_name("Pulumi.prod.after.yaml")).read_bytes()
    assert stack.pin("percolate") == make_pin("percolate", "0.2.0", blocked=("0.1.5",))


def test_writing_the_same_pin_again_changes_nothing(stack: StackFile, make_pin):
    pin = make_pin("percolate", "0.2.0")
    assert stack.write_pin(pin)
    before = stack.path.read_bytes()
    assert not stack.write_pin(pin)
    assert stack.path.read_bytes() == before


def test_dry_run_and_failures_leave_the_file_untouched(stack: StackFile, make_pin):
    before = stack.path.read_bytes()
    assert stack.write_pin(make_pin("percolate", "0.2.0"), dry_run=True)
    assert stack.path.read_bytes() == before
    assert not list(stack.path.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("version: 0.1.0", "version: [0.1.0"),
            "line 14: expected ',' or ']', but got ':' (while parsing a flow sequence started on line 13)",
        ),
        (("digest: sha256:1111", "digest: sha256:zzzz"), "line 14: percolate-platform:images.percolate.digest"),
        (
            ("    percolate-reading:", "    percolate-writing:"),
            "line 21: percolate-platform:images.percolate-writing: unknown project",
        ),
        (
            ("        arm64: sha256:3333333333333333333333333333333333333333333333333333333333333333\n", ""),
            "line 15: percolate-platform:images.percolate.platforms: missing platform(s) arm64",
        ),
    ],
)
def test_malformed_files_are_refused_with_the_line_and_left_untouched(stack: StackFile, edit, message, make_pin):
    stack.path.write_text(stack.path.read_text().replace(*edit, 1))
    before = stack.path.read_bytes()
    with pytest.raises(InputError) as caught:
        stack.write_pin(make_pin("percolate", "0.2.0"))
    assert message in caught.value.message
    assert str(stack.path) in caught.value.message
    assert stack.path.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "expected_tail"),
    [
        (
            "config:\n  github:owner: labs # org\n",
            "  github:owner: labs # org\n  percolate-platform:images:\n    percolate:\n",
        ),
        ("config:\n  percolate-platform:images:\n  other: 1\n", "  percolate-platform:images:\n    percolate:\n"),
        ("# nothing yet\n", "# nothing yet\nconfig:\n  percolate-platform:images:\n    percolate:\n"),
        (
            "config:\n  percolate-platform:images:\n"
            "    percolate: {repository: ghcr.io/percolation-labs/percolate}\n  x: 1\n",
            "  percolate-platform:images:\n    percolate:\n"
            "      repository: ghcr.io/percolation-labs/percolate\n      version: 0.2.0\n",
        ),
    ],
)
def test_missing_or_empty_subtrees_are_created_in_place(tmp_path: Path, text: str, expected_tail: str, make_pin):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    stack = StackFile(path)
    pin = make_pin("percolate", "0.2.0")
    stack.write_pin(pin)
    assert expected_tail in path.read_text()
    assert stack.pin("percolate") == pin
    for line in text.splitlines():
        if "percolate" not in line:
            assert line in path.read_text().splitlines()


versions = st.tuples(*[st.integers(min_value=0, max_value=999)] * 3).map(lambda v: ".".join(map(str, v)))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    project=st.sampled_from(["percolate", "percolate-reading"]),
    version=versions,
    build=st.integers(1, 10**6),
    blocked=st.lists(versions, max_size=3, unique=True),
)
def test_any_pin_reads_back_and_the_rest_of_the_file_is_byte_identical(
    tmp_path: Path, project, version, build, blocked, make_pin
):
    path = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    stack = StackFile(path)
    pin = make_pin(project, version, build=build, blocked=tuple(b for b in blocked if b != version))
    stack.write_pin(pin)
    assert stack.pin(project) == pin
    before, after = GOLDEN.read_text().splitlines(), path.read_text().splitlines()
    # Everything up to the images subtree and from the next config key on is untouched.
    head = before.index("  percolate-platform:images:") + 1
    assert after[:head] == before[:head]
    assert after[-3:] == before[-3:]
    other = "percolate-reading" if project == "percolate" else "percolate"
    assert stack.pin(other) == StackFile(GOLDEN).pin(other)
    stack.write_pin(dataclasses.replace(pin, blocked=()) if version in blocked else pin)
