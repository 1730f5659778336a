"""promote --stack-config checks its write-back target before the registry is touched (issue 12, item 10)."""

from __future__ import annotations

import shutil
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from kit.loopback import serving

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"


def test_promote_checks_the_write_back_target_before_any_request(cli, tmp_path):
    requests: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_PUT = do_HEAD = do_POST = do_GET

    with serving(Recorder) as url:
        folder = tmp_path / "locked"
        folder.mkdir()
        stack = folder / "Pulumi.prod.yaml"
        shutil.copy(GOLDEN, stack)
        folder.chmod(0o555)
        registry = f"{url.removeprefix('http://')}/percolation-labs"
        result = cli("promote", "percolate-v0.4.0", "--registry", registry, "--stack-config", str(stack), cwd=tmp_path)
        folder.chmod(0o755)
    assert "Traceback" not in result.stderr
    assert result.code == 2 and "read-only" in result.stderr
    assert requests == []
