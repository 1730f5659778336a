"""`make system-deps` on the machines it must serve: Debian 12 (here) and GitHub's ubuntu-24.04 runner (ci.yml).

The real Makefile runs under real make and bash on a stand-in machine: a PATH holding only fakes of
`dpkg-query` (answers from a list of installed packages), `apt-get` (records its calls), `id` and
whatever commands the machine is given (a browser, node, npm), so that what system-deps would install
is read from what it asked apt for. The runner image and the two distributions' archives are written
down below, each with where it was looked up; they are the facts the Makefile's comments state.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import BROWSERS, find_browser

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "/usr/bin/make"

# Every package system-deps may ask apt for, and the distributions that have it as a .deb.
# Debian 12: `apt-cache policy` on this machine (bookworm main and bookworm-security), and packages.debian.org.
DEBIAN_12 = {"docker-registry", "skopeo", "git", "gcc", "openssl", "shellcheck", "chromium", "nodejs", "npm"}
# Ubuntu 24.04, from packages.ubuntu.com/noble: docker-registry 2.8.2 (universe), skopeo 1.13.3 (universe),
# shellcheck 0.9.0 (universe), nodejs 18.19.1 (universe), npm 9.2.0 (universe); git, gcc, openssl in main.
# `chromium` there is only a virtual name, provided by the chromium-browser stub that installs the snap.
UBUNTU_24_04 = {"docker-registry", "skopeo", "git", "gcc", "openssl", "shellcheck", "nodejs", "npm"}
# The packages the suite runs that both have; installed, they leave only the browser and node to decide.
SUITE_PACKAGES = {"docker-registry", "skopeo", "git", "gcc", "openssl", "shellcheck"}


@dataclass(frozen=True)
class Image:
    """A machine as it starts: the packages dpkg knows, and commands on the PATH that no package of that name gave."""

    name: str
    archive: frozenset[str]
    packages: frozenset[str]
    commands: frozenset[str]


# GitHub's ubuntu-24.04 image (actions/runner-images: images/ubuntu/Ubuntu2404-Readme.md, and the install
# scripts it names): apt packages git (git-core PPA), gcc, openssl, shellcheck, skopeo (install-container-tools.sh)
# and google-chrome-stable (Google's .deb); a Chromium snapshot unzipped to /usr/local/share/chromium and linked
# as /usr/bin/chromium and /usr/bin/chromium-browser (install-google-chrome.sh); Node.js 20 and npm 10 put in
# /usr/local/bin by `n` (install-nodejs.sh), which Ubuntu's sudo secure_path keeps. No docker-registry.
RUNNER_IMAGES = {
    "ubuntu-24.04": Image(
        "ubuntu-24.04",
        frozenset(UBUNTU_24_04),
        frozenset({"git", "gcc", "openssl", "shellcheck", "skopeo", "google-chrome-stable"}),
        frozenset({"google-chrome", "google-chrome-stable", "chromium", "chromium-browser", "node", "npm"}),
    ),
}


def makefile_list(name: str) -> list[str]:
    match = re.search(rf"^{name} := (.*)$", (REPO_ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"the Makefile sets no {name}"
    return match.group(1).split()


class Machine:
    """A stand-in machine in a temp folder: fake system tools and commands on a PATH of their own."""

    def __init__(self, folder: Path, *, packages: set[str], commands: set[str], root: bool = True) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True)
        self.installed = folder / "installed"
        self.apt_log = folder / "apt.log"
        self.installed.write_text("".join(f"{p}\n" for p in packages))
        self.apt_log.touch()
        (self.bin / "grep").symlink_to(shutil.which("grep") or "/usr/bin/grep")
        self.script("dpkg-query", f'grep -qx "${{@: -1}}" {self.installed} && printf "install ok installed"')
        self.script("apt-get", f'echo "$*" >> {self.apt_log}')
        self.script("id", f"echo {0 if root else 1000}")
        for command in commands:
            self.script(command, "exit 0")

    def script(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)

    def make(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MAKE, "--no-print-directory", "-C", str(REPO_ROOT), "system-deps", *arguments],
            env={"PATH": str(self.bin), "HOME": str(self.bin.parent)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def apt_installs(self) -> list[str]:
        """The packages of every `apt-get install` system-deps ran, in order."""
        packages = []
        for line in self.apt_log.read_text().splitlines():
            words = line.split()
            if words and words[0] == "install":
                packages += [word for word in words[1:] if not word.startswith("-")]
        return packages


def boot(tmp_path: Path, image: Image, *, root: bool = True) -> Machine:
    return Machine(tmp_path, packages=set(image.packages), commands=set(image.commands), root=root)


# ---- the rules, each on a machine where it decides the outcome --------------------------------------


def test_a_browser_on_the_path_is_used_and_chromium_is_not_installed(tmp_path):
    machine = Machine(tmp_path, packages=SUITE_PACKAGES, commands={"google-chrome", "node", "npm"})
    result = machine.make()
    assert result.returncode == 0, result.stderr
    assert machine.apt_installs() == []


def test_without_a_browser_chromium_is_installed(tmp_path):
    machine = Machine(tmp_path, packages=SUITE_PACKAGES, commands={"node", "npm"})
    result = machine.make()
    assert result.returncode == 0, result.stderr
    assert machine.apt_installs() == ["chromium"]


def test_a_browser_stub_that_does_not_run_is_no_browser(tmp_path):
    """Ubuntu's chromium-browser stub only says to install the snap, and exits 1."""
    machine = Machine(tmp_path, packages=SUITE_PACKAGES, commands={"node", "npm"})
    machine.script("chromium-browser", "echo \"Command '$0' requires the chromium snap to be installed.\" >&2; exit 1")
    assert machine.make().returncode == 0
    assert machine.apt_installs() == ["chromium"]


def test_node_and_npm_come_from_the_path_or_from_nodejs_and_npm(tmp_path):
    machine = Machine(tmp_path, packages=SUITE_PACKAGES, commands={"chromium", "npm"})
    assert machine.make().returncode == 0
    assert machine.apt_installs() == ["nodejs"]


def test_not_root_names_what_is_missing_and_installs_nothing(tmp_path):
    machine = Machine(tmp_path, packages=set(), commands=set(), root=False)
    result = machine.make()
    assert result.returncode != 0
    assert "missing Debian packages: docker-registry skopeo git gcc openssl shellcheck chromium nodejs npm" in (
        result.stderr
    )
    assert machine.apt_installs() == []


def test_control_without_the_browser_lookup_chrome_would_not_count(tmp_path):
    """Control of the first test: with no browser names to look for, a machine with Chrome gets chromium."""
    machine = Machine(tmp_path, packages=SUITE_PACKAGES, commands={"google-chrome", "node", "npm"})
    assert machine.make("BROWSERS=").returncode == 0
    assert machine.apt_installs() == ["chromium"]


# ---- every package exists where it may be installed --------------------------------------------------


def test_every_package_system_deps_may_install_exists_on_debian_12_and_ubuntu_24_04(tmp_path):
    bare = Machine(tmp_path, packages=set(), commands=set())
    assert bare.make().returncode == 0
    wanted = set(bare.apt_installs())
    assert {"docker-registry", "chromium", "nodejs", "npm"} <= wanted
    assert wanted <= DEBIAN_12, f"not packaged in Debian 12: {sorted(wanted - DEBIAN_12)}"
    # chromium is the one package Ubuntu lacks; system-deps asks for it only where no browser is on the PATH.
    assert wanted - UBUNTU_24_04 == {"chromium"}


# ---- ci.yml's job on the runner it names --------------------------------------------------------------


def ci_problems(ci: dict[str, Any], tmp_path: Path, *make_arguments: str) -> list[str]:
    """What breaks when ci.yml's job `test` sets up its runner: an unknown image, system-deps not run as root
    before `make test`, or an apt install of a package the runner's distribution does not have."""
    job = ci["jobs"]["test"]
    image = RUNNER_IMAGES.get(job["runs-on"])
    if image is None:
        return [f"ci.yml job test runs on {job['runs-on']!r}, whose image is not modelled in RUNNER_IMAGES"]
    runs = [step.get("run", "") for step in job["steps"]]
    setup = [i for i, run in enumerate(runs) if "make system-deps" in run]
    tests = [i for i, run in enumerate(runs) if re.search(r"\bmake test\b", run)]
    if not setup or not tests or setup[0] > tests[0]:
        return ["ci.yml job test: no `make system-deps` step before `make test`"]
    as_root = runs[setup[0]].strip().startswith("sudo ")
    problems = [] if as_root else ["ci.yml job test: `make system-deps` runs without sudo, so apt cannot install"]
    runner = boot(tmp_path / "setup", image, root=as_root)
    result = runner.make(*make_arguments)
    if result.returncode != 0:
        problems.append(f"make system-deps failed on {image.name}: {result.stderr.strip()}")
    problems += [
        f"make system-deps on {image.name} apt-installs {package}, which its archive has no .deb of"
        for package in runner.apt_installs()
        if package not in image.archive
    ]
    return problems


@pytest.fixture(scope="module")
def ci(yaml_loader) -> dict[str, Any]:
    return yaml_loader(REPO_ROOT / ".github" / "workflows" / "ci.yml")


def test_ci_sets_up_its_ubuntu_runner_with_packages_ubuntu_has(ci, tmp_path):
    assert ci_problems(ci, tmp_path) == []


def test_on_the_runner_only_docker_registry_is_installed(tmp_path):
    runner = boot(tmp_path, RUNNER_IMAGES["ubuntu-24.04"])
    assert runner.make().returncode == 0
    assert runner.apt_installs() == ["docker-registry"]


def _runs_on(label: str):
    return lambda ci: ci["jobs"]["test"].update({"runs-on": label})


def _setup_run(run: str):
    def change(ci: dict[str, Any]) -> None:
        [step] = [s for s in ci["jobs"]["test"]["steps"] if "make system-deps" in s.get("run", "")]
        step["run"] = run

    return change


@pytest.mark.parametrize(
    ("change", "make_arguments", "problem"),
    [
        # The Makefile before this rule: chromium among the Debian packages, which noble has no .deb of.
        (
            None,
            ("DEBIAN_PACKAGES=docker-registry skopeo git gcc openssl shellcheck chromium",),
            "apt-installs chromium, which its archive has no .deb of",
        ),
        (_runs_on("ubuntu-22.04"), (), "whose image is not modelled in RUNNER_IMAGES"),
        (_setup_run("make system-deps"), (), "runs without sudo"),
        (_setup_run("echo skipped"), (), "no `make system-deps` step before `make test`"),
    ],
)
def test_the_ci_check_rejects_its_controls(ci, tmp_path, change, make_arguments, problem):
    broken = copy.deepcopy(ci)
    if change is not None:
        change(broken)
    problems = ci_problems(broken, tmp_path, *make_arguments)
    assert any(problem in line for line in problems), problems


# ---- the tests' browser lookup is the Makefile's -----------------------------------------------------


def test_the_helper_looks_for_the_makefiles_browsers_in_its_order():
    assert list(BROWSERS) == makefile_list("BROWSERS")


def test_the_helper_takes_the_first_browser_that_runs(tmp_path):
    machine = Machine(tmp_path, packages=set(), commands={"google-chrome", "google-chrome-stable"})
    machine.script("chromium-browser", "exit 1")
    assert find_browser(str(machine.bin)) == str(machine.bin / "google-chrome")
    (machine.bin / "google-chrome").unlink()
    assert find_browser(str(machine.bin)) == str(machine.bin / "google-chrome-stable")
    (machine.bin / "google-chrome-stable").unlink()
    assert find_browser(str(machine.bin)) is None
