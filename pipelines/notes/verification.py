"""The commands a reader runs to check a release is what the release workflow produced: the one form of them.

The release notes print them, and so do the dashboard and the docs (docs/releasing.md, release-notes.md
and dashboard.md show this module's output; tests/docs/test_verification_commands.py compares them).
They follow what the workflows make and verify in the same job:
- an image release (`_release-image.yml`): the `{VERSION}` index and every platform image are signed
  with cosign keyless (recursive), and each platform image carries an SPDX SBOM attestation; the
  certificate names `_release-image.yml` at the release tag (GitHub's documented `job_workflow_ref`
  for a `$/` call) or at its commit, with the workflow ref `refs/tags/<tag>`, the commit as workflow
  sha and this repository: the release job's own `cosign verify` demands exactly these;
- a wheel release (`release-rocks.yml`): the files are on PyPI with PEP 740 attestations (trusted
  publishing), their sha256 sums are in the notes, and the GitHub release carries each file's
  sigstore bundle (`<file>.sigstore.json`) signed by `release-rocks.yml` at the tag.
The digests and files come from the promotion record the release job wrote (`promote --json`,
`wheels promote --json`); without one, the image is named by its release tag. An RC gets none: RCs are
not signed releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.catalog import DEFAULT_REGISTRY, get_project
from pipelines.core.errors import InputError
from pipelines.core.tags import ReleaseTag

OIDC_ISSUER = "https://token.actions.githubusercontent.com"
IMAGE_WORKFLOW = "_release-image.yml"
WHEEL_WORKFLOW = "release-rocks.yml"
COMMIT_PLACEHOLDER = "<commit>"  # where the release tag's commit is not known (the docs' examples)


@dataclass(frozen=True)
class Verification:
    """What to check (`subjects`: an image reference or `file sha256`) and the shell commands that check it."""

    kind: str  # "image" or "wheels"
    subjects: tuple[str, ...]
    commands: tuple[str, ...]

    @property
    def signature_commands(self) -> tuple[str, ...]:
        """The commands that check the signatures alone (what the dashboard shows of them): the index's
        `cosign verify`, whose recursive signature covers each platform image, or the files' download and
        their sigstore verification; the notes list the rest (SBOM attestations, sums, PyPI's copy)."""
        starts = ("cosign verify ", "gh release download ", "python -m sigstore verify ")
        return tuple(command for command in self.commands if command.startswith(starts))


def _escape_regexp(text: str) -> str:
    return "".join(f"\\{c}" if c in r".^$*+?()[]{}|\\" else c for c in text)


def _bad_record(problem: str) -> InputError:
    return InputError(
        f"the promotion record {problem}",
        hint="pass the JSON `promote --json` (images) or `wheels promote --json` (wheels) wrote",
    )


def _image_digests(record: Mapping[str, Any]) -> tuple[str, str, dict[str, str]]:
    from pipelines.core.digests import is_digest  # hashlib: only when a record is read

    repository, index, platforms = record.get("repository"), record.get("index_digest"), record.get("platforms")
    if not isinstance(repository, str) or not repository or not isinstance(index, str) or not is_digest(index):
        raise _bad_record("has no repository and index_digest (sha256:…)")
    if not isinstance(platforms, dict) or not all(isinstance(d, str) and is_digest(d) for d in platforms.values()):
        raise _bad_record("has no platforms {arch: sha256:…}")
    return repository, index, {str(arch): digest for arch, digest in platforms.items()}


def image_verification(
    tag: ReleaseTag, repository_on_github: str, record: Mapping[str, Any] | None, commit: str
) -> Verification:
    project = get_project(tag.project)
    if record is None:
        image = f"{project.image_repository(DEFAULT_REGISTRY)}:{tag.version.release}"
        platform_images = [f"{image}-{arch}" for arch in project.platforms]
    else:
        repository, index, platforms = _image_digests(record)
        image = f"{repository}@{index}"
        platform_images = [f"{repository}@{digest}" for digest in platforms.values()]
    workflow = f"https://github.com/{repository_on_github}/.github/workflows/{IMAGE_WORKFLOW}@"
    ref = f"refs/tags/{tag.name}"
    identity = (
        f" \\\n  --certificate-identity-regexp '^{_escape_regexp(workflow)}({_escape_regexp(ref)}|{commit})$'"
        f" \\\n  --certificate-oidc-issuer {OIDC_ISSUER}"
        f" \\\n  --certificate-github-workflow-repository {repository_on_github}"
        f" \\\n  --certificate-github-workflow-ref {ref}"
        f" \\\n  --certificate-github-workflow-sha {commit}"
    )
    commands = [f"cosign verify {image}{identity}"]
    commands += [f"cosign verify-attestation --type spdxjson {platform}{identity}" for platform in platform_images]
    return Verification("image", (image,), tuple(commands))


def _files(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    files = record.get("files")
    if not isinstance(files, list) or not files:
        raise _bad_record("has no files [{filename, sha256}]")
    found = []
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(name, str) or "/" in name or not isinstance(sha256, str) or len(sha256) != 64:
            raise _bad_record("has a file without a plain filename and a sha256")
        found.append((name, sha256))
    return found


def wheel_verification(tag: ReleaseTag, repository_on_github: str, record: Mapping[str, Any] | None) -> Verification:
    files = _files(record) if record is not None else []
    names = " ".join(f"dist/{name}" for name, _ in files) or "dist/*.whl dist/*.tar.gz"
    identity = f"https://github.com/{repository_on_github}/.github/workflows/{WHEEL_WORKFLOW}@refs/tags/{tag.name}"
    commands = [
        f"gh release download {tag.name} --repo {repository_on_github} --dir dist "
        "--pattern '*.whl' --pattern '*.tar.gz' --pattern '*.sigstore.json'",
    ]
    if files:
        sums = "\n".join(f"{sha}  dist/{name}" for name, sha in files)
        commands.append(f"sha256sum --check <<'SUMS'\n{sums}\nSUMS")
    commands.append(
        f"python -m sigstore verify identity --cert-identity {identity} --cert-oidc-issuer {OIDC_ISSUER} {names}"
    )
    pypi = " ".join(f"pypi:{name}" for name, _ in files) or f"pypi:FILE  # a file name of {tag.version.release}"
    commands.append(f"pypi-attestations verify pypi --repository https://github.com/{repository_on_github} {pypi}")
    return Verification("wheels", tuple(f"{name} sha256 {sha}" for name, sha in files), tuple(commands))


def verification_of(
    tag: ReleaseTag, repository_on_github: str, record: Mapping[str, Any] | None, commit: str = COMMIT_PLACEHOLDER
) -> Verification | None:
    """The verification of a release tag's artifacts (`commit`: the tag's); None for an RC."""
    if tag.rc is not None:
        return None
    if get_project(tag.project).ships_images:
        return image_verification(tag, repository_on_github, record, commit)
    return wheel_verification(tag, repository_on_github, record)
