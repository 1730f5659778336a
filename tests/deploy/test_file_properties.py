"""Property tests of the deployment's file boundaries (issue 12): arbitrary bytes as a stack file and as a
promotion record, arbitrary JSON shapes for --promotion. Whatever the input: exit 0, 1 or 2, never an
exception, nothing written on a refusal, no secret from the environment in the output."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.file_properties import check_run

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"
GOLDEN_BYTES = GOLDEN.read_bytes()

# Bytes near a real stack file find more than random noise: the golden file cut, spliced and sprinkled.
near_stack_file = st.one_of(
    st.binary(max_size=2000),
    st.tuples(st.integers(0, len(GOLDEN_BYTES)), st.binary(max_size=40), st.integers(0, len(GOLDEN_BYTES))).map(
        lambda t: GOLDEN_BYTES[: t[0]] + t[1] + GOLDEN_BYTES[t[2] :]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
record_keys = ("project", "repository", "version", "source", "platforms", "index_digest", "dry_run")
promotion_shapes = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={key: json_values for key in record_keys}),
)


def workspace() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="stack-property-")


@settings(max_examples=60)
@given(content=near_stack_file, command=st.sampled_from(["show", "set-image"]))
def test_any_bytes_as_a_stack_file(content, command):
    with workspace() as folder:
        root = Path(folder)
        stack = root / "Pulumi.prod.yaml"
        stack.write_bytes(content)
        argv = ["stack-config", command, "--stack-config", str(stack)]
        if command == "set-image":
            argv[2:2] = ["percolate", "--version", "0.4.0", "--digest", "sha256:" + "a" * 64]
            argv += ["--platform", "amd64=sha256:" + "b" * 64, "--platform", "arm64=sha256:" + "c" * 64]
            argv += ["--source", "2025.11.01.0900-build.130-v0.4.0-def5678"]
        check_run(argv, root)


@settings(max_examples=60)
@given(record=st.one_of(st.binary(max_size=500), promotion_shapes.map(lambda v: json.dumps(v).encode())))
def test_any_promotion_record(record):
    with workspace() as folder:
        root = Path(folder)
        shutil.copy(GOLDEN, root / "Pulumi.prod.yaml")
        (root / "promotion.json").write_bytes(record)
        argv = ["stack-config", "set-image", "percolate", "--promotion", str(root / "promotion.json")]
        check_run([*argv, "--stack-config", str(root / "Pulumi.prod.yaml")], root)
