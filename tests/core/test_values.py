"""`Value` behaves as the frozen dataclass it replaces on the paths of `tag parse` and `promote`: built, compared,
hashed and shown by its fields, never changed, copied and pickled whole."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest

from pipelines.core.catalog import PROJECTS, Project, PublishingIndex, WheelTarget, get_project
from pipelines.core.digests import sha256_digest
from pipelines.core.tags import ReleaseTag, parse_tag
from pipelines.core.values import Value, field
from pipelines.core.versions import ProjectVersion
from pipelines.images.registry.manifests import OCI_INDEX, Manifest


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
    assert tag.rc is None


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


def test_every_value_has_its_annotations_as_fields():
    for cls in (Project, PublishingIndex, WheelTarget, ReleaseTag, ProjectVersion):
        assert issubclass(cls, Value)
        assert list(cls._value_fields) == list(cls.__annotations__)


class Record(Value):
    """Every feature of a `Value`, beside the frozen dataclass it stands for."""

    KIND: ClassVar[str] = "record"  # not a field
    name: str
    secret: str = field(repr=False)
    size: int = 0
    note: str | None = field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class RecordAsDataclass:
    KIND: ClassVar[str] = "record"
    name: str
    secret: str = dataclasses.field(repr=False)
    size: int = 0
    note: str | None = dataclasses.field(default=None, repr=False)


class Child(Record):
    extra: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a", "s"), {}), (("a",), {"secret": "s", "note": "n"}), ((), {"name": "a", "secret": "s", "size": 3})],
)
def test_a_value_is_built_and_shown_as_its_dataclass(args, kwargs):
    value, twin = Record(*args, **kwargs), RecordAsDataclass(*args, **kwargs)
    assert repr(value) == repr(twin).replace("RecordAsDataclass", "Record")
    assert "'s'" not in repr(value)  # a field kept out of the repr
    assert value._fields() == dataclasses.astuple(twin)
    assert hash(value) == hash(twin)
    assert Record._value_fields == tuple(f.name for f in dataclasses.fields(RecordAsDataclass))
    assert (Record.size, Record.note, Record.KIND) == (0, None, "record")  # defaults stay class attributes


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((), {"name": "a"}, "missing the field\\(s\\) secret"),
        (("a", "s", 1, "n", "too many"), {}, "one too many"),
        (("a", "s"), {"colour": "red"}, "unknown"),
        (("a", "s"), {"name": "b"}, "given twice"),
    ],
)
def test_wrong_arguments_are_refused_as_a_dataclass_refuses_them(args, kwargs, error):
    with pytest.raises(TypeError):
        RecordAsDataclass(*args, **kwargs)
    with pytest.raises(TypeError, match=error):
        Record(*args, **kwargs)


def test_a_subclass_adds_its_fields_after_its_base_s():
    child = Child("a", "s", extra=("x",))
    assert Child._value_fields == ("name", "secret", "size", "note", "extra")
    assert repr(child) == "Child(name='a', size=0, extra=('x',))"
    assert child != Record("a", "s")
    assert pickle.loads(pickle.dumps(child)) == child


def test_a_value_keeps_cached_properties():
    manifest = Manifest(OCI_INDEX, b'{"schemaVersion": 2, "manifests": []}')
    assert manifest.digest == sha256_digest(manifest.data)  # cached in the instance, not a field
    assert manifest == Manifest(OCI_INDEX, manifest.data)
    assert "digest" not in repr(manifest)
