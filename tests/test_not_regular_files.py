"""A FIFO, a socket or a device where a file belongs (issue 21, item 7): reading a FIFO waits for a writer
that never comes, so every option that reads a user-given file refuses anything but a regular file at once,
exit 2 naming what it is (as a folder already was), without opening it for reading. Where a stray file must
not stop the command (a notification's details, a record under `dashboard --data`), it is skipped with a
warning or a note instead. Each command runs in a subprocess killed after a guard time, so a regression
fails the test instead of hanging the suite."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import EXAMPLE_MONOREPO, Monorepo, run_cli
from tests.dashboard.conftest import benchmark_file
from tests.deploy.conftest import GOLDEN, _make_pin, _promotion_record
from tests.plan.test_build_record import WHEEL_NAMES
from tests.support.special_files import KIND_WORDS, KINDS, run_guarded, special_file

DIGEST = "sha256:" + "a" * 64
STEM = "2025.11.27.1015-build.123-v0.3.0-5848c76"


@pytest.fixture(scope="module")
def given(tmp_path_factory) -> SimpleNamespace:
    """Valid files for every option but the one under test: a monorepo with an RC tag, its build plan and
    files, a stack file, a promotion record, benchmark results."""
    base = tmp_path_factory.mktemp("given")
    repo = Monorepo(base / "monorepo")
    shutil.copytree(EXAMPLE_MONOREPO, repo.root)
    repo.git("init", "-q", "-b", "main")
    repo.commit_all("initial import")
    repo.tag("percolate-rocks-v0.2.0-rc1")
    plan = base / "plan.json"
    plan.write_text(run_cli("plan", "percolate-rocks-v0.2.0-rc1", "--json", cwd=repo.root).stdout)
    dist = base / "dist"
    dist.mkdir()
    for name in WHEEL_NAMES:
        (dist / name).write_bytes(b"x")
    stack = base / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, stack)
    promotion = base / "promotion.json"
    promotion.write_text(json.dumps(_promotion_record(_make_pin("percolate", "0.2.0"))))
    bench = base / "benchmarks.json"
    bench.write_text(benchmark_file(1.0))
    return SimpleNamespace(root=repo.root, plan=plan, dist=dist, stack=stack, promotion=promotion, bench=bench)


@dataclass(frozen=True)
class Case:
    """A command reading the special file at `name` (under the test's folder): its arguments (`{x}` the special
    file, `{t}` the test's folder, other names the valid files of `given`), its exit code, and whether its own
    message names what the file is (a few commands check is_file() first, and say "not a file" or "does not
    exist" in their own words)."""

    name: str
    args: str
    code: int = 2
    names_kind: bool = True
    module: str = "pipelines"

    def argv(self, given: SimpleNamespace, special: Path, folder: Path) -> list[str]:
        return self.args.format(x=special, t=folder, **vars(given)).split()


CASES = {
    "stack-config show --stack-config": Case("stack.yaml", "stack-config show --stack-config {x}"),
    "stack-config set-image --stack-config": Case(
        "stack.yaml", "stack-config set-image percolate --promotion {promotion} --stack-config {x}"
    ),
    "stack-config set-image --promotion": Case(
        "promotion.json", "stack-config set-image percolate --promotion {x} --stack-config {stack}"
    ),
    "promote --stack-config": Case(
        "stack.yaml", "promote percolate-v0.1.0 --registry 127.0.0.1:9/x --stack-config {x}"
    ),
    "rollback --stack-config": Case("stack.yaml", "rollback percolate --stack-config {x}"),
    "wait-healthy --stack-config": Case(
        "stack.yaml", f"wait-healthy percolate-reading --digest {DIGEST} --stack-config {{x}} --timeout 1"
    ),
    "wait-healthy --kubeconfig": Case(
        "kubeconfig", f"wait-healthy percolate-api --digest {DIGEST} --kubeconfig {{x}} --timeout 1", names_kind=False
    ),
    "trusted-publishers --stack-config": Case("stack.yaml", "trusted-publishers --stack-config {x} --root {t}"),
    "trusted-publishers --workflows": Case(
        "workflows/release-rocks.yml",
        "trusted-publishers --repository a/b --workflows {t}/workflows --root {t}",
        code=1,
        names_kind=False,
    ),
    "deploy-pr --promotion": Case("promotion.json", "deploy-pr percolate 0.2.0 --promotion {x}"),
    "changelog --promotion": Case("promotion.json", "changelog percolate-v0.1.0 --promotion {x} --root {root}"),
    "build-metadata --plan": Case("plan.json", "build-metadata --plan {x} --files {dist} --out {t}/o"),
    "build-metadata --images": Case("images.txt", "build-metadata --plan {plan} --images {x} --out {t}/o"),
    "build-metadata --benchmarks": Case(
        "benchmarks.json", "build-metadata --plan {plan} --files {dist} --out {t}/o --benchmarks {x}"
    ),
    "staging record --report": Case(
        "report.xml",
        f"staging record percolate --build {STEM} --result passed --report {{x}} --registry 127.0.0.1:9/x",
        names_kind=False,
    ),
    "notify --details": Case("notes.md", "notify released --project percolate --version 0.1.0 --details {x}", code=0),
    "bench compare --baseline": Case("baseline.json", "bench compare --baseline {x} --current {bench}"),
    "bench compare --current": Case("current.json", "bench compare --baseline {bench} --current {x}"),
    "dashboard --data": Case(
        "data/percolate-v0.1.0-rc1/build-metadata.json",
        "dashboard --out {t}/site --root {root} --data {t}/data",
        code=0,
    ),
    "infra render --stack-config": Case("stack.yaml", "render --stack-config {x}", module="infra"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_a_file_that_is_not_regular_is_refused_at_once(given, tmp_path, case, kind):
    spec = CASES[case]
    (tmp_path / spec.name).parent.mkdir(parents=True, exist_ok=True)
    with special_file((tmp_path / spec.name).parent, Path(spec.name).name, kind) as path:
        result = run_guarded(*spec.argv(given, path, tmp_path), module=spec.module, cwd=tmp_path)
    assert result.code == spec.code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    if spec.names_kind:
        assert f"{path} is a {KIND_WORDS[kind]}, not a file" in result.stderr
    if spec.code == 0 and case == "dashboard --data":
        notes = json.loads((tmp_path / "site" / "dashboard.json").read_text())["notes"]
        assert any(KIND_WORDS[kind] in note and "skipped" in note for note in notes), notes


def test_a_version_file_that_is_a_fifo_is_refused_at_once(given, tmp_path):
    root = tmp_path / "monorepo"
    shutil.copytree(given.root, root, ignore=shutil.ignore_patterns(".git"))
    (root / "percolate" / "pyproject.toml").unlink()
    with special_file(root / "percolate", "pyproject.toml", "fifo"):
        result = run_guarded("versions", "show", "--root", str(root))

    assert result.code == 2, result.stderr
    assert "is a named pipe (FIFO), not a file" in result.stderr and "Traceback" not in result.stderr


def test_a_docker_config_that_is_a_fifo_is_refused_at_once(tmp_path, monkeypatch):
    config = tmp_path / "docker"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.delenv("REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    with special_file(config, "config.json", "fifo"):
        result = run_guarded("staging", "show", "percolate-v0.1.0", "--registry", "127.0.0.1:9/x", "--max-time", "5")

    assert result.code == 2, result.stderr
    assert "the Docker config" in result.stderr and "named pipe (FIFO), not a file" in result.stderr
