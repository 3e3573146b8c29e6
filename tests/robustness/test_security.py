"""Security: no key, no backend call; no credential of rcgate's own; no open proxy; nothing internal leaks."""
from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

import gateway.app
from gateway import views
from tests.faulty_backend import FaultyBackend

from . import ledger
from .conftest import DIALECTS, LEAK_MARKERS, MAPPINGS, PATHS, check_answer

KEY, OTHER = ledger.CALLER_KEY, ledger.OTHER_KEY
NO_KEYS = [("absent", None), ("empty", ""), ("null", None), ("zero", 0), ("false", False), ("list", [KEY]),
           ("object", {"api_key": KEY}), ("number", 12345)]
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "api-key")


# --------------------------------------------------------------------------- no key, no backend call


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_a_call_without_a_usable_key_never_reaches_the_backend(make_pair, faulty, path):
    """Every method of every dialect, with each kind of missing or unusable key, in both key fields."""
    pair = await make_pair()
    methods = sorted({m for d in MAPPINGS.dialects.values() for m in d.inbound})
    calls = 0
    for method in methods:
        for name, value in NO_KEYS:
            for field in ("api_key", "auth_token"):
                body = {"id": calls, "method": method, "args": {"userid": "x", "repoid": "r"}}
                if name != "absent":
                    body[field] = value
                answer, _ = await pair.post(path, body)
                assert answer["error"] is not None
                assert answer["_code"] in ("missing_key", "invalid_key", "missing_field", "unknown_method",
                                           "unsupported", "missing_arg", "unknown_args", "unsupported_arg"), answer
                calls += 1
    assert faulty.received == 0, f"{faulty.received} calls without a key reached the backend"
    assert len(await pair.audit_records(calls)) == calls
    ledger.count("keyless calls refused", calls)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_key_in_the_other_dialects_field_is_not_taken(make_pair, faulty, dialect):
    """RhodeCode 1.x and Kallithea callers have no `auth_token`: a key there is no key."""
    pair = await make_pair()
    answer, _ = await pair.post(f"/{dialect}/_admin/api", {"id": 1, "auth_token": KEY, "method": "get_user",
                                                            "args": {}})
    if dialect == "rhodecode":
        assert answer["error"] is None
    else:
        assert answer["_code"] == "missing_key" and faulty.received == 0


# --------------------------------------------------------------------------- no credential of its own


@pytest.mark.parametrize("backend_dialect, field", [("kallithea", "api_key"), ("rhodecode", "auth_token")])
async def test_rcgate_adds_no_credential_of_its_own(make_pair, faulty, backend_dialect, field):
    pair = await make_pair(backend_dialect=backend_dialect)
    callers = []
    for i in range(90):
        dialect = DIALECTS[i % 3]
        key = (KEY, OTHER)[i % 2]
        callers.append((i, dialect, key))
    answers = await asyncio.gather(*(pair.call("get_user", {"userid": f"caller-{i}"}, dialect=d, key=k, id=i)
                                     for i, d, k in callers))
    assert all(a["error"] is None for a in answers), answers[:3]
    assert sum(seen.body["method"] == "get_user" for seen in faulty.requests) == 90
    by_caller: dict[str, set[str]] = {}
    for seen in faulty.requests:  # the calls, and the reads that complete their answers (a user's IP list)
        assert seen.path == "/_admin/api" and seen.method == "POST"
        assert not set(seen.headers) & set(CREDENTIAL_HEADERS), seen.headers
        assert set(seen.body) == {"id", field, "method", "args"}, seen.body
        by_caller.setdefault(seen.body["args"]["userid"], set()).add(seen.body[field])
    for i, _, key in callers:  # each call carried its own caller's key, never another's, never one of rcgate's
        assert by_caller[f"caller-{i}"] == {key}


# --------------------------------------------------------------------------- no open proxy


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except OSError:
            pass
        return data


async def test_the_backend_url_cannot_be_steered_by_a_request(make_pair, faulty):
    elsewhere = await FaultyBackend().start()  # where an attacker would like rcgate to send calls
    try:
        pair = await make_pair()
        there = f"127.0.0.1:{elsewhere.port}"
        url = f"http://{there}"
        steer_body = {"id": 1, "api_key": KEY, "method": "get_user", "args": {"userid": "x"},
                      "url": url, "backend_url": url, "api_url": url + "/_admin/api", "host": there}
        # headers and query strings
        for headers in ({"Host": there}, {"X-Forwarded-Host": there}, {"Forwarded": f"host={there}"},
                        {"X-Forwarded-Proto": "http", "X-Forwarded-Port": str(elsewhere.port)},
                        {"X-Original-URL": url}, {"X-Rewrite-URL": url}):
            await pair.post("/_admin/api", steer_body, headers=headers)
        for query in (f"?backend={url}", f"?url={url}", f"?backend_url={url}&dialect=kallithea"):
            await pair.post("/_admin/api" + query, steer_body)
        # the URL in the arguments, the method name, the path
        for method in (url, f"{url}/_admin/api", "../../" + there, "get_user@" + there):
            await pair.post("/_admin/api", {**steer_body, "method": method})
        for args in ({"userid": url}, {"userid": "x", "url": url, "host": there}, {"repoid": url, "remote_uri": url}):
            await pair.post("/kallithea/_admin/api", {**steer_body, "args": args})
        # odd paths, absolute-form request targets and CONNECT, over a raw socket
        port = pair.client.server.port
        body = json.dumps(steer_body).encode()
        for target in (f"{url}/_admin/api", f"{url}/kallithea/_admin/api", f"/{url}/_admin/api",
                       f"//{there}/_admin/api", "/_admin/api/../../x", f"/_admin/api/{url}", f"/_admin/api@{there}"):
            raw = await asyncio.to_thread(raw_request, port, (
                f"POST {target} HTTP/1.1\r\nHost: {there}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n").encode() + body)
            assert raw.startswith(b"HTTP/1.1 "), raw[:100]
        raw = await asyncio.to_thread(raw_request, port, f"CONNECT {there} HTTP/1.1\r\nHost: {there}\r\n"
                                                         f"Connection: close\r\n\r\n".encode())
        assert not raw.startswith(b"HTTP/1.1 200 Connection established")
        await asyncio.sleep(0.1)
        assert elsewhere.received == 0, [s.path for s in elsewhere.requests]
        assert faulty.received > 0
        for seen in faulty.requests:  # the configured backend only: its API as rcgate calls it, or a proxied view
            assert seen.headers["host"] == f"127.0.0.1:{faulty.port}"
            if seen.path == "/_admin/api":
                assert set(seen.body) == {"id", "api_key", "method", "args"}
            else:  # another path of the host (the reverse proxy): never one the backend would take for its API
                assert not views.is_api_path(seen.path.split("?")[0]), seen.path
                assert there not in seen.headers.get("host", "")
    finally:
        await elsewhere.stop()


# --------------------------------------------------------------------------- nothing internal leaks


@pytest.mark.parametrize("path", sorted(PATHS))
async def test_an_internal_error_answers_without_trace_or_path(make_pair, monkeypatch, caplog, path):
    def broken(*args, **kwargs):
        raise RuntimeError('boom in File "/srv/rcgate/gateway/secret_internal_path.py", line 7')

    monkeypatch.setattr(gateway.app, "find_inbound", broken)
    pair = await make_pair()
    with caplog.at_level(logging.DEBUG):
        answer, raw = await pair.post(path, {"id": 5, "api_key": KEY, "auth_token": KEY, "method": "get_user",
                                             "args": {}}, internal_ok=True)
    assert answer["error"] in {MAPPINGS.dialects[d].errors.render("internal_error", {}) for d in DIALECTS}
    assert LEAK_MARKERS.search(raw) is None
    assert b"boom" not in raw and b"RuntimeError" not in raw
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "secret_internal_path" not in logged and KEY not in logged
    records = await pair.audit_records(1)
    assert records[-1]["error_code"] == "internal_error" and "secret_internal_path" not in json.dumps(records)


async def test_backend_faults_are_logged_without_secrets(make_pair, faulty, caplog):
    pair = await make_pair(backend_timeout=0.3)
    faulty.slow_seconds = 1
    with caplog.at_level(logging.DEBUG, logger="rcgate"):
        for fault in ("html500", "garbage", "truncated", "close_mid", "reset", "wrong_id", "slow"):
            faulty.mode = fault
            ledger.count("faults injected")
            await pair.call("create_user", {"username": "u", "email": "u@example.com", "password": ledger.PASSWORD})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "backend 127.0.0.1:" in logged  # the operator learns where and what
    for secret in (KEY, ledger.PASSWORD):
        assert secret not in logged


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_secrets_in_odd_places_are_not_audited(make_pair, dialect):
    """A password nested in args, or in a method that is no string, stays out of the audit."""
    pair = await make_pair()
    key_field = "auth_token" if dialect == "rhodecode" else "api_key"
    bodies = [
        {"id": 1, key_field: KEY, "method": {"password": ledger.PASSWORD, "api_key": OTHER}, "args": {}},
        {"id": 2, key_field: KEY, "method": "create_user",
         "args": {"username": "u", "email": "u@example.com", "password": ledger.PASSWORD,
                  "extra": {"auth_token": OTHER, "list": [{"password": ledger.PASSWORD}]}}},
        {"id": 3, key_field: KEY, "method": "get_user", "args": {"userid": "u"}, "auth_token": OTHER},
    ]
    for body in bodies:
        await pair.post(f"/{dialect}/_admin/api", body)
    records = await pair.audit_records(len(bodies))
    text = pair.audit_path.read_text()
    assert len(records) == len(bodies)
    for secret in (KEY, OTHER, ledger.PASSWORD):
        assert secret not in text


def test_check_answer_itself_catches_leaks():
    """The oracle used by every robustness test does flag a traceback, HTML, or a path."""
    for raw in (b'{"id":1,"result":null,"error":"Traceback (most recent call last)"}',
                b'{"id":1,"result":null,"error":"<html>oops</html>"}',
                b'{"id":1,"result":null,"error":"in /usr/lib/python3/x.py"}'):
        with pytest.raises(AssertionError):
            check_answer("/kallithea/_admin/api", 200, "application/json", raw)
