"""percolate-rocks as its users get it: the RC installed from the index by version, never this checkout.

The RC build runs these on a clean runner of every wheel platform after
`pip install percolate-rocks==$PACKAGE_VERSION` from TestPyPI (docs/staging.md).
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import percolate_rocks
import pytest

PROJECT = Path(__file__).resolve().parents[2]


def expected_version() -> str:
    version = os.environ.get("PACKAGE_VERSION")
    if not version:
        pytest.fail("PACKAGE_VERSION is not set: name the RC under test, e.g. 0.2.0rc1")
    return version


def test_the_installed_package_is_tested_not_the_checkout():
    assert PROJECT not in Path(percolate_rocks.__file__).resolve().parents


def test_the_installed_version_is_the_rc_under_test():
    assert importlib.metadata.version("percolate-rocks") == expected_version()


def test_the_compiled_core_loads_on_this_platform():
    # What a wheel of the wrong platform (or a pure-Python fallback) would get wrong: the extension itself.
    from percolate_rocks import _core

    assert Path(str(_core.__file__)).suffix in (".so", ".pyd")
