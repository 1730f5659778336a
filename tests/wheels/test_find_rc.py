"""`wheels find-rc` against real indexes on loopback: pypiserver (PEP 503 HTML) and a PEP 691 JSON server.

pypiserver answers the simple API in HTML only, even when asked for JSON, so the
JSON path runs against a small local server answering with the spec's documented
shape (meta.api-version, files[].filename/url/hashes/yanked). The RC sets are this
machine's real wheel re-tagged per catalog platform, plus the real sdist (conftest.py).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest

from pipelines.core.errors import CheckFailed
from pipelines.wheels.index import JSON_TYPE, parse_html_page, parse_json_page


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Outside any git checkout the commit check is skipped; tests of the check run in a real monorepo.
OUTSIDE_A_CHECKOUT = Path(tempfile.gettempdir())


def find_rc(cli, *args: str, cwd: Path = OUTSIDE_A_CHECKOUT):
    return cli("wheels", "find-rc", "percolate-rocks", "0.2.0", *args, cwd=cwd)


def stock(rc_sets, folder: Path, missing_in_rc3: tuple[str, ...] = ("macos-arm64",)) -> dict[str, dict[str, Path]]:
    """rc1 and rc2 complete, rc3 without the targets named, all in `folder`."""
    return {
        "0.2.0rc1": rc_sets.lay_out("0.2.0rc1", folder),
        "0.2.0rc2": rc_sets.lay_out("0.2.0rc2", folder),
        "0.2.0rc3": rc_sets.lay_out("0.2.0rc3", folder, without=missing_in_rc3),
    }


def test_pypiserver_the_newest_complete_rc_is_downloaded_and_checked(cli, rc_sets, pypiserver, tmp_path):
    url, folder = pypiserver
    sets = stock(rc_sets, folder)
    result = find_rc(cli, "--index", url, "--to", str(tmp_path / "rc"), "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert (report["rc"], report["package_version"], report["source"]) == (2, "0.2.0rc2", url)
    assert report["skipped"] == [{"rc": 3, "missing": ["macos-arm64"]}]
    expected = {p.name: sha256(p) for p in sets["0.2.0rc2"].values()}
    assert {f["filename"]: f["sha256"] for f in report["files"]} == expected
    assert {p.name: sha256(p) for p in (tmp_path / "rc").iterdir()} == expected
    assert all(f["size"] == (tmp_path / "rc" / f["filename"]).stat().st_size for f in report["files"])
    assert "downloading" in result.stderr


def test_pypiserver_a_completed_rc_becomes_the_choice(cli, rc_sets, pypiserver, tmp_path):
    url, folder = pypiserver
    stock(rc_sets, folder)
    shutil.copyfile(
        rc_sets.full_set("0.2.0rc3")["macos-arm64"], folder / rc_sets.full_set("0.2.0rc3")["macos-arm64"].name
    )
    result = find_rc(cli, "--index", url, "--to", str(tmp_path / "rc"))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"chose percolate-rocks 0.2.0rc3 from {url}")
    assert len(list((tmp_path / "rc").iterdir())) == len(rc_sets.full_set("0.2.0rc3"))


def test_pypiserver_no_complete_rc_is_a_failed_check(cli, rc_sets, pypiserver, tmp_path):
    url, folder = pypiserver
    rc_sets.lay_out("0.2.0rc1", folder, without=("sdist",))
    result = find_rc(cli, "--index", url, "--to", str(tmp_path / "rc"))
    assert result.code == 1
    assert "rc1 lacks sdist" in result.stderr
    assert not (tmp_path / "rc").exists()


def test_pypiserver_an_unknown_project_is_a_failed_check(cli, pypiserver, tmp_path):
    url, _ = pypiserver
    result = find_rc(cli, "--index", url, "--to", str(tmp_path / "rc"))
    assert result.code == 1
    assert "is not on the index" in result.stderr


def test_json_index_is_asked_for_json_and_yanked_files_are_never_chosen(cli, rc_sets, json_index, tmp_path):
    sets = stock(rc_sets, tmp_path / "files", missing_in_rc3=())
    json_index.files = {p.name: p for s in sets.values() for p in s.values()}
    yanked = sets["0.2.0rc3"]["windows-x64"].name
    json_index.yanked = {yanked: "broken on Windows"}
    result = find_rc(cli, "--index", json_index.url, "--to", str(tmp_path / "rc"), "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["rc"] == 2
    assert report["skipped"] == [{"rc": 3, "missing": ["windows-x64"]}]
    assert report["yanked"] == [yanked]
    assert {p.name: sha256(p) for p in (tmp_path / "rc").iterdir()} == {
        p.name: sha256(p) for p in sets["0.2.0rc2"].values()
    }
    page_requests = [accept for path, accept in json_index.requests_seen if path.startswith("/simple/")]
    assert page_requests and all(accept.startswith(JSON_TYPE) for accept in page_requests)


def test_json_index_a_hash_mismatch_fails_and_leaves_nothing(cli, rc_sets, json_index, tmp_path):
    files = rc_sets.lay_out("0.2.0rc1", tmp_path / "files")
    json_index.files = {p.name: p for p in files.values()}
    json_index.sha256 = {files["sdist"].name: "0" * 64}
    result = find_rc(cli, "--index", json_index.url, "--to", str(tmp_path / "rc"), "--json")
    assert result.code == 1
    assert "differs from the index's" in result.json()["error"]
    assert not (tmp_path / "rc").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rc")]


def test_json_index_of_an_unknown_api_major_version_is_refused(cli, rc_sets, json_index, tmp_path):
    json_index.files = {p.name: p for p in rc_sets.lay_out("0.2.0rc1", tmp_path / "files").values()}
    json_index.api_version = "2.0"
    result = find_rc(cli, "--index", json_index.url, "--to", str(tmp_path / "rc"))
    assert result.code == 1
    assert "simple API version 2.0" in result.stderr


def test_a_folder_works_like_an_index(cli, rc_sets, tmp_path):
    sets = stock(rc_sets, tmp_path / "downloads")
    (tmp_path / "downloads" / "percolate_reading-0.2.0rc9-py3-none-any.whl").write_bytes(b"")
    result = find_rc(cli, "--from", str(tmp_path / "downloads"), "--to", str(tmp_path / "rc"), "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["rc"] == 2
    assert {f["filename"]: f["sha256"] for f in report["files"]} == {
        p.name: sha256(p) for p in sets["0.2.0rc2"].values()
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--index", "http://example.invalid/simple/", "--to", "out"], "is not an https URL"),
        (["--index", "ftp://127.0.0.1/simple/", "--to", "out"], "is not an https URL"),
        (["--index", "https://example.invalid/simple/", "--from", "dist", "--to", "out"], "not allowed with argument"),
        (["--from", "no-such-folder", "--to", "out"], "is not a folder"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(cli, tmp_path, args, needle):
    result = cli("wheels", "find-rc", "percolate-rocks", "0.2.0", *args, cwd=tmp_path)
    assert result.code == 2
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_default_index_is_testpypi_where_rc_builds_publish():
    from pipelines.cli import build_parser
    from pipelines.core.catalog import TESTPYPI

    args = build_parser().parse_args(["wheels", "find-rc", "percolate-rocks", "0.2.0", "--to", "out"])
    assert (args.index, args.source_dir) == (TESTPYPI.simple_url, None)


def test_an_image_project_has_no_wheels(cli, tmp_path):
    result = cli("wheels", "find-rc", "percolate", "0.1.0", "--from", str(tmp_path), "--to", str(tmp_path / "out"))
    assert result.code == 2
    assert "ships no wheels" in result.stderr


def test_html_pages_resolve_links_hashes_and_yanks():
    page = """<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1"></head><body>
    <a href="../../f/pkg-1.0.tar.gz#sha256=ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789">pkg-1.0.tar.gz</a>
    <a href="https://files.example/pkg-1.0-py3-none-any.whl#md5=00" data-yanked="">pkg-1.0-py3-none-any.whl</a>
    <a name="not-a-link">x</a></body></html>"""  # noqa: E501 (a real page's long anchor)
    files = parse_html_page("https://index.example/simple/pkg/", page)
    assert [(f.filename, f.url, f.yanked) for f in files] == [
        ("pkg-1.0.tar.gz", "https://index.example/f/pkg-1.0.tar.gz", False),
        ("pkg-1.0-py3-none-any.whl", "https://files.example/pkg-1.0-py3-none-any.whl", True),
    ]
    assert files[0].sha256 == "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
    assert files[1].sha256 is None  # an md5 fragment is no sha256


def test_html_pages_of_an_unknown_major_version_are_refused():
    with pytest.raises(CheckFailed):
        parse_html_page("https://i.example/simple/p/", '<meta name="pypi:repository-version" content="2.0">')


@pytest.mark.parametrize("payload", [[], {"files": "x"}, {"meta": {"api-version": "1.0"}, "files": [{"url": "u"}]}])
def test_json_pages_of_the_wrong_shape_are_refused(payload):
    with pytest.raises(CheckFailed):
        parse_json_page("https://i.example/simple/p/", payload)


def test_in_a_checkout_the_rc_tag_must_be_on_the_release_tags_commit(cli, rc_sets, monorepo, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    stock(rc_sets, folder)
    monorepo.tag("percolate-rocks-v0.2.0-rc2")
    tested = monorepo.head
    (monorepo.root / "later.txt").write_text("a commit after the RC\n")
    monorepo.commit_all("after the RC")
    monorepo.tag("percolate-rocks-v0.2.0")

    refused = find_rc(cli, "--from", str(folder), "--to", str(tmp_path / "rc"), cwd=monorepo.root)
    assert refused.code == 1
    assert f"was built from {tested[:12]}" in refused.stderr
    assert not (tmp_path / "rc").exists()

    allowed = find_rc(
        cli, "--from", str(folder), "--to", str(tmp_path / "rc"), "--allow-commit-mismatch", "--json", cwd=monorepo.root
    )
    assert allowed.code == 0, allowed.stderr
    assert allowed.json()["commit_check"]["status"] == "mismatch-allowed"

    monorepo.git("tag", "-d", "percolate-rocks-v0.2.0")
    monorepo.tag("percolate-rocks-v0.2.0", tested)
    matched = find_rc(cli, "--from", str(folder), "--to", str(tmp_path / "rc2"), "--json", cwd=monorepo.root)
    assert matched.code == 0, matched.stderr
    assert matched.json()["commit_check"]["status"] == "match"


def test_an_rc_tag_missing_from_the_checkout_is_refused(cli, rc_sets, monorepo, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    stock(rc_sets, folder)
    monorepo.tag("percolate-rocks-v0.2.0")
    result = find_rc(cli, "--from", str(folder), "--to", str(tmp_path / "rc"), cwd=monorepo.root)
    assert result.code == 1
    assert (
        "RC percolate-rocks-v0.2.0-rc2 is not in this checkout" in result.stderr and "git fetch --tags" in result.stderr
    )


# -- issue 12: an index answering what no index should -----------------------------------------


@pytest.fixture
def scripted_index():
    """A loopback server answering every GET with the (content type, body) the test sets."""
    from http.server import BaseHTTPRequestHandler

    from kit.loopback import reply, serving

    answer: dict[str, tuple[str, bytes]] = {"page": (JSON_TYPE, b"{}")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content_type, body = answer["page"]
            reply(self, 200, body, {"Content-Type": content_type})

    with serving(Handler) as url:
        answer["url"] = (f"{url}/simple/", b"")
        yield answer


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"meta": {"api-version": "' + b"1" * 5000 + b'.0"}, "files": []}',
        '{"meta": {"api-version": "\u00b2.0"}, "files": []}'.encode(),
        b'{"meta": {"api-version": "1.0"}, "files": [{"filename": "x.whl", "url": {"a": 1}}]}',
        b"\xff\xfe",
    ],
    ids=["nested", "huge-version", "superscript-version", "url-object", "not-utf8"],
)
def test_an_index_answering_json_no_index_sends_is_a_clean_exit_1(cli, scripted_index, tmp_path, body):
    scripted_index["page"] = (JSON_TYPE, body)
    result = find_rc(cli, "--index", scripted_index["url"][0], "--to", str(tmp_path / "rc"), "--json")
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "rc").exists()
