"""The images subtree's contract: valid entries parse, every bad one names its key and the fix."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.catalog import IMAGE_PLATFORMS, image_projects
from pipelines.core.errors import InputError
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_image_pin, parse_images


def test_a_released_entry_parses_into_a_frozen_pin(image):
    pin = parse_image_pin("percolate", image("percolate", "1.2.3"))
    assert pin.pinned
    assert pin.version == "1.2.3"
    assert pin.reference == f"ghcr.io/percolation-labs/percolate@sha256:{'a' * 64}"
    assert pin.platform_digests() == {"amd64": f"sha256:{'b' * 64}", "arm64": f"sha256:{'c' * 64}"}
    assert pin.source == "2025.10.25.1430-build.123-v1.2.3-abc1234"
    with pytest.raises(AttributeError):
        pin.digest = "sha256:" + "0" * 64  # type: ignore[misc]


def test_an_unreleased_entry_has_a_repository_and_no_pin():
    pin = parse_image_pin("percolate", {"repository": "ghcr.io/percolation-labs/percolate", "blocked": ["0.2.0"]})
    assert not pin.pinned
    assert pin.blocked == ("0.2.0",)
    with pytest.raises(InputError, match="no digest"):
        _ = pin.reference
    assert pin.to_dict() == {"repository": "ghcr.io/percolation-labs/percolate", "blocked": ["0.2.0"]}


def test_a_local_registry_repository_is_accepted_when_it_names_the_image(image):
    entry = image("percolate-reading") | {"repository": "127.0.0.1:5000/percolation-labs/percolate-reading"}
    assert parse_image_pin("percolate-reading", entry).repository == "127.0.0.1:5000/percolation-labs/percolate-reading"


def _mutated(image, **changes):
    entry = image("percolate")
    for key, value in changes.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


@pytest.mark.parametrize(
    ("changes", "where", "fix"),
    [
        ({"digest": "sha256:XYZ"}, "percolate.digest", "64 lower-case hex"),
        ({"digest": "sha512:" + "a" * 64}, "percolate.digest", "64 lower-case hex"),
        ({"digest": None}, "percolate.digest", "needs version, digest, platforms and source"),
        ({"version": "0.1.0rc1"}, "percolate.version", "final version"),
        ({"version": None}, "percolate.version", "needs version, digest"),
        ({"platforms": {"amd64": "sha256:" + "b" * 64}}, "percolate.platforms", "every platform"),
        (
            {
                "platforms": {
                    "amd64": "sha256:" + "b" * 64,
                    "arm64": "sha256:" + "c" * 64,
                    "s390x": "sha256:" + "d" * 64,
                }
            },
            "percolate.platforms",
            "amd64, arm64",
        ),
        (
            {"platforms": {"amd64": "sha256:" + "b" * 64, "arm64": "oops"}},
            "percolate.platforms.arm64",
            "64 lower-case hex",
        ),
        ({"source": "2025.10.25.1430-build.123-v0.9.0-abc1234"}, "percolate.source", "the build of this version"),
        ({"source": "yesterday"}, "percolate.source", "CalVer tag without -ARCH"),
        ({"repository": "ghcr.io/percolation-labs/percolate-reading"}, "percolate.repository", "/percolate"),
        ({"repository": "ghcr.io/Percolation/percolate"}, "percolate.repository", "HOST[:PORT]"),
        ({"blocked": ["0.1.0"]}, "percolate.blocked", "rollback percolate"),
        ({"blocked": "0.2.0"}, "percolate.blocked", "blocked: [0.2.0]"),
        ({"tag": "latest"}, "percolate", "the keys are"),
    ],
)
def test_a_bad_entry_names_the_key_and_the_fix(image, changes, where, fix):
    with pytest.raises(InputError) as raised:
        parse_images({"percolate": _mutated(image, **changes)})
    assert f"{IMAGES_KEY}.{where}:" in raised.value.message
    assert fix in str(raised.value.hint)


def test_unknown_and_wheel_projects_are_refused(image):
    with pytest.raises(InputError, match="unknown project 'percolator'") as raised:
        parse_images({"percolator": image("percolate")})
    assert "percolate-reading" in str(raised.value.hint)
    with pytest.raises(InputError, match="percolate-rocks ships no container image"):
        parse_images({"percolate-rocks": image("percolate")})


def test_the_subtree_must_be_a_mapping():
    assert parse_images(None) == {}
    with pytest.raises(InputError, match=f"{IMAGES_KEY}: expected a mapping"):
        parse_images(["percolate"])


hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
versions = st.tuples(*[st.integers(0, 999)] * 3).map(lambda v: ".".join(map(str, v)))


@st.composite
def pins(draw):
    project = draw(st.sampled_from([p.name for p in image_projects()]))
    name = project
    host = draw(st.sampled_from(["ghcr.io/percolation-labs", "127.0.0.1:5000/ns", "registry.example.com/a/b"]))
    released = draw(st.booleans())
    blocked = tuple(draw(st.lists(versions, max_size=3, unique=True)))
    if not released:
        return ImagePin(project, f"{host}/{name}", blocked=blocked)
    version = draw(versions.filter(lambda v: v not in blocked))
    sha = draw(st.text(alphabet="0123456789abcdef", min_size=7, max_size=7))
    build = draw(st.integers(1, 10**6))
    return ImagePin(
        project=project,
        repository=f"{host}/{name}",
        version=version,
        digest=f"sha256:{draw(hex64)}",
        platforms=tuple((arch, f"sha256:{draw(hex64)}") for arch in IMAGE_PLATFORMS),
        source=f"2026.01.02.0304-build.{build}-v{version}-{sha}",
        blocked=blocked,
    )


@given(pins())
def test_to_dict_and_parse_are_inverse(pin):
    assert parse_image_pin(pin.project, pin.to_dict()) == pin
    assert parse_images({pin.project: pin.to_dict()}) == {pin.project: pin}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(string.printable, max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["percolate", "percolate-reading", "x"]), json_values, max_size=2))
def test_any_malformed_subtree_is_an_input_error_never_a_crash(data):
    try:
        parse_images(data)
    except InputError as error:
        assert error.message.startswith("Pulumi.prod.yaml: percolate-platform:images")
        assert error.hint


@given(pins(), st.sampled_from(["repository", "version", "digest", "platforms", "source"]), json_values)
def test_replacing_any_field_with_junk_is_refused_or_still_valid(pin, field, junk):
    entry = pin.to_dict() | {field: junk}
    try:
        parsed = parse_image_pin(pin.project, entry)
    except InputError as error:
        assert f".{pin.project}" in error.message
    else:
        assert parsed.to_dict()["repository"] == entry["repository"]
