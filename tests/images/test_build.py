"""A build's platform tags: asking for one it lacks is a clear NotFound, never a bare KeyError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.core.calver import make_build_tag, order_build_tags
from pipelines.core.errors import NotFound
from pipelines.images.rules import group_builds


def test_tag_for_a_missing_platform_names_the_build_and_what_it_has():
    at = datetime(2025, 10, 1, tzinfo=UTC)
    tag = make_build_tag(version="0.1.0", sha="abc1234", arch="amd64", build=7, at=at).tag
    (build,) = group_builds(order_build_tags([tag]).tags)
    assert build.tag_for("amd64").tag == tag
    with pytest.raises(NotFound, match=r"has no arm64 image \(it has amd64\)"):
        build.tag_for("arm64")
