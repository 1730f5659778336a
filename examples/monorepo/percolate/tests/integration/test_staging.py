"""percolate as staging serves it: the integration tests the RC build runs against $STAGING_URL.

STAGING_URL is the URL of the staging Application percolate-api-staging (the staging stack's output
stagingBuilds.percolate.url). Only the standard library: the runner installs nothing but pytest.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest


def get(path: str) -> tuple[int, Any]:
    url = os.environ.get("STAGING_URL", "").rstrip("/")
    if not url:
        pytest.fail("STAGING_URL is not set: run these tests against a staging URL (see docs/staging.md)")
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_the_service_is_healthy():
    assert get("/healthz") == (200, {"status": "ok"})


def test_an_unknown_path_is_not_found():
    status, body = get("/no-such-path")
    assert status == 404
    assert isinstance(body, dict) and "error" in body
