"""What a package index already holds of one version, and the rule that keeps one build's files apart from another's.

PyPI and TestPyPI never take a file name twice: a different file under a name already used is
refused ("File already exists"), even after it was deleted; the very same bytes again are accepted and
ignored. A wheel built again differs byte for byte from the one uploaded (timestamps, the compiler's
output), so a version whose files are partly or wholly on the index can never get a new build's files
next to them. Two rules follow, both pure (the index is read by `pipelines.wheels.index`):

- `refuse_published`, before a build: any file of the version on the index refuses the build, whose
  files would differ; the fix is the next rc (or, for a final version, the next version);
- `plan_upload`, right before an upload: every file about to be uploaded that the index already has
  must be those very bytes (a re-run of an upload that stopped half-way: they are skipped), and the index
  must hold no file of the version that is not among them. Otherwise the version would mix two builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import Version

from pipelines.core.catalog import Project
from pipelines.core.errors import InputError, RuleRefused
from pipelines.core.tags import format_tag
from pipelines.core.versions import ProjectVersion
from pipelines.wheels.index import IndexFile
from pipelines.wheels.select import parse_filename


@dataclass(frozen=True)
class UploadPlan:
    """The files of one upload: those the index already has byte for byte (skipped), and the others."""

    already_published: tuple[str, ...]
    to_upload: tuple[str, ...]


def files_of_version(project: Project, version: ProjectVersion, filenames: Iterable[str]) -> list[str]:
    """The names among `filenames` that are a wheel or sdist of `project` at exactly `version` (others skipped)."""
    wanted, exact = canonicalize_name(project.distribution or project.name), Version(version.pep440())
    found = []
    for filename in filenames:
        try:
            name = parse_filename(filename)
        except InputError:
            continue
        if name.project == wanted and name.parsed_version == exact:
            found.append(filename)
    return sorted(found)


def next_build_fix(project: Project, version: ProjectVersion) -> str:
    """What to do instead of building `version` again: push the next rc tag, or bump a final version."""
    if version.pre is not None and version.pre[0] == "rc":
        final = ProjectVersion(version.major, version.minor, version.patch)
        tag = format_tag(project.name, final, version.pre[1] + 1)
        return (
            f"push the next release candidate, {tag} (`python -m pipelines tag next-rc {project.name}` names it)"
            " on the commit to build"
        )
    return f"bump the version (`python -m pipelines versions bump {project.name} NEW_VERSION`) and build that"


def refuse_published(project: Project, version: ProjectVersion, published: list[IndexFile], index: str) -> None:
    """RuleRefused when the index holds any file of `version` (`published`, yanked ones included)."""
    if not published:
        return
    names = ", ".join(f.filename for f in published)
    raise RuleRefused(
        f"Version already exists: {index} already holds {len(published)} file(s) of {project.name} {version} "
        f"({names}). The index never takes a file name twice, and a new build's files differ byte for byte "
        "from those, so this build would fail at its upload, after building every wheel",
        hint=f"{next_build_fix(project, version)}. To finish a run that uploaded these very files, use "
        "'Re-run failed jobs' (the upload job checks the files on the index against the run's own)",
    )


def plan_upload(
    project: Project, version: ProjectVersion, published: list[IndexFile], local: Mapping[str, str], index: str
) -> UploadPlan:
    """Which of `local` (file name -> sha256, all of `version`) to upload next to `published` on `index`.

    RuleRefused when a file on the index has other bytes than the local file of that name (or gives no
    sha256 to compare), or when the index holds a file of `version` that is not among `local`.
    """
    fix = next_build_fix(project, version)
    on_index = {f.filename: f for f in published}
    differing = [
        f"{name} (the index has sha256 {on_index[name].sha256 or 'none given'}, this run's file {digest})"
        for name, digest in sorted(local.items())
        if name in on_index and on_index[name].sha256 != digest
    ]
    if differing:
        raise RuleRefused(
            f"Version already exists: {index} holds other bytes under the names of this run's files: "
            f"{'; '.join(differing)}. These files were built again; uploading the rest would mix two builds",
            hint=f"{fix}; the files on the index stay as they are",
        )
    foreign = sorted(set(on_index) - set(local))
    if foreign:
        raise RuleRefused(
            f"{index} holds file(s) of {project.name} {version} that this run did not build: {', '.join(foreign)}; "
            "uploading this run's files next to them would mix two builds",
            hint=fix,
        )
    already = tuple(sorted(name for name in local if name in on_index))
    return UploadPlan(already, tuple(sorted(name for name in local if name not in on_index)))
