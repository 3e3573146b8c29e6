"""Limits: body size, JSON nesting depth, backend timeout. Configurable, safe by default, clearly worded."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from gateway import envelope, jsoncodec
from gateway.config import ConfigError, load_config

from . import ledger
from .conftest import DIALECTS, MAPPINGS

KEY = ledger.CALLER_KEY
TEXTS = {d: MAPPINGS.dialects[d].errors for d in DIALECTS}


def call_of_size(size: int, dialect: str = "kallithea") -> bytes:
    """A valid get_user call of exactly `size` bytes (padding in an argument)."""
    field = "auth_token" if dialect == "rhodecode" else "api_key"
    head = json.dumps({"id": 1, field: KEY, "method": "get_user", "args": {"userid": ""}}).encode()
    body = head[:-3] + b"x" * (size - len(head)) + head[-3:]
    assert len(body) == size
    return body


def nested(depth: int) -> bytes:
    """A get_user call whose JSON nests exactly `depth` levels (the call object is level 1, args 2)."""
    inner = "[" * (depth - 2) + "1" + "]" * (depth - 2)
    return f'{{"id":1,"api_key":"{KEY}","method":"get_user","args":{{"userid":{inner}}}}}'.encode()


# --------------------------------------------------------------------------- configuration


def write_config(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text("backend:\n  url: http://127.0.0.1:5000\n" + text)
    return path


def test_safe_defaults(tmp_path):
    config = load_config(write_config(tmp_path, ""))
    assert config.max_body_bytes == 10 * 1024 * 1024
    assert config.max_json_depth == 64
    assert config.backend_timeout == 30.0


def test_limits_are_configurable(tmp_path):
    config = load_config(write_config(tmp_path, "  timeout: 2.5\nlimits:\n  max_body_bytes: 4096\n  max_json_depth: 8\n"))
    assert (config.max_body_bytes, config.max_json_depth, config.backend_timeout) == (4096, 8, 2.5)


@pytest.mark.parametrize("text, message", [
    ("limits:\n  max_json_depth: 1\n", "limits.max_json_depth"),
    ("limits:\n  max_json_depth: 100000\n", "limits.max_json_depth"),
    ("limits:\n  max_body_bytes: 10\n", "limits.max_body_bytes"),
    ("limits:\n  max_body_bytes: lots\n", "limits.max_body_bytes"),
    ("limits:\n  max_depth: 5\n", "limits.max_depth"),
    ("  timeout: 0\n", "backend.timeout"),
])
def test_unsafe_limits_are_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, text))
    assert message in str(info.value)


# --------------------------------------------------------------------------- body size


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_body_size_limit_end_to_end(make_pair, dialect):
    pair = await make_pair(max_body_bytes=4096)
    path = f"/{dialect}/_admin/api"
    answer, _ = await pair.post(path, call_of_size(4096, dialect))
    assert answer["error"] is None  # exactly at the limit: served
    before = pair.backend.received

    async def chunks(body: bytes):
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]

    for body in (call_of_size(4097, dialect), call_of_size(1_000_000, dialect)):
        for data in (body, chunks(body)):  # Content-Length, then chunked
            answer, _ = await pair.post(path, data)
            assert answer["_code"] == "body_too_large"
            assert answer["error"] == TEXTS[dialect].render("body_too_large", {"limit": 4096})
            assert answer["id"] is None
    assert pair.backend.received == before
    answer, _ = await pair.post(path, call_of_size(200, dialect))  # and it keeps serving
    assert answer["error"] is None
    records = await pair.audit_records(6)
    assert [r["error_code"] for r in records if r["outcome"] == "error"] == ["body_too_large"] * 4


async def test_default_body_limit_is_10_mib(make_pair):
    pair = await make_pair()
    answer, _ = await pair.post("/kallithea/_admin/api", call_of_size(10 * 1024 * 1024))
    assert answer["error"] is None
    answer, _ = await pair.post("/kallithea/_admin/api", call_of_size(10 * 1024 * 1024 + 1))
    assert answer["error"] == "Request body too large: the limit is 10485760 bytes"


async def test_oversize_body_over_a_raw_socket_keeps_the_connection_usable(make_pair):
    """A blocking client sends 3 MB (Expect: 100-continue) over a 64 KiB limit, then a normal call."""
    pair = await make_pair(max_body_bytes=65536)
    host, port = pair.client.server.host, pair.client.server.port
    big, small = call_of_size(3_000_000), call_of_size(300)

    def exchange() -> list[bytes]:
        answers = []
        with socket.create_connection((host, port), timeout=20) as s:
            for body, expect in ((big, True), (small, False)):
                head = (f"POST /kallithea/_admin/api HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
                        + ("Expect: 100-continue\r\n" if expect else "") + "\r\n").encode()
                s.sendall(head)
                if expect:
                    interim = s.recv(1024)
                    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
                s.sendall(body)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += s.recv(65536)
                head_part, _, rest = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head_part.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(rest) < length:
                    rest += s.recv(65536)
                assert head_part.startswith(b"HTTP/1.1 200"), head_part
                answers.append(rest)
        return answers

    first, second = await asyncio.to_thread(exchange)
    assert json.loads(first)["error"] == "Request body too large: the limit is 65536 bytes"
    assert json.loads(second)["error"] is None


# --------------------------------------------------------------------------- nesting depth


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_depth_limit_default(make_pair, dialect):
    pair = await make_pair()
    path = f"/{dialect}/_admin/api"
    key_field = b'"auth_token"' if dialect == "rhodecode" else b'"api_key"'
    answer, _ = await pair.post(path, nested(64).replace(b'"api_key"', key_field))
    assert answer.get("_code") != "too_deep"
    served = pair.backend.received
    assert served >= 1  # the call (and, for some dialects, the read of the user's IP list)
    for depth in (65, 500, 5000, 100_000):
        answer, _ = await pair.post(path, nested(depth).replace(b'"api_key"', key_field))
        assert answer["_code"] == "too_deep", depth
        assert answer["error"] == TEXTS[dialect].render("too_deep", {"limit": 64})
        assert answer["id"] is None
    assert pair.backend.received == served  # refused before the backend
    records = await pair.audit_records(5)
    assert [r.get("error_code") for r in records][1:] == ["too_deep"] * 4


async def test_depth_limit_is_configurable(make_pair):
    pair = await make_pair(max_json_depth=4)
    answer, _ = await pair.post("/kallithea/_admin/api", nested(4))
    assert answer["error"] is None
    answer, _ = await pair.post("/kallithea/_admin/api", nested(5))
    assert answer["error"] == "Request JSON nested too deeply: the limit is 4 levels"
    answer, _ = await pair.post("/kallithea/_admin/api", b'[[[[["not an object, and too deep"]]]]]')
    assert answer["_code"] == "too_deep"


async def test_depth_check_is_cheap_for_big_flat_bodies(make_pair):
    """A 5 MB call with 200 000 small objects side by side (depth 5) is served; the check costs little."""
    many = json.dumps({"id": 1, "api_key": KEY, "method": "get_user",
                       "args": {"userid": [{"a": [i]} for i in range(200_000)]}}).encode()
    payload = envelope.decode(many)  # warm
    started = time.perf_counter()
    assert not jsoncodec.depth_exceeds(payload, 64)
    walk = time.perf_counter() - started
    print(f"\ndepth check over {len(many)} bytes, 600 000 containers: {walk * 1000:.0f} ms")
    assert walk < 2.0, walk
    pair = await make_pair()
    answer, _ = await pair.post("/kallithea/_admin/api", many)
    assert answer["error"] is None


# --------------------------------------------------------------------------- backend timeout


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_backend_timeout_is_configurable_and_worded(make_pair, faulty, dialect):
    pair = await make_pair(backend_timeout=0.3)
    faulty.mode, faulty.slow_seconds = "slow", 5
    started = time.perf_counter()
    answer = await pair.call("get_user", dialect=dialect)
    elapsed = time.perf_counter() - started
    ledger.count("faults injected")
    assert 0.3 <= elapsed < 1.3, elapsed
    assert answer["error"] == TEXTS[dialect].render("backend_unavailable", {"reason": "no answer within 0.3 s"})
    faulty.mode = "healthy"
    assert (await pair.call("get_user", dialect=dialect))["error"] is None
