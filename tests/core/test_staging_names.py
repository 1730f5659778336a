"""Staging Applications are the prod ones' names with `-staging`; the health gate accepts both, nothing else."""

from __future__ import annotations

import pytest

from pipelines.core.catalog import project_for_application
from pipelines.core.errors import InputError


@pytest.mark.parametrize(
    ("application", "project"),
    [
        ("percolate-api", "percolate"),
        ("percolate-api-staging", "percolate"),
        ("percolate-reading-staging", "percolate-reading"),
    ],
)
def test_staging_applications_belong_to_their_project(application, project):
    assert project_for_application(application).name == project


@pytest.mark.parametrize(
    "application", ["percolate-api-prod", "percolate-staging", "staging", "percolate-api-staging-x"]
)
def test_other_names_are_refused(application):
    with pytest.raises(InputError, match="unknown Argo CD application"):
        project_for_application(application)


def test_the_gate_takes_a_staging_application(cli):
    result = cli("wait-healthy", "percolate-api-staging", "--digest", "sha256:nope")
    assert result.code == 2
    assert "digest" in result.stderr and "unknown Argo CD application" not in result.stderr
