"""`changelog TAG` on a real git monorepo whose three projects' commits and tags interleave: RCs, a breaking
change (`!` and the footer), a revert, a merged branch, a release commit and messages that follow no convention.
Each tag's notes are checked whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.git import git
from pipelines.notes.render import MAX_PART, PART_CUT
from tests.conftest import Monorepo, run_cli

ADA = "Ada <1234+ada@users.noreply.github.com>"
BOB = "Bob Jones <bob@example.com>"
REPO = "percolation-labs/percolate"


class History:
    """Builds the repository and remembers each commit's SHA by a short name."""

    def __init__(self, repo: Monorepo) -> None:
        self.repo = repo
        self.sha: dict[str, str] = {"c0": repo.head}

    def commit(self, name: str, path: str, message: str, author: str = ADA) -> str:
        file = self.repo.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")
        self.repo.git("add", path)
        self.repo.git("commit", "-q", "--author", author, "-m", message)
        self.sha[name] = self.repo.head
        return self.sha[name]

    def link(self, name: str) -> str:
        sha = self.sha[name]
        return f"[`{sha[:7]}`](https://github.com/{REPO}/commit/{sha})"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    import shutil

    from tests.conftest import EXAMPLE_MONOREPO

    root = tmp_path_factory.mktemp("notes") / "monorepo"
    shutil.copytree(EXAMPLE_MONOREPO, root)
    repo = Monorepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.commit_all("initial import")
    h = History(repo)
    repo.tag("percolate-v0.1.0")
    repo.tag("percolate-rocks-v0.1.0")
    h.commit("c1", "percolate/src/percolate/search.py", "feat(api): add a search endpoint (#12)")
    h.commit("c2", "percolate-reading/src/percolate_reading/pages.py", "fix: an empty page is no error", BOB)
    h.commit("c3", "percolate-rocks/src/merge.rs", "perf(index): merge runs in one pass")
    repo.tag("percolate-reading-v0.1.0-rc1")
    h.commit("c4", "percolate/README.md", "Update README", BOB)
    h.commit("c5", "percolate/src/percolate/routes.py", "feat!: drop the v1 routes")
    h.commit("c6", "percolate/src/percolate/headers.py", "fix(security): escape header values (#14)")
    repo.tag("percolate-v0.2.0-rc1")
    h.commit("c7", "percolate/src/percolate/flag.py", "feat: a temporary flag")
    repo.git("revert", "--no-edit", h.sha["c7"])
    h.sha["c8"] = repo.head
    h.commit(
        "c9",
        "percolate/src/percolate/config.py",
        "refactor: one config module\n\nBREAKING CHANGE: `port` is `api.port`",
    )
    # The project name is a prefix of another's: percolate-reading's commits are never percolate's.
    h.commit("c10", "percolate-reading/src/percolate_reading/server.py", "feat: read aloud")
    repo.git("switch", "-q", "-c", "keepalive")
    h.commit("c11", "percolate/src/percolate/server.py", "fix: keep connections alive (#20)", BOB)
    repo.git("switch", "-q", "main")
    h.commit("c12", "percolate-rocks/src/lib.rs", "feat: zero-copy reads (#21)")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #20 from bob/keepalive", "keepalive")
    h.sha["merge"] = repo.head
    h.commit("c13", "percolate/pyproject.toml", "chore(release): percolate 0.2.0")
    repo.tag("percolate-v0.2.0-rc2")
    repo.tag("percolate-v0.2.0")
    repo.tag("percolate-rocks-v0.2.0-rc1")
    return h


def changelog(history: History, *args: str) -> str:
    result = run_cli("changelog", *args, "--root", str(history.repo.root), env={"GITHUB_REPOSITORY": REPO})
    assert result.code == 0, result.stderr
    return result.stdout


def test_an_rc_covers_the_commits_since_the_last_release_of_its_project(history):
    h = history
    assert changelog(h, "percolate-v0.2.0-rc1") == "\n".join(
        [
            "## percolate-v0.2.0-rc1",
            "",
            f"Changes to `percolate` since [percolate-v0.1.0](https://github.com/{REPO}/compare/"
            "percolate-v0.1.0...percolate-v0.2.0-rc1).",
            "",
            "### Breaking changes",
            "",
            f"- drop the v1 routes ({h.link('c5')}) by [@ada](https://github.com/ada)",
            "",
            "### Features",
            "",
            f"- **api:** add a search endpoint ([#12](https://github.com/{REPO}/pull/12), {h.link('c1')}) "
            "by [@ada](https://github.com/ada)",
            "",
            "### Security",
            "",
            f"- **security:** escape header values ([#14](https://github.com/{REPO}/pull/14), {h.link('c6')}) "
            "by [@ada](https://github.com/ada)",
            "",
            "### Other changes",
            "",
            f"- Update README ({h.link('c4')}) by Bob Jones",
            "",
        ]
    )


def test_the_next_rc_starts_at_the_previous_rc_and_drops_a_reverted_change_merges_and_the_release_commit(history):
    h = history
    assert changelog(h, "percolate-v0.2.0-rc2") == "\n".join(
        [
            "## percolate-v0.2.0-rc2",
            "",
            f"Changes to `percolate` since [percolate-v0.2.0-rc1](https://github.com/{REPO}/compare/"
            "percolate-v0.2.0-rc1...percolate-v0.2.0-rc2).",
            "",
            "### Breaking changes",
            "",
            f"- `port` is `api.port` ({h.link('c9')}) by [@ada](https://github.com/ada)",
            "",
            "### Fixes",
            "",
            f"- keep connections alive ([#20](https://github.com/{REPO}/pull/20), {h.link('c11')}) by Bob Jones",
            "",
        ]
    )


def test_a_release_covers_its_rcs_since_the_previous_release_and_ends_with_verification(history, tmp_path):
    h = history
    notes = changelog(h, "percolate-v0.2.0")
    body, verify = notes.split("### Verify this release\n")
    assert body == "\n".join(
        [
            "## percolate-v0.2.0",
            "",
            f"Changes to `percolate` since [percolate-v0.1.0](https://github.com/{REPO}/compare/"
            "percolate-v0.1.0...percolate-v0.2.0).",
            "",
            "### Breaking changes",
            "",
            f"- `port` is `api.port` ({h.link('c9')}) by [@ada](https://github.com/ada)",
            f"- drop the v1 routes ({h.link('c5')}) by [@ada](https://github.com/ada)",
            "",
            "### Features",
            "",
            f"- **api:** add a search endpoint ([#12](https://github.com/{REPO}/pull/12), {h.link('c1')}) "
            "by [@ada](https://github.com/ada)",
            "",
            "### Fixes",
            "",
            f"- keep connections alive ([#20](https://github.com/{REPO}/pull/20), {h.link('c11')}) by Bob Jones",
            "",
            "### Security",
            "",
            f"- **security:** escape header values ([#14](https://github.com/{REPO}/pull/14), {h.link('c6')}) "
            "by [@ada](https://github.com/ada)",
            "",
            "### Other changes",
            "",
            f"- Update README ({h.link('c4')}) by Bob Jones",
            "",
            "",
        ]
    )
    commit = h.repo.git("rev-parse", "percolate-v0.2.0^{commit}")
    identity = (
        " \\\n  --certificate-identity-regexp '^https://github\\.com/percolation-labs/percolate/\\.github/workflows/"
        f"_release-image\\.yml@(refs/tags/percolate-v0\\.2\\.0|{commit})$'"
        " \\\n  --certificate-oidc-issuer https://token.actions.githubusercontent.com"
        " \\\n  --certificate-github-workflow-repository percolation-labs/percolate"
        " \\\n  --certificate-github-workflow-ref refs/tags/percolate-v0.2.0"
        f" \\\n  --certificate-github-workflow-sha {commit}"
    )
    image = "ghcr.io/percolation-labs/percolate"
    assert verify == "\n".join(
        [
            "",
            f"Image: `{image}:0.2.0`",
            "",
            "```sh",
            f"cosign verify {image}:0.2.0{identity}",
            f"cosign verify-attestation --type spdxjson {image}:0.2.0-amd64{identity}",
            f"cosign verify-attestation --type spdxjson {image}:0.2.0-arm64{identity}",
            "```",
            "",
        ]
    )


def test_the_first_tag_of_a_project_covers_its_whole_history_and_only_its_folder(history):
    h = history
    assert changelog(h, "percolate-reading-v0.1.0-rc1") == "\n".join(
        [
            "## percolate-reading-v0.1.0-rc1",
            "",
            "Changes to `percolate-reading` since the start of the project.",
            "",
            "### Fixes",
            "",
            f"- an empty page is no error ({h.link('c2')}) by Bob Jones",
            "",
            "### Other changes",
            "",
            f"- initial import ({h.link('c0')}) by Test",
            "",
        ]
    )


def test_a_tag_of_another_project_between_two_of_ours_is_never_the_start(history):
    data = run_cli("changelog", "percolate-rocks-v0.2.0-rc1", "--root", str(history.repo.root), "--json").json()
    assert data["previous_tag"] == "percolate-rocks-v0.1.0"
    assert [[c["description"] for c in s["commits"]] for s in data["sections"]] == [
        ["zero-copy reads"],
        ["merge runs in one pass"],
    ]
    assert [s["key"] for s in data["sections"]] == ["features", "performance"]
    assert data["verification"] is None  # an RC is not a signed release


def test_json_is_the_same_structure_as_the_markdown(history):
    result = run_cli("changelog", "percolate-v0.2.0", "--root", str(history.repo.root), "--json")
    data = result.json()
    assert data["markdown"] == changelog(history, "percolate-v0.2.0")
    assert data["revisions"] == "refs/tags/percolate-v0.1.0..refs/tags/percolate-v0.2.0"
    assert [s["title"] for s in data["sections"]] == [
        "Breaking changes",
        "Features",
        "Fixes",
        "Security",
        "Other changes",
    ]
    breaking = data["sections"][0]["commits"][0]
    assert breaking["sha"] == history.sha["c9"]
    assert (breaking["type"], breaking["breaking_note"], breaking["author"]) == (
        "refactor",
        "`port` is `api.port`",
        {"name": "Ada", "login": "ada"},
    )


def test_a_release_record_puts_the_digests_into_the_commands(history, tmp_path):
    record = tmp_path / "promote.json"
    index, amd64, arm64 = ("sha256:" + c * 64 for c in "abc")
    repository = "ghcr.io/percolation-labs/percolate"
    record.write_text(
        f'{{"repository": "{repository}", "index_digest": "{index}", '
        f'"platforms": {{"amd64": "{amd64}", "arm64": "{arm64}"}}, "version": "0.2.0"}}'
    )
    notes = changelog(history, "percolate-v0.2.0", "--promotion", str(record))
    assert f"Image: `{repository}@{index}`" in notes
    assert "cosign verify-attestation --type spdxjson" in notes
    assert f"spdxjson {repository}@{amd64} \\\n" in notes and f"spdxjson {repository}@{arm64} \\\n" in notes


def test_a_wheel_release_lists_its_files_and_checks_their_sums(history, tmp_path):
    record = tmp_path / "promoted.json"
    name = "percolate_rocks-0.2.0-cp311-abi3-manylinux_2_28_x86_64.whl"
    record.write_text(f'{{"files": [{{"filename": "{name}", "sha256": "{"d" * 64}"}}]}}')
    history.repo.tag("percolate-rocks-v0.2.0", "percolate-rocks-v0.2.0-rc1")
    try:
        data = run_cli(
            "changelog",
            "percolate-rocks-v0.2.0",
            "--root",
            str(history.repo.root),
            "--promotion",
            str(record),
            "--json",
        ).json()
    finally:
        history.repo.git("tag", "-d", "percolate-rocks-v0.2.0")
    assert data["previous_tag"] == "percolate-rocks-v0.1.0"
    commands = data["verification"]["commands"]
    assert data["verification"]["subjects"] == [f"{name} sha256 {'d' * 64}"]
    assert f"sha256sum --check <<'SUMS'\n{'d' * 64}  dist/{name}\nSUMS" in commands
    assert any(
        "sigstore verify identity --cert-identity https://github.com/percolation-labs/percolate/.github/workflows/"
        "release-rocks.yml@refs/tags/percolate-rocks-v0.2.0"
        in c
        and c.endswith(f"dist/{name}")
        for c in commands
    )
    assert commands[-1].endswith(f"pypi:{name}")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["percolate-v0.2"], 2, "malformed tag"),
        (["percolate-v9.9.9"], 1, "not in the repository"),
        (["percolate-v0.2.0", "--promotion", "missing.json"], 2, "not found"),
        (["percolate-v0.2.0", "--repository", "not a repo"], 2, "OWNER/NAME"),
    ],
)
def test_bad_input_is_named_with_its_fix(history, args, code, words):
    result = run_cli("changelog", *args, "--root", str(history.repo.root))
    assert (result.code, result.stdout) == (code, "")
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_promotion_record_of_the_wrong_shape_is_refused(history, tmp_path):
    record = tmp_path / "wrong.json"
    record.write_text('{"files": []}')
    result = run_cli("changelog", "percolate-v0.2.0", "--root", str(history.repo.root), "--promotion", str(record))
    assert result.code == 2 and "index_digest" in result.stderr


def test_outside_a_checkout_the_fix_is_named(tmp_path: Path):
    result = run_cli("changelog", "percolate-v0.2.0", cwd=tmp_path)
    assert result.code == 2 and "--root" in result.stderr


def test_a_shallow_clone_is_refused_with_the_fetch_that_fixes_it(monorepo: Monorepo, tmp_path: Path):
    # The tag's own commit touched only percolate-rocks: a depth-1 clone grafts it as a root, which looks as if
    # it added every file, so its notes would list it for percolate (and nothing of percolate's own).
    monorepo.tag("percolate-v0.1.0")
    (monorepo.root / "percolate" / "NEWS").write_text("search\n")
    monorepo.commit_all("feat: a search endpoint")
    (monorepo.root / "percolate-rocks" / "NEWS").write_text("merge\n")
    monorepo.commit_all("perf: merge runs in one pass")
    monorepo.tag("percolate-v0.2.0")
    full = run_cli("changelog", "percolate-v0.2.0", "--root", str(monorepo.root))
    assert full.code == 0 and "a search endpoint" in full.stdout and "merge runs" not in full.stdout
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{monorepo.root}", str(shallow))
    assert git(shallow, "rev-parse", "--is-shallow-repository") == "true"

    fix = f"git -C {shallow} fetch --unshallow --tags"
    result = run_cli("changelog", "percolate-v0.2.0", "--root", str(shallow))
    assert (result.code, result.stdout) == (1, ""), result.stdout
    assert "shallow clone" in result.stderr and "Traceback" not in result.stderr
    assert fix in result.stderr and "fetch-depth: 0" in result.stderr
    refusal = run_cli("changelog", "percolate-v0.2.0", "--root", str(shallow), "--json")
    assert refusal.code == 1 and refusal.json()["cause"] == "refused" and fix in refusal.json()["hint"]
    # The command it names is the fix: the same notes as the full repository's.
    git(shallow, "-C", str(shallow), "fetch", "--unshallow", "--tags")
    assert run_cli("changelog", "percolate-v0.2.0", "--root", str(shallow)).stdout == full.stdout


def test_one_huge_commit_is_cut_and_marked_and_every_other_entry_stays(monorepo: Monorepo, tmp_path: Path):
    monorepo.tag("percolate-v0.1.0")
    footer = "the whole config moved " * 9_000  # ~200 KB on one line, as a pasted log would be
    messages = [
        "fix: keep connections alive",
        f"refactor!: one config module\n\nBREAKING CHANGE: {footer}\n",
        "feat: `" + "long code " * 200 + "` in a subject",  # its code span is still open at the cut
        "feat: a search endpoint",
    ]
    for number, message in enumerate(messages):
        (monorepo.root / "percolate" / f"change{number}").write_text(message)
        (tmp_path / "message").write_text(message)
        monorepo.git("add", "-A")
        monorepo.git("commit", "-q", "-F", str(tmp_path / "message"))
    monorepo.tag("percolate-v0.2.0")
    result = run_cli("changelog", "percolate-v0.2.0", "--root", str(monorepo.root))
    assert result.code == 0, result.stderr
    notes = result.stdout
    assert "left out" not in notes and len(notes) < 10_000
    entries = [line for line in notes.splitlines() if line.startswith("- ")]
    assert len(entries) == 4
    assert "- a search endpoint (" in notes and "- keep connections alive (" in notes
    [breaking] = [entry for entry in entries if "whole config" in entry]
    assert breaking.startswith("- the whole config moved the whole")
    assert f"{PART_CUT} ([`" in breaking and len(breaking) < MAX_PART + 200
    [code] = [entry for entry in entries if "long code" in entry]
    assert code.startswith("- `long code long code") and f"code`{PART_CUT} ([`" in code  # the span closed
    data = run_cli("changelog", "percolate-v0.2.0", "--root", str(monorepo.root), "--json").json()
    assert data["sections"][0]["commits"][0]["breaking_note"] == footer.strip()  # --json keeps it whole
