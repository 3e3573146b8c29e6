"""Fixtures for the robustness tests: rcgate in front of the deliberately faulty backend.

Two ways to run the pair:
- `gateway` (async, per test): `FaultyBackend` + rcgate in the test's event loop, called
  through pytest-aiohttp's `aiohttp_client`; for fault, limit, security and load tests.
- `served` (sync, per module): the same pair in a background thread on a real port,
  called with a blocking HTTP/1.1 client; hypothesis drives it (it cannot drive async
  tests with pytest-aiohttp's fixtures).
"""
from __future__ import annotations

import asyncio
import http.client
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.app import GATEWAY, create_app
from gateway.mapping.engine import compile_mappings, template_regex
from gateway.mapping.loader import load_mappings
from tests.faulty_backend import FaultyBackend
from tests.integration.conftest import REPO_ROOT, gateway_config

from . import ledger

DIALECTS = ("rhodecode1", "kallithea", "rhodecode")
PATHS = {"/_admin/api": None, **{f"/{d}/_admin/api": d for d in DIALECTS}}
MAPPINGS = compile_mappings(load_mappings(REPO_ROOT / "mappings"))

# What must never be in an answer: a Python traceback, a source path, an HTML page.
LEAK_MARKERS = re.compile(
    rb"Traceback|File \"|\.py\b|site-packages|/work/|/home/|/usr/|/tmp/|<html|<!DOCTYPE|secret_internal_path",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- answers


def strict_json(raw: bytes) -> Any:
    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} in an answer")

    return json.loads(raw, parse_constant=no_constant)


def error_code(text: str, dialect: str | None) -> str | None:
    """Which `errors:` entry of the dialect (any dialect for auto) rendered `text`; None: none did."""
    names = [dialect] if dialect else list(DIALECTS)
    for name in names:
        catalogue = MAPPINGS.dialects[name].errors
        if len(text) > 20_000:  # a quoted enormous body: the literal start decides, in linear time
            for code, template in catalogue.templates.items():
                head = template.split("{", 1)[0]
                if head and text.startswith(head) and "{" in template:
                    return code
            continue
        parsed = catalogue.parse(text)
        if parsed:
            return parsed[0]
        for code, template in catalogue.templates.items():  # texts rcgate only writes, never reads
            if template_regex(template).fullmatch(text):
                return code
    return None


def check_answer(path: str, status: int, content_type: str, raw: bytes, sent: bytes = b"",
                 internal_ok: bool = False) -> dict:
    """Every answer: HTTP 200, JSON, {id, result, error}, in the caller's dialect, nothing leaked.

    (A marker that the caller itself sent may come back: parse errors quote the body.)
    """
    assert status == 200, (status, raw[:300])
    assert content_type.startswith("application/json"), content_type
    for leak in LEAK_MARKERS.finditer(raw):
        assert leak.group(0).lower() in sent.lower(), f"answer leaks {leak.group(0)!r}: {raw[:300]!r}"
    answer = strict_json(raw)
    dialect = PATHS[path.split("?", 1)[0]]
    envelopes = [MAPPINGS.dialects[d].envelope for d in ([dialect] if dialect else DIALECTS)]
    if answer == "" and any(env.falsy_id_success == "empty_string" for env in envelopes):
        return {"id": None, "result": None, "error": None, "_bare": True}  # a modern success to a falsy id: ""
    assert isinstance(answer, dict) and any(list(answer) == list(env.key_order) for env in envelopes), raw[:300]
    if answer["error"] is not None:
        assert isinstance(answer["error"], str), answer
        assert answer["result"] is None, answer
        code = error_code(answer["error"], dialect)
        assert code is not None, f"not a {dialect or 'known'} dialect error: {answer['error'][:300]!r}"
        assert internal_ok or code != "internal_error", f"an internal error (a bug) answered {sent[:300]!r}"
        answer["_code"] = code
    if dialect == "rhodecode":
        assert raw.startswith(b'{\n    "error": '), raw[:100]
    elif dialect is not None:
        assert b"\n" not in raw, raw[:100]
    return answer


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (1 and 1.0 and True differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


def id_came_back(answer: dict, sent: Any) -> bool:
    """A successful answer carries the id as sent; a modern one to a falsy id is the bare body ""."""
    if answer.get("_bare"):
        return not sent
    return same_json(answer["id"], sent)


def read_audit(path: Path) -> list[dict]:
    """Audit records, one per `\n`-terminated line (not str.splitlines: U+2028 may sit inside a record)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the last record is not complete"
    return [json.loads(line) for line in lines[:-1]]


# --------------------------------------------------------------------------- async pair


@dataclass
class Pair:
    client: Any  # aiohttp TestClient
    backend: FaultyBackend
    audit_path: Path
    app: web.Application

    async def post(self, path: str, body: bytes | Any, internal_ok: bool = False, **kw: Any) -> tuple[dict, bytes]:
        """Post bytes, an async iterator of bytes (sent chunked) or an object (as JSON)."""
        streamed = hasattr(body, "__aiter__")
        data = body if streamed or isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        response = await self.client.post(path, data=data, **kw)
        raw = await response.read()
        sent = b"" if streamed else bytes(data)
        answer = check_answer(path, response.status, response.headers.get("Content-Type", ""), raw, sent, internal_ok)
        return answer, raw

    async def call(self, method: str, args: Any = None, *, dialect: str = "kallithea", key: str | None = None,
                   key_field: str | None = None, id: Any = 1) -> dict:
        field_ = key_field or ("auth_token" if dialect == "rhodecode" else "api_key")
        body = {"id": id, field_: ledger.CALLER_KEY if key is None else key, "method": method, "args": args or {}}
        answer, _ = await self.post(f"/{dialect}/_admin/api", body)
        return answer

    async def audit_records(self, at_least: int, timeout: float = 10) -> list[dict]:
        """The audit lines written so far, once the writer has written `at_least` of them."""
        audit = self.app[GATEWAY].audit
        deadline = time.monotonic() + timeout
        while audit.written < at_least and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return read_audit(self.audit_path)


@pytest.fixture
async def faulty():
    backend = await FaultyBackend().start()
    yield backend
    await backend.stop()


@pytest.fixture
def make_pair(aiohttp_client, tmp_path, faulty):
    """make_pair(**config overrides) -> Pair: rcgate (fresh audit file) in front of `faulty`."""
    made = 0

    async def make(backend: FaultyBackend | None = None, **overrides: Any) -> Pair:
        nonlocal made
        made += 1
        backend = backend or faulty
        audit = tmp_path / f"audit-{made}.jsonl"
        app = create_app(gateway_config(backend.url, audit, **overrides))
        client = await aiohttp_client(app)
        return Pair(client, backend, audit, app)

    return make


@pytest.fixture
async def pair(make_pair) -> Pair:
    return await make_pair(backend_timeout=2.0)


# --------------------------------------------------------------------------- threaded pair


@dataclass
class Served:
    """rcgate + FaultyBackend in their own thread and loop, on a real port."""

    audit_path: Path
    overrides: dict[str, Any]
    port: int = 0
    backend: FaultyBackend | None = None
    sent: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _conn: http.client.HTTPConnection | None = None
    reconnects: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    def start(self) -> "Served":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="served-rcgate", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self.backend = await FaultyBackend(record=False).start()
        self.app = create_app(gateway_config(self.backend.url, self.audit_path, **self.overrides))
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()

        async def _stop() -> None:
            await self._runner.cleanup()  # drains the audit queue
            await self.backend.stop()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def post(self, path: str, body: bytes, *, content_type: str | None = "application/json",
             chunked: bool = False) -> tuple[dict, bytes]:
        """One call on a kept-alive connection. A dropped connection fails the test."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": content_type} if content_type else {}
        self.sent += 1
        if chunked:
            pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""]
            self._conn.request("POST", path, body=iter(pieces), headers=headers, encode_chunked=True)
        else:
            self._conn.request("POST", path, body=body, headers=headers)
        response = self._conn.getresponse()
        raw = response.read()
        if (response.getheader("Connection") or "").lower() == "close":
            self._conn.close()
            self._conn = None
            self.reconnects += 1
        answer = check_answer(path, response.status, response.getheader("Content-Type") or "", raw, body)
        code = answer.get("_code", "ok")
        self.codes[code] = self.codes.get(code, 0) + 1
        return answer, raw

    def backend_calls(self) -> int:
        return sum(self.backend.calls.values())

    def audit_lines(self) -> int:
        return len(read_audit(self.audit_path))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    audit = tmp_path_factory.mktemp("served") / "audit.jsonl"
    srv = Served(audit, {"max_body_bytes": 256 * 1024, "backend_timeout": 5.0}).start()
    try:
        yield srv
    finally:
        srv.stop()
    # every call audited exactly once, rejected ones included
    lines = srv.audit_lines()
    ledger.count("audit records checked (fuzz)", lines)
    assert lines == srv.sent, f"{srv.sent} calls, {lines} audit records"
