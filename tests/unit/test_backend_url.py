"""A password in backend.url (HTTP basic authentication) never reaches a log line."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.backend import printable_url

RCGATE = [sys.executable, "-m", "gateway"]


@pytest.mark.parametrize("url, shown", [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("https://svc@kallithea.example.com/kal", "https://svc@kallithea.example.com/kal"),
    ("http://svc:s3cret@127.0.0.1:5000/kal", "http://svc:***@127.0.0.1:5000/kal"),
    ("http://svc:p%40ss%3Aword@[::1]:5000/", "http://svc:***@[::1]:5000/"),
])
def test_printable_url(url, shown):
    assert printable_url(url) == shown


def test_the_startup_line_hides_the_password(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*RCGATE, "serve", "--listen", f"127.0.0.1:{port}", "--backend-url", "http://svc:Pa55w0rd-x@127.0.0.1:9/",
         "--audit-log", str(tmp_path / "audit.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "listening" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "listening" in line and "http://svc:***@127.0.0.1:9/" in line, line
    finally:
        proc.terminate()
        output = line + proc.communicate(timeout=30)[0]
    assert "Pa55w0rd" not in output
