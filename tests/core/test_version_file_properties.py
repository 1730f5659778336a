"""Property tests of the version files (issue 12): arbitrary bytes, or a real file spliced, as
pyproject.toml, Cargo.toml or Cargo.lock. `versions check` and `versions bump` end with exit 0, 1 or 2,
never an exception; a refused bump writes nothing; no secret from the environment is printed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLE_MONOREPO
from tests.core.file_properties import check_run

FILES = ("percolate/pyproject.toml", "percolate-rocks/Cargo.toml", "percolate-rocks/Cargo.lock")


def spliced(relative: str) -> st.SearchStrategy[bytes]:
    real = (EXAMPLE_MONOREPO / relative).read_bytes()
    return st.tuples(st.integers(0, len(real)), st.binary(max_size=30), st.integers(0, len(real))).map(
        lambda t: real[: t[0]] + t[1] + real[t[2] :]
    )


@settings(max_examples=80)
@given(
    data=st.data(),
    relative=st.sampled_from(FILES),
    command=st.sampled_from([["versions", "check"], ["versions", "bump", "PROJECT", "0.9.0"]]),
)
def test_any_bytes_as_a_version_file(data, relative, command):
    content = data.draw(st.one_of(st.binary(max_size=400), spliced(relative)))
    project = relative.split("/")[0]
    with tempfile.TemporaryDirectory(prefix="versions-property-") as folder:
        root = Path(folder) / "monorepo"
        shutil.copytree(EXAMPLE_MONOREPO, root)
        (root / relative).write_bytes(content)
        argv = [project if part == "PROJECT" else part for part in command]
        check_run([*argv, "--root", str(root)], root)
