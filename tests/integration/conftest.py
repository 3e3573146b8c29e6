"""Fixtures for tests that run rcgate in front of the real Kallithea of `tests/conftest.py`."""
from __future__ import annotations

import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.app import create_app
from gateway.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]


def gateway_config(backend_url: str, audit_path: Path, **overrides: Any) -> Config:
    base = Config(
        listen="127.0.0.1:0",
        mappings=REPO_ROOT / "mappings",
        backend_url=backend_url,
        backend_dialect="kallithea",
        backend_timeout=30.0,
        backend_max_connections=20,
        inbound_dialect="auto",
        fallback_dialect="kallithea",
        audit_path=str(audit_path),
    )
    return base.override(**overrides)


@dataclass
class Rpc:
    """Calls through rcgate (`gw`) and straight to Kallithea (`direct`), answers parsed."""

    client: Any
    kallithea: Any
    audit_path: Path

    async def gw(self, method: str, args: Any = None, *, dialect: str | None = None, key: str | None = None,
                 id: Any = 1, key_field: str = "api_key") -> dict:
        path = f"/{dialect}/_admin/api" if dialect else "/_admin/api"
        body = {"id": id, key_field: key or self.kallithea.admin_key, "method": method, "args": args or {}}
        return await self.post(path, orjson.dumps(body) if _fits_orjson(body) else _json_bytes(body))

    async def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> dict:
        response = await self.client.post(path, data=body, headers=headers or {"Content-Type": "text/plain"})
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return _loads(await response.read())

    async def direct(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        body = {"id": id, "api_key": key or self.kallithea.admin_key, "method": method, "args": args or {}}
        return await self.direct_raw(body)

    async def direct_raw(self, body: Any) -> dict:
        async with aiohttp.ClientSession() as session:
            async with session.post(self.kallithea.api_url, data=_json_bytes(body),
                                    headers={"Content-Type": "application/json"}) as response:
                return _loads(await response.read())

    async def ok(self, method: str, args: Any = None, **kw: Any) -> Any:
        """Through rcgate, expecting success; returns the result."""
        answer = await self.gw(method, args, **kw)
        assert answer["error"] is None, answer
        return answer["result"]

    async def direct_ok(self, method: str, args: Any = None, **kw: Any) -> Any:
        answer = await self.direct(method, args, **kw)
        assert answer["error"] is None, answer
        return answer["result"]


class DialectCalls:
    """Calls through rcgate in one dialect, each checked for the envelope and recorded in `exercised`."""

    def __init__(self, rpc: Rpc, dialect: str, exercised: set[str], key_field: str = "api_key") -> None:
        self.rpc, self.dialect, self.exercised, self.key_field = rpc, dialect, exercised, key_field

    async def call(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        self.exercised.add(method)
        answer = await self.rpc.gw(method, args, dialect=self.dialect, key=key, key_field=self.key_field, id=id)
        assert set(answer) == {"id", "result", "error"} and answer["id"] == id
        return answer

    async def ok(self, method: str, args: Any = None, **kw: Any) -> Any:
        answer = await self.call(method, args, **kw)
        assert answer["error"] is None, (method, args, answer)
        return answer["result"]

    async def error(self, method: str, args: Any = None, **kw: Any) -> str:
        answer = await self.call(method, args, **kw)
        assert answer["result"] is None and isinstance(answer["error"], str), (method, args, answer)
        return answer["error"]


def _json_bytes(body: Any) -> bytes:
    import json

    return json.dumps(body).encode()


def _fits_orjson(body: Any) -> bool:
    try:
        orjson.dumps(body)
        return True
    except TypeError:
        return False


def _loads(raw: bytes) -> dict:
    import json

    return json.loads(raw)  # the standard library: exact big integers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


_ID_KEYS = re.compile(r".*_id$")


def normalised(value: Any, names: dict[str, str]) -> Any:
    """Equal for two answers about twin objects: names mapped, ids and timestamps blanked."""
    if isinstance(value, dict):
        return {
            k: "<id>" if _ID_KEYS.match(k) and isinstance(v, int)
            else "<time>" if k in ("created_on", "updated_on", "last_login")
            else normalised(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalised(v, names) for v in value]
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
        return re.sub(r"ID:\d+", "ID:<id>", value)
    return value


@pytest.fixture
async def rpc(kallithea, aiohttp_client, tmp_path) -> Rpc:
    audit = tmp_path / "audit.jsonl"
    app = create_app(gateway_config(kallithea.url, audit))
    client = await aiohttp_client(app)
    return Rpc(client, kallithea, audit)


@pytest.fixture(scope="session")
def hg_remote(kallithea, tmp_path_factory):
    """A real Mercurial repository served over HTTP on 127.0.0.1, for `pull` and `clone_uri`."""
    import socket

    hg = Path(kallithea.venv or "") / "bin" / "hg"
    assert hg.exists(), f"Mercurial from the Kallithea install not found at {hg}"
    repo = tmp_path_factory.mktemp("hg-remote")
    env = {"HGUSER": "Test <test@example.com>", "HGRCPATH": "", "PATH": "/usr/bin:/bin"}
    subprocess.run([hg, "init", repo], check=True, env=env)
    (repo / "README").write_text("remote\n")
    subprocess.run([hg, "-R", repo, "commit", "-A", "-m", "first"], check=True, env=env, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([hg, "serve", "-R", repo, "-a", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)
