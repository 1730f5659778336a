"""Runs a kubeconfig's exec credential plugin with a time limit; the health gate puts it in front of the plugin.

The official Kubernetes client starts exec plugins (`aws eks get-token`, `kubelogin`, ...)
and waits for them without any timeout, so a plugin stuck on a login prompt or a dead
network would hold the gate past `--timeout`. The gate therefore names this script as the
plugin's command, with the gate's deadline in front of the real command line:

    python -I exec_limit.py UNTIL MAX_SECONDS COMMAND [ARG...]

UNTIL is a wall-clock time (seconds since the epoch, shared with the gate's process) and
MAX_SECONDS caps one run. The plugin inherits stdin, stdout, stderr, the environment and the
working folder the client set up, so the client reads its ExecCredential as if it had run
it directly. It runs in a process group of its own, which is killed when the limit is
reached or when this script is told to stop, so helpers it started die with it.

Standard library only: it runs as a file (`-I`, isolated), outside the `pipelines` package.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

TIMED_OUT = 124  # what coreutils `timeout` exits with
NOT_STARTED = 127  # what a shell exits with for a command it cannot run


def _stop(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def main(argv: list[str]) -> int:
    until, cap, command = float(argv[1]), float(argv[2]), argv[3:]
    limit = min(until - time.time(), cap)
    if limit <= 0:
        print(f"{command[0]}: not started, the health gate's time limit was reached", file=sys.stderr)
        return TIMED_OUT
    try:
        child = subprocess.Popen(command, start_new_session=True)
    except OSError as error:
        print(f"{command[0]}: cannot run it: {error.strerror}", file=sys.stderr)
        return NOT_STARTED

    def stop_and_exit(signum: int, frame: FrameType | None) -> None:
        _stop(child)
        sys.exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop_and_exit)
    try:
        return child.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        _stop(child)
        print(f"{command[0]}: did not finish within {limit:.1f}s (the health gate's time limit)", file=sys.stderr)
        return TIMED_OUT


if __name__ == "__main__":
    sys.exit(main(sys.argv))
