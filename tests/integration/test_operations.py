"""Operations, with rcgate as a real process in front of the real Kallithea: audit under load,
graceful stop, usage report, metrics, health, reload on SIGHUP, migration hints."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app

from .conftest import REPO_ROOT, gateway_config

pytestmark = pytest.mark.kallithea


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """`rcgate serve` as a subprocess; stopped by PID."""

    def __init__(self, tmp: Path, backend_url: str, *extra: str, config: Path | None = None) -> None:
        self.port = free_port()
        self.audit = tmp / "audit.jsonl"
        self.stderr = tmp / "rcgate.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config or REPO_ROOT / "config.yaml"),
             "--listen", f"127.0.0.1:{self.port}", "--backend-url", backend_url, "--audit-log", str(self.audit),
             *extra],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=open(self.stderr, "ab"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("rcgate did not start")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()] if self.audit.exists() else []


@pytest.fixture
def started(tmp_path, kallithea):
    gateways: list[Gateway] = []

    def start(*extra: str, config: Path | None = None) -> Gateway:
        gw = Gateway(tmp_path, kallithea.url, *extra, config=config)
        gateways.append(gw)
        return gw

    yield start
    for gw in gateways:
        gw.stop()


def mixed_bodies(key: str, n: int) -> list[bytes]:
    """Good calls of each dialect and bad ones of every kind, in turn."""
    kinds = [
        {"id": 1, "api_key": key, "method": "get_user", "args": {}},
        {"id": "s", "auth_token": key, "method": "get_user", "args": None},
        {"id": 2, "api_key": key, "method": "get_users_group", "args": {"usersgroupid": "no-such-group"}},
        {"id": 3, "api_key": "x" * 40, "method": "get_user", "args": {}},
        {"id": 4, "api_key": key, "method": "no_such_method", "args": {}},
        {"id": 5, "api_key": key, "method": "get_repo", "args": {}},
        {"id": 6, "method": "get_user", "args": {}},
        b"{not json",
        b"[1, 2]",
        b"",
    ]
    return [k if isinstance(k, bytes) else json.dumps(k).encode() for k in (kinds * (n // len(kinds) + 1))[:n]]


async def fire(url: str, bodies: list[bytes], concurrency: int) -> list[int]:
    """POST every body; returns the HTTP statuses of the calls that were answered."""
    statuses: list[int] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            try:
                async with session.post(url, data=body, headers={"Content-Type": "text/plain"}) as r:
                    json.loads(await r.read())
                    statuses.append(r.status)
            except (aiohttp.ClientError, ValueError):
                pass  # not answered (the gateway is stopping)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return statuses


async def test_5000_concurrent_mixed_calls_leave_exactly_5000_records(kallithea, tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    audit = tmp_path / "audit.jsonl"
    client = TestClient(TestServer(create_app(gateway_config(kallithea.url, audit))))
    await client.start_server()
    n = 5000
    try:
        statuses = await fire(str(client.make_url("/_admin/api")), mixed_bodies(kallithea.admin_key, n), 50)
    finally:
        await client.close()  # app cleanup drains the audit queue
    assert statuses == [200] * n
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(records) == n
    assert len({r["request_id"] for r in records}) == n
    outcomes = {o: sum(r["outcome"] == o for r in records) for o in ("ok", "error")}
    assert outcomes == {"ok": 1000, "error": 4000}


async def test_sigterm_mid_load_leaves_one_record_per_answered_call(started, kallithea):
    gw = started()
    load = asyncio.create_task(fire(f"{gw.url}/_admin/api", mixed_bodies(kallithea.admin_key, 3000), 32))
    while len(gw.records()) < 300 and not load.done():
        await asyncio.sleep(0.05)
    gw.proc.send_signal(signal.SIGTERM)
    statuses = await load
    assert await asyncio.to_thread(gw.proc.wait, 60) == 0
    assert 300 <= len(statuses) < 3000  # stopped mid-load
    assert len(gw.records()) == len(statuses)


async def test_usage_report_over_a_real_log(started, kallithea):
    gw = started()
    admin, user = kallithea.admin_key, kallithea.user_key
    async with aiohttp.ClientSession() as s:
        async def call(body):
            async with s.post(f"{gw.url}/_admin/api", data=json.dumps(body)) as r:
                return json.loads(await r.read())
        for _ in range(3):
            await call({"id": 1, "api_key": admin, "method": "get_users_groups", "args": {}})
        await call({"id": 1, "api_key": user, "method": "get_user", "args": {}})
        await call({"id": 1, "auth_token": user, "method": "get_users", "args": {}})  # not an admin: an error
    assert gw.stop() == 0
    out = subprocess.run([sys.executable, "-m", "gateway", "audit", "report", str(gw.audit), "--json"],
                         capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    rows = {(r["dialect"], r["method"]): r for r in map(json.loads, out.splitlines())}
    from gateway.audit import key_fingerprint
    assert rows[("rhodecode1", "get_users_groups")]["calls"] == 3
    assert rows[("rhodecode1", "get_users_groups")]["caller"] == key_fingerprint(admin)
    assert rows[("kallithea", "get_user")]["caller"] == key_fingerprint(user)
    assert rows[("rhodecode", "get_users")]["errors"] == 1
    table = subprocess.run([sys.executable, "-m", "gateway", "audit", "report", str(gw.audit)],
                           capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    assert key_fingerprint(admin) in table and admin not in table and user not in table


async def test_metrics_health_and_migration_header(started, kallithea):
    gw = started()
    key = kallithea.admin_key
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}/_admin/api", data=json.dumps(
                {"id": 1, "api_key": key, "method": "get_users_group", "args": {"usersgroupid": "none"}})) as r:
            assert r.headers["X-Rcgate-Canonical-Method"] == "get_user_group"
            assert set(json.loads(await r.read())) == {"id", "result", "error"}  # the body stays 1.x
        async with s.post(f"{gw.url}/_admin/api", data=json.dumps(
                {"id": 1, "auth_token": key, "method": "get_user", "args": {}})) as r:
            assert "X-Rcgate-Canonical-Method" not in r.headers  # modern callers need no hint
        async with s.get(f"{gw.url}/healthz") as r:
            assert r.status == 200
        async with s.get(f"{gw.url}/readyz") as r:
            assert r.status == 200 and (await r.json())["ready"] is True
        async with s.get(f"{gw.url}/metrics") as r:
            text = await r.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    calls = {(s.labels["dialect"], s.labels["method"], s.labels["outcome"]): s.value
             for s in families["rcgate_calls"].samples if s.name == "rcgate_calls_total"}
    assert calls[("rhodecode1", "get_user_group", "error")] == 1
    assert calls[("rhodecode", "get_user", "ok")] == 1
    assert "rcgate_call_duration_seconds" in families and "rcgate_backend_duration_seconds" in families
    assert "rcgate_audit_queue_depth" in families and "rcgate_audit_dropped" in families


def test_the_startup_line_hides_a_password_in_the_backend_url(tmp_path):
    gw = Gateway(tmp_path, "http://svc:Pa55w0rd-x@127.0.0.1:9/")
    gw.stop()
    logged = gw.stderr.read_text()
    assert "listening on" in logged and "backend http://svc:***@127.0.0.1:9/" in logged, logged
    assert "Pa55w0rd" not in logged


async def test_readyz_reports_a_dead_backend(tmp_path):
    gw = Gateway(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{gw.url}/readyz") as r:
                assert r.status == 503 and (await r.json())["ready"] is False
            async with s.get(f"{gw.url}/healthz") as r:
                assert r.status == 200
    finally:
        gw.stop()


async def test_sighup_swaps_a_good_set_and_keeps_the_old_one_on_a_broken_file(started, kallithea, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    config = tmp_path / "config.yaml"
    config.write_text((REPO_ROOT / "config.yaml").read_text().replace("mappings: mappings", f"mappings: {mappings}"))
    gw = started(config=config)
    body = json.dumps({"id": 1, "api_key": "x" * 40, "method": "get_user", "args": {}})

    async def error() -> str:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{gw.url}/kallithea/_admin/api", data=body) as r:
                return json.loads(await r.read())["error"]

    async def hup_and_wait(pattern: str) -> None:
        before = gw.stderr.read_text().count(pattern)
        gw.proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            if gw.stderr.read_text().count(pattern) > before:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the log")

    assert await error() == "Invalid API key"
    k = mappings / "kallithea.yaml"
    k.write_text(k.read_text().replace("methods:\n", "methods:\n  get_user_again: {canonical: no_such_method}\n", 1))
    await hup_and_wait("reload refused")
    assert "kallithea.yaml" in gw.stderr.read_text()
    assert await error() == "Invalid API key"  # the old set still serves
    k.write_text((REPO_ROOT / "mappings" / "kallithea.yaml").read_text()
                 .replace('invalid_key: "Invalid API key"', 'invalid_key: "Invalid API key (reloaded)"'))
    await hup_and_wait("reloaded configuration")
    # the backend still says "Invalid API key"; a Kallithea caller of a Kallithea backend gets it untouched,
    # but an error rcgate words itself now uses the new text
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}/kallithea/_admin/api",
                          data=json.dumps({"id": 1, "api_key": 5, "method": "get_user", "args": {}})) as r:
            assert json.loads(await r.read())["error"] == "Invalid API key (reloaded)"
    assert gw.proc.poll() is None


async def test_two_workers_share_the_port_and_each_audits(started, kallithea):
    gw = started("--workers", "2")
    statuses = await fire(f"{gw.url}/_admin/api",
                          [json.dumps({"id": i, "api_key": kallithea.admin_key, "method": "get_user", "args": {}}).encode()
                           for i in range(200)], 16)
    assert statuses == [200] * 200
    assert gw.stop() == 0
    files = sorted(gw.audit.parent.glob("audit.w*.jsonl"))
    assert [f.name for f in files] == ["audit.w1.jsonl", "audit.w2.jsonl"]
    assert sum(len(f.read_text().splitlines()) for f in files) == 200
    out = subprocess.run([sys.executable, "-m", "gateway", "audit", "report", str(gw.audit), "--json"],
                         capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout
    assert sum(json.loads(line)["calls"] for line in out.splitlines()) == 200
