"""The catalog holds each name once, and every lookup fails with a clear message."""

from __future__ import annotations

import pytest

from pipelines.core.catalog import PROJECTS, get_project, image_projects, project_for_application, project_names
from pipelines.core.errors import InputError


def test_the_design_table():
    assert project_names() == ("percolate-rocks", "percolate-reading", "percolate")
    assert {p.name: p.argocd_application for p in image_projects()} == {
        "percolate-reading": "percolate-reading",
        "percolate": "percolate-api",
    }
    assert get_project("percolate").image_repository() == "ghcr.io/percolation-labs/percolate"
    assert (
        get_project("percolate-reading").image_repository("127.0.0.1:5000/ns/") == "127.0.0.1:5000/ns/percolate-reading"
    )
    rocks = get_project("percolate-rocks")
    assert rocks.version_files == ("percolate-rocks/Cargo.toml", "percolate-rocks/pyproject.toml")
    assert [t.name for t in rocks.wheel_targets] == [
        "manylinux-x86_64",
        "manylinux-aarch64",
        "macos-x86_64",
        "macos-arm64",
        "windows-x64",
    ]


def test_names_are_unique_and_every_image_project_is_deployable():
    for attribute in ("name", "directory", "image_name", "argocd_application"):
        values = [getattr(p, attribute) for p in PROJECTS if getattr(p, attribute) is not None]
        assert len(values) == len(set(values)), attribute
    for project in image_projects():
        assert project.platforms and project.argocd_application
        assert project_for_application(project.argocd_application) is project


def test_unknown_names_list_the_known_ones():
    with pytest.raises(InputError) as caught:
        get_project("percolate-api")
    assert "percolate-rocks, percolate-reading, percolate" in str(caught.value.hint)
    with pytest.raises(InputError, match="ships no container image"):
        get_project("percolate-rocks").image_repository()
    with pytest.raises(InputError, match="unknown Argo CD application"):
        project_for_application("percolate")
