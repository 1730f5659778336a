"""The CLI as workflows and people run it: a subprocess, exit codes 0/1/2, JSON on stdout, no tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.cli import COMMANDS, build_parser
from pipelines.commands.arguments import Dispatch, field_names, request_of

# The design's example of a CalVer tag, as the command is asked for it.
CALVER_EXAMPLE = (
    "calver",
    "percolate",
    "--version",
    "0.1.0",
    "--sha",
    "abc1234def",
    "--arch",
    "amd64",
    "--build",
    "123",
    "--at",
    "2025-10-25T14:30:00Z",
)


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += leaf_commands(sub, (*prefix, name))
    return found or [prefix]


def test_tag_parse_json_matches_the_contract(cli):
    result = cli("tag", "parse", "percolate-reading-v0.1.0-rc2", "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert (data["project"], data["version"], data["rc"], data["stage"]) == ("percolate-reading", "0.1.0", 2, "build")


@pytest.mark.parametrize(
    "tag", ["percolate-v1.0", "percolate-v01.0.0", "percolate-v1.0.0-rc0", "percolate-v1.0.0-beta1", "unknown-v1.0.0"]
)
def test_malformed_tags_exit_2_with_a_one_line_reason(cli, tag):
    result = cli("tag", "parse", tag)
    assert result.code == 2
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith(f"error: malformed tag '{tag}': ")
    assert all(line.startswith("  hint: ") for line in rest)
    assert "Traceback" not in result.stderr


def test_errors_with_json_are_machine_readable_too(cli):
    result = cli("tag", "parse", "percolate-v1.0", "--json")
    assert result.code == 2
    assert result.json()["exit_code"] == 2
    assert "MAJOR.MINOR.PATCH" in result.json()["error"]


def test_calver_prints_the_design_example(cli):
    result = cli(*CALVER_EXAMPLE)
    assert result.code == 0, result.stderr
    assert result.stdout == "percolate:2025.10.25.1430-build.123-v0.1.0-abc1234-amd64\n"


def test_calver_takes_sha_and_build_from_the_actions_environment(cli):
    result = cli(
        "calver",
        "percolate-reading",
        "--version",
        "1.2.3",
        "--arch",
        "arm64",
        "--at",
        "2025-10-25T14:30:00Z",
        "--json",
        env={"GITHUB_SHA": "fedcba9876543210", "GITHUB_RUN_NUMBER": "77"},
    )
    assert result.code == 0, result.stderr
    assert result.json()["tag"] == "2025.10.25.1430-build.77-v1.2.3-fedcba9-arm64"
    assert result.json()["image"] == "ghcr.io/percolation-labs/percolate-reading:" + result.json()["tag"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["calver", "percolate-rocks", "--version", "0.1.0", "--sha", "abc1234", "--arch", "amd64", "--build", "1"],
            "ships no container image",
        ),
        (
            ["calver", "percolate", "--version", "0.1.0", "--sha", "abc1234", "--arch", "s390x", "--build", "1"],
            "not built for 's390x'",
        ),
        (
            ["calver", "percolate", "--version", "0.1.0", "--sha", "abc1234", "--arch", "amd64", "--build", "0"],
            "at least 1",
        ),
        (
            [
                "calver",
                "percolate",
                "--version",
                "0.1.0",
                "--sha",
                "abc1234",
                "--arch",
                "amd64",
                "--build",
                "1",
                "--at",
                "2025-10-25T14:30:00",
            ],
            "no time zone",
        ),
        (["calver", "percolate", "--version", "0.1.0", "--arch", "amd64", "--build", "1"], "required: --sha"),
        (["calver", "percolate", "--version", "0.1.0", "--sha", "12345", "--arch", "amd64", "--build", "1"], "hex SHA"),
        (
            ["calver", "nope", "--version", "0.1.0", "--sha", "abc1234", "--arch", "amd64", "--build", "1"],
            "unknown project",
        ),
        (["versions", "bump", "percolate", "1.0"], "PEP 440"),
        (["tag"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(cli, monorepo, args, message):
    result = cli(*args, cwd=monorepo.root)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", leaf_commands(build_parser()), ids=" ".join)
def test_every_command_has_help(cli, command):
    result = cli(*command, "--help")
    assert result.code == 0
    assert "usage: python -m pipelines" in result.stdout
    assert len(result.stdout.splitlines()) > 4


def test_help_is_as_wide_as_columns_says_else_80(cli):
    """The width argparse would get from shutil, found without importing it: COLUMNS when it is a positive
    number, else the terminal of stdout (none here: captured), else 80. The usage is wrapped to it (the
    description is printed as written)."""

    def usage(columns: str) -> list[str]:
        result = cli("promote", "--help", env={"COLUMNS": columns})
        assert result.code == 0
        return result.stdout.split("\n\n", 1)[0].splitlines()

    narrow, default, unreadable, wide = usage("60"), usage("0"), usage("many"), usage("200")
    assert len(narrow) > len(default) > len(wide) and default == unreadable
    assert max(map(len, default)) <= 80 < max(map(len, wide)) <= 200


def test_versions_show_check_and_bump_on_a_real_checkout(cli, monorepo):
    shown = cli("versions", "show", "--json", cwd=monorepo.root)
    assert shown.code == 0, shown.stderr
    assert {c["project"]: c["version"] for c in shown.json()} == {
        "percolate-rocks": "0.2.0",
        "percolate-reading": "0.1.0",
        "percolate": "0.1.0",
    }
    assert cli("versions", "check", "--tag", "percolate-rocks-v0.2.0-rc1", cwd=monorepo.root).code == 0

    wrong = cli("versions", "check", "--tag", "percolate-rocks-v0.3.0", cwd=monorepo.root)
    assert wrong.code == 1
    assert "the tag says 0.3.0" in wrong.stderr and "versions bump percolate-rocks" in wrong.stderr

    bumped = cli("versions", "bump", "percolate-rocks", "0.3.0", "--json", cwd=monorepo.root)
    assert bumped.code == 0, bumped.stderr
    assert {f["path"] for f in bumped.json()["files"]} == {
        "percolate-rocks/Cargo.toml",
        "percolate-rocks/Cargo.lock",
        "percolate-rocks/pyproject.toml",
    }
    assert cli("versions", "check", "--tag", "percolate-rocks-v0.3.0", cwd=monorepo.root).code == 0
    assert monorepo.git("status", "--porcelain").count("\n") + 1 == 3


def test_disagreeing_files_fail_the_check_with_exit_1(cli, monorepo):
    pyproject = monorepo.root / "percolate-rocks/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.2.0"', 'version = "0.2.1"'))
    result = cli("versions", "check", "--json", cwd=monorepo.root)
    assert result.code == 1
    assert result.json()["ok"] is False
    assert "percolate-rocks/pyproject.toml (project.version) says 0.2.1" in result.stderr


def test_next_rc_reads_the_real_git_tags(cli, monorepo):
    assert cli("tag", "next-rc", "percolate", cwd=monorepo.root).stdout == "percolate-v0.1.0-rc1\n"
    monorepo.tag("percolate-v0.1.0-rc1")
    monorepo.tag("percolate-v0.1.0-rc2")
    monorepo.git("tag", "percolate-v0.1.0-rc4")  # lightweight tags count too
    assert cli("tag", "next-rc", "percolate", cwd=monorepo.root).stdout == "percolate-v0.1.0-rc5\n"
    monorepo.tag("percolate-v0.1.0")
    released = cli("tag", "next-rc", "percolate", cwd=monorepo.root)
    assert released.code == 1
    assert "exists already" in released.stderr


def test_root_outside_a_checkout_is_a_clear_error(cli, tmp_path):
    result = cli("versions", "show", cwd=tmp_path)
    assert result.code == 2
    assert "not inside a git checkout" in result.stderr and "--root" in result.stderr
    missing = cli("versions", "show", "--root", str(tmp_path / "nope"))
    assert missing.code == 2 and "is not a folder" in missing.stderr


def test_plan_json_uses_the_tag_commit_and_run_number(cli, monorepo):
    monorepo.tag("percolate-v0.1.0-rc1")
    tagged = monorepo.head
    (monorepo.root / "later.txt").write_text("a later commit\n")
    monorepo.commit_all("later")
    result = cli(
        "plan",
        "percolate-v0.1.0-rc1",
        "--json",
        "--at",
        "2026-01-02T03:04:00Z",
        cwd=monorepo.root,
        env={"GITHUB_RUN_NUMBER": "9"},
    )
    assert result.code == 0, result.stderr
    plan = result.json()
    assert plan["commit"] == tagged
    assert plan["environment"] is None
    assert [a["name"] for a in plan["artifacts"]] == [
        f"ghcr.io/percolation-labs/percolate:2026.01.02.0304-build.9-v0.1.0-{tagged[:7]}-{arch}"
        for arch in ("amd64", "arm64")
    ]


def test_plan_text_for_people_and_exit_1_on_a_failed_check(cli, monorepo):
    ok = cli("plan", "percolate-rocks-v0.2.0", cwd=monorepo.root)
    assert ok.code == 0, ok.stderr
    assert "stage        release" in ok.stdout and "environment  production" in ok.stdout
    assert "percolate_rocks-0.2.0.tar.gz" in ok.stdout
    failed = cli("plan", "percolate-rocks-v0.3.0-rc1", cwd=monorepo.root)
    assert failed.code == 1
    assert "versions     FAILED" in failed.stdout
    assert "note: tag percolate-rocks-v0.3.0-rc1 is not in this checkout" in failed.stderr


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    """Every module `python -m pipelines ARGS` imports (-X importtime lists them on stderr)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=True,
    )
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_tag_parse_imports_neither_pulumi_nor_an_http_stack(tmp_path):
    imported = imported_by(tmp_path, "tag", "parse", "percolate-v1.0.0")
    assert "pipelines.cli" in imported
    heavy = {name for name in imported if name.split(".")[0] in {"pulumi", "requests", "urllib3", "httpx", "grpc"}}
    assert heavy == set()
    assert "http.client" not in imported


# The modules `python -m pipelines ARGS` imports: those in sys.modules when it ends and not before it started
# (-I: no user site, no PYTHON* variables), written to a file; `preload` is imported first, as a module the
# command would have imported (it then counts as the command's).
PROBE = """
import json, runpy, sys
sys.path.insert(0, {repo!r})
before = set(sys.modules) - {{"json", "runpy"}}
for name in {preload!r}:
    __import__(name)
sys.argv = ["pipelines", *{args!r}]
try:
    runpy.run_module("pipelines", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
with open({out!r}, "w") as handle:
    json.dump(sorted(set(sys.modules) - before), handle)
"""
NOT_FOR_TAG_PARSE = ("requests", "urllib3", "yaml", "pulumi", "kubernetes", "sigstore", "packaging", "tomlkit", "http")
TAG_PARSE = ("tag", "parse", "percolate-reading-v0.1.0-rc2", "--json")


def modules_imported(tmp_path: Path, args: tuple[str, ...], preload: tuple[str, ...] = ()) -> set[str]:
    out = tmp_path / "modules.json"
    probe = PROBE.format(repo=str(Path(__file__).resolve().parents[2]), preload=preload, args=args, out=str(out))
    subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path, check=True, capture_output=True)
    return set(json.loads(out.read_text()))


def needless(modules: set[str]) -> set[str]:
    """What `tag parse` has no use for: the heavy libraries, the HTTP stack, and every part of the package past
    core (edges, images, ...) but the command's own module and the output boundary."""
    return {
        name
        for name in modules
        if name.split(".")[0] in NOT_FOR_TAG_PARSE
        or (
            name.startswith("pipelines.")
            and name.split(".")[1] not in {"core", "commands", "cli", "output", "__main__"}
        )
    }


def test_tag_parse_imports_only_what_it_uses(tmp_path):
    modules = modules_imported(tmp_path, TAG_PARSE)
    assert {"pipelines.cli", "pipelines.commands.tag", "pipelines.core.tags", "pipelines.output"} <= modules
    assert needless(modules) == set()
    # It is read without argparse, and its values are no dataclasses: neither they nor typing are loaded.
    assert modules.isdisjoint({"argparse", "dataclasses", "inspect", "typing", "pathlib"})


@pytest.mark.parametrize(
    ("args", "preload", "caught"),
    [
        (TAG_PARSE, ("yaml",), "yaml"),  # as if a module on the way imported YAML
        (("promote", "--help"), (), "pipelines.images.prefetch"),  # a command that does load the images stage
    ],
    ids=["preloaded-yaml", "promote"],
)
def test_a_needless_import_is_caught(tmp_path, args, preload, caught):
    """The controls: the same probe sees what a command imports that `tag parse` must not."""
    assert caught in needless(modules_imported(tmp_path, args, preload))


@pytest.mark.parametrize(
    "args",
    [
        ["tag", "parse", "percolate-v1.0.0"],
        ["tag", "parse", "percolate-v1.0.0", "--json"],
        ["tag", "parse", "--json", "refs/tags/percolate-v1.0.0-rc1"],
        ["tag", "parse", ""],  # argparse takes an empty word as TAG too (and parse_tag refuses it)
        ["tag", "parse", "not a tag"],
    ],
)
def test_tag_parse_without_argparse_reads_what_argparse_reads(args):
    from pipelines.cli import _tag_parse
    from pipelines.commands.tag import TagParseRequest

    assert _tag_parse(args) == request_of(TagParseRequest, build_parser("tag").parse_args(args))


@pytest.mark.parametrize(
    "args",
    [
        ["tag", "parse"],
        ["tag", "parse", "--help"],
        ["tag", "parse", "-1"],  # argparse's own reading of a word that starts with -
        ["tag", "parse", "percolate-v1.0.0", "--js"],  # an abbreviation: argparse's
        ["tag", "parse", "percolate-v1.0.0", "--json", "--json"],
        ["tag", "parse", "a", "b"],
        ["tag", "next-rc", "percolate"],
        ["--json", "tag", "parse", "percolate-v1.0.0"],
    ],
)
def test_every_other_shape_goes_through_argparse(args):
    from pipelines.cli import _tag_parse

    assert _tag_parse(args) is None


def test_calver_tags_are_read_and_made_without_packaging(tmp_path):
    # The version in a CalVer tag is X.Y.Z, parsed from its pattern: promote reads thousands of such tags.
    imported = imported_by(tmp_path, *CALVER_EXAMPLE)
    assert "pipelines.core.calver" in imported
    assert "packaging.version" not in imported


def test_the_health_gate_reads_yaml_and_kubernetes_only_when_it_runs(tmp_path):
    imported = imported_by(tmp_path, "wait-healthy", "--help")
    assert "pipelines.health.verdict" in imported  # the command module loaded
    assert {name for name in imported if name.split(".")[0] in {"yaml", "kubernetes"}} == set()


def test_the_command_table_names_exactly_what_the_modules_register():
    full = build_parser()
    (subcommands,) = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    assert list(subcommands.choices) == list(COMMANDS)
    for command in COMMANDS:
        (only,) = [a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction)]
        assert command in only.choices


def leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_parsers(sub, (*path, name)))
    return found or {" ".join(path): parser}


def test_each_command_runs_on_a_request_of_exactly_its_arguments():
    """Every leaf command's handler turns the parsed arguments into its typed request: one field per argument."""
    leaves = leaf_parsers(build_parser())
    assert {"tag parse", "promote", "wheels find-rc", "versions check"} <= set(leaves)
    for name, parser in leaves.items():
        handler = parser.get_default("handler")
        assert isinstance(handler, Dispatch), name
        arguments = {action.dest for action in parser._actions if action.dest != "help"}
        assert set(field_names(handler.request)) == arguments, name


def test_a_request_holds_the_parsed_values_and_nothing_else():
    from pipelines.commands.calver import CalverRequest

    args = build_parser("calver").parse_args(list(CALVER_EXAMPLE))
    request = request_of(CalverRequest, args)
    assert request == CalverRequest(
        project="percolate",
        version="0.1.0",
        sha="abc1234def",
        arch="amd64",
        build=123,
        at=datetime(2025, 10, 25, 14, 30, tzinfo=UTC),
        registry="ghcr.io/percolation-labs",
        json=False,
    )
    with pytest.raises(FrozenInstanceError):
        request.build = 124  # type: ignore[misc]


def test_plan_refuses_a_tag_of_another_project_or_stage(cli, monorepo):
    other = cli("plan", "percolate-reading-v0.1.0-rc1", "--expect-project", "percolate", cwd=monorepo.root)
    assert other.code == 1 and "is a tag of percolate-reading, but this workflow runs percolate" in other.stderr
    stage = cli("plan", "percolate-v0.1.0", "--expect-stage", "build", cwd=monorepo.root)
    assert stage.code == 1 and "starts a release, but this workflow runs a build" in stage.stderr
    fits = cli(
        "plan", "percolate-v0.1.0-rc1", "--expect-project", "percolate", "--expect-stage", "build", cwd=monorepo.root
    )
    assert fits.code == 0, fits.stderr


def test_in_actions_the_plan_fields_are_step_outputs(cli, monorepo, tmp_path):
    outputs = tmp_path / "github-output"
    result = cli("plan", "percolate-rocks-v0.2.0-rc3", cwd=monorepo.root, env={"GITHUB_OUTPUT": str(outputs)})
    assert result.code == 0, result.stderr
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written == {
        "project": "percolate-rocks",
        "version": "0.2.0",
        "rc": "3",
        "stage": "build",
        "package-version": "0.2.0rc3",
        "commit": monorepo.head,
        "environment": "staging",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["calver", "--build", "x", "--json"],  # the example: a bad value (the first error argparse meets)
        ["frobnicate", "--json"],  # no such command
        ["tag", "parse", "--json"],  # a required argument left out, one level down
        ["tag", "parse", "percolate-v0.1.0", "--json", "--nope"],  # an unknown option
    ],
)
def test_a_usage_error_with_json_is_one_json_document_on_stdout(args, capsys):
    from pipelines.cli import main

    code = main(args)  # in-process: argparse's own exit would leave SystemExit and an empty stdout
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == report["exit_code"] == 2
    assert report["cause"] == "bad-input"
    assert report["error"] and report["hint"]
    assert captured.err.startswith("usage: python -m pipelines") and "Traceback" not in captured.err


def test_a_usage_error_without_json_is_still_argparse_own(capsys):
    from pipelines.cli import main

    with pytest.raises(SystemExit) as leaving:
        main(["calver", "--build", "x"])
    captured = capsys.readouterr()
    assert leaving.value.code == 2 and captured.out == ""
    assert "python -m pipelines calver: error: argument --build: 'x' is not a whole number" in captured.err
