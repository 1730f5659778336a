"""`tag parse` and `tag next-rc`.

`tag parse` starts every workflow run, and the CLI runs it without argparse (`pipelines.cli`): this module
loads only core and the output boundary, and its requests are core `Value`s, not dataclasses; the parsers
are built (`register`) and git and the version files read (`tag next-rc`) only when asked for.
"""

from __future__ import annotations

from pipelines.core.catalog import get_project
from pipelines.core.errors import RuleRefused
from pipelines.core.tags import EXPECTED_FORM, ReleaseTag, next_rc, parse_tag
from pipelines.core.values import Value
from pipelines.output import emit

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `tag parse` starts fast
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


class TagParseRequest(Value):
    tag: str
    json: bool


class NextRcRequest(Value):
    project: str
    root: Path | None
    json: bool


def tag_fields(tag: ReleaseTag) -> dict[str, Any]:
    return {
        "tag": tag.name,
        "project": tag.project,
        "version": tag.version.release,
        "rc": tag.rc,
        "stage": tag.stage.value,
        "package_version": tag.package_version.pep440(),
        "cargo_version": tag.package_version.cargo(),
    }


def run_parse(request: TagParseRequest) -> int:
    tag = parse_tag(request.tag)
    fields = tag_fields(tag)
    emit(request.json, fields, "\n".join(f"{key}: {'-' if value is None else value}" for key, value in fields.items()))
    return 0


def _next_rc(request: NextRcRequest) -> int:
    # Imported here: `tag parse` starts every workflow run and needs neither git nor the TOML files.
    from pipelines.commands.checkout import resolve_root
    from pipelines.core.version_check import check_versions
    from pipelines.edges.git import Git
    from pipelines.edges.project_files import VersionFiles

    project = get_project(request.project)
    root = resolve_root(request.root)
    check = check_versions(project.name, VersionFiles(root).read(project))
    check.raise_for_problems()
    version = check.version
    assert version is not None  # a check without problems parsed every file
    if version.is_prerelease:
        raise RuleRefused(
            f"{project.version_files[0]} holds the pre-release {version}; tags are cut from a final version",
            hint=f"python -m pipelines versions bump {project.name} {version.release}",
        )
    tag = next_rc(project.name, version, Git(root).tags())
    emit(request.json, tag_fields(tag), tag.name)
    return 0


def register(subcommands: Any) -> None:
    from pipelines.commands.arguments import add_command, add_group, add_root_option

    group = add_group(subcommands, "tag", summary="parse release tags and number release candidates")
    parse = add_command(
        group,
        "parse",
        summary="parse a tag: project, version, rc, stage",
        description=f"Parse a release tag of the form {EXPECTED_FORM}.\n"
        "An RC tag starts a build (stage build); a tag without -rc starts a release (stage release).\n"
        "A leading refs/tags/ is accepted. Exit 2 with the reason when the tag is malformed.",
        request=TagParseRequest,
        run=run_parse,
        examples="  python -m pipelines tag parse percolate-reading-v0.1.0-rc2 --json\n"
        "  python -m pipelines tag parse refs/tags/percolate-v1.0.0",
    )
    parse.add_argument("tag", metavar="TAG", help="the tag name, e.g. percolate-v1.2.0-rc1")

    rc = add_command(
        group,
        "next-rc",
        summary="the next unused rc tag for the version in the project's version file",
        description="Read the project's version file and the repository's git tags, and print the next rc tag:\n"
        "one above every existing rc of that version, so a number is never reused (even after a\n"
        "deleted tag, as long as the tag is still fetched). Exit 1 when the version is released already\n"
        "or the version files disagree. In CI, fetch tags first (actions/checkout with fetch-depth: 0).",
        request=NextRcRequest,
        run=_next_rc,
        examples="  python -m pipelines tag next-rc percolate\n"
        '  git tag "$(python -m pipelines tag next-rc percolate)"',
    )
    rc.add_argument("project", metavar="PROJECT", help="a catalog project, e.g. percolate-reading")
    add_root_option(rc)
