"""`Value` behaves as the frozen dataclass it replaces on `tag parse`'s path: compared, hashed and shown by its
fields, never changed, copied and pickled whole."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from pipelines.core.catalog import PROJECTS, Project, PublishingIndex, WheelTarget, get_project
from pipelines.core.tags import ReleaseTag, parse_tag
from pipelines.core.values import Value
from pipelines.core.versions import ProjectVersion


@dataclasses.dataclass(frozen=True)
class VersionAsDataclass:
    major: int
    minor: int
    patch: int
    pre: tuple[str, int] | None = None


def test_equality_and_hash_go_by_the_fields_and_the_class():
    version = ProjectVersion(0, 2, 0, ("rc", 1))
    assert version == ProjectVersion(0, 2, 0, ("rc", 1))
    assert version != ProjectVersion(0, 2, 0)
    assert hash(version) == hash(ProjectVersion(0, 2, 0, ("rc", 1)))
    assert len({version, ProjectVersion(0, 2, 0, ("rc", 1)), ProjectVersion(0, 2, 0)}) == 2
    # As a dataclass's: another class with the same fields is not equal, nor is the tuple of the fields.
    assert version != VersionAsDataclass(0, 2, 0, ("rc", 1))
    assert version != (0, 2, 0, ("rc", 1))
    assert hash(version) == hash(VersionAsDataclass(0, 2, 0, ("rc", 1)))


def test_repr_is_the_dataclass_one():
    assert repr(ProjectVersion(1, 2, 3)) == repr(VersionAsDataclass(1, 2, 3)).replace(
        "VersionAsDataclass", "ProjectVersion"
    )
    assert repr(parse_tag("percolate-v1.2.3-rc4")) == (
        "ReleaseTag(project='percolate', version=ProjectVersion(major=1, minor=2, patch=3, pre=None), rc=4)"
    )


def test_a_value_never_changes():
    tag = parse_tag("percolate-v1.2.3")
    with pytest.raises(AttributeError, match="cannot assign to field 'rc'"):
        tag.rc = 1  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'project'"):
        del tag.project  # type: ignore[misc]
    with pytest.raises(AttributeError):
        tag.other = 1  # type: ignore[attr-defined]
    assert not hasattr(tag, "__dict__")


@pytest.mark.parametrize("value", [*PROJECTS, parse_tag("percolate-reading-v0.1.0-rc2"), ProjectVersion(0, 1, 0)])
def test_copies_and_pickles_are_equal_values(value):
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value
    assert pickle.loads(pickle.dumps(value)) == value


def test_the_catalog_keeps_its_defaults():
    project = Project("p", "p", get_project("percolate").artifact, ("p/pyproject.toml",))
    assert (project.image_name, project.platforms, project.wheel_targets, project.benchmark_threshold_pct) == (
        None,
        (),
        (),
        None,
    )
    assert ReleaseTag("percolate", ProjectVersion(1, 0, 0)).rc is None


def test_every_value_lists_its_fields_in_slots():
    """A field missing from `__slots__` could not be set; one too many would be compared unset."""
    for cls in (Project, PublishingIndex, WheelTarget, ReleaseTag, ProjectVersion):
        assert issubclass(cls, Value)
        assert list(cls.__slots__) == [name for name in cls.__annotations__ if name != "__slots__"]
