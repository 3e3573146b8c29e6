"""`make run` brings up Kallithea and rcgate, and the curl calls it prints answer as documented."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.kallithea


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_local_smoke(tmp_path, kallithea):  # `kallithea`: the install is done and cached by then
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "run_local.py"), "--smoke", "--home", str(tmp_path),
         "--gateway", f"127.0.0.1:{free_port()}", "--kallithea-port", str(free_port())],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\nok   ") == 6 and "FAIL" not in result.stdout
    assert result.stdout.count("curl -s http://127.0.0.1:") == 5
