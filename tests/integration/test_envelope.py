"""The JSON-RPC envelope, per dialect: content types, ids, missing fields, malformed bodies."""
from __future__ import annotations

import asyncio
import json
import re
import socket

import pytest

from .conftest import unique

pytestmark = pytest.mark.kallithea

IDS = [1, 0, -7, "abc", "", None, 12345678901234567890123456789, 1.5, {"a": 1}, [1, 2], "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]


@pytest.mark.parametrize("request_id", IDS, ids=repr)
@pytest.mark.parametrize("dialect, key_field", [("rhodecode1", "api_key"), ("kallithea", "api_key"),
                                                ("rhodecode", "auth_token")])
async def test_id_comes_back_with_its_value_and_type(rpc, request_id, dialect, key_field):
    answer = await rpc.gw("get_user", {}, dialect=dialect, id=request_id, key_field=key_field)
    if dialect == "rhodecode" and not request_id:
        # RhodeCode 4.x builds the envelope only for a truthy id: a success with 0, "" or null is
        # the bare body "" (recorded on a real 4.22, tests/standin/recordings/rhodecode-4.22/_envelope.json)
        assert answer == ""
        return
    assert answer["error"] is None
    assert type(answer["id"]) is type(request_id) and answer["id"] == request_id


@pytest.mark.parametrize("request_id", [0, "", None])
async def test_a_modern_error_with_a_falsy_id_keeps_the_envelope(rpc, request_id):
    answer = await rpc.gw("get_repo", {"repoid": unique("none")}, dialect="rhodecode", id=request_id,
                          key_field="auth_token")
    assert list(answer) == ["error", "id", "result"] and answer["id"] == request_id  # 4.x's own key order
    assert answer["error"].endswith("does not exist")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json", "application/json; charset=utf-8",
                                          "application/x-www-form-urlencoded"])
async def test_any_content_type(rpc, content_type):
    body = json.dumps({"id": 3, "api_key": rpc.kallithea.admin_key, "method": "get_user", "args": {}}).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    response = await rpc.client.post("/_admin/api", data=body, headers=headers, skip_auto_headers=["Content-Type"])
    answer = json.loads(await response.read())
    assert answer["error"] is None and answer["result"]["username"] == rpc.kallithea.admin_username


async def test_expect_100_continue_and_connection_close(rpc):
    body = json.dumps({"id": 4, "api_key": rpc.kallithea.admin_key, "method": "get_user", "args": None}).encode()
    host, port = rpc.client.server.host, rpc.client.server.port

    def exchange() -> tuple[bytes, bytes]:  # a blocking client, as the C# one: in a thread
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(f"POST /_admin/api HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n".encode())
            interim = s.recv(1024)
            s.sendall(body)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return interim, data

    interim, data = await asyncio.to_thread(exchange)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(payload)["id"] == 4


async def test_args_null_is_an_empty_object(rpc):
    for dialect in ("rhodecode1", "kallithea", "rhodecode"):
        answer = await rpc.gw("get_user", None, dialect=dialect)
        assert answer["error"] is None


async def post(rpc, path, obj_or_bytes):
    body = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
    response = await rpc.client.post(path, data=body)
    assert response.status == 200
    raw = await response.read()
    return raw, json.loads(raw)


@pytest.mark.parametrize("dialect", ["rhodecode1", "kallithea"])
async def test_legacy_missing_fields_and_their_ids(rpc, dialect):
    path, key = f"/{dialect}/_admin/api", rpc.kallithea.admin_key
    raw, answer = await post(rpc, path, {"id": 1, "method": "get_user", "args": {}})
    assert answer == {"id": None, "result": None, "error": "Incorrect JSON query missing 'api_key'"}
    assert b"\n" not in raw  # one line, as the legacy servers wrote
    _, answer = await post(rpc, path, {"api_key": key, "method": "get_user", "args": {}})
    assert answer == {"id": None, "result": None, "error": "Incorrect JSON query missing 'id'"}
    _, answer = await post(rpc, path, {"id": 2, "api_key": key, "args": {}})
    assert answer == {"id": 2, "result": None, "error": "Incorrect JSON query missing 'method'"}
    _, answer = await post(rpc, path, {"id": 3, "api_key": key, "method": "get_user"})
    assert answer == {"id": 3, "result": None, "error": "Incorrect JSON query missing 'args'"}
    _, answer = await post(rpc, path, {"id": 4, "api_key": key, "method": "_private", "args": {}})
    assert answer == {"id": 4, "result": None, "error": "Method not allowed"}


async def test_modern_missing_fields(rpc):
    _, answer = await post(rpc, "/rhodecode/_admin/api", {"id": 1, "method": "get_user", "args": {}})
    assert answer == {"id": 1, "result": None, "error": "Incorrect JSON data. Missing 'api_key or auth_token'"}
    _, answer = await post(rpc, "/rhodecode/_admin/api", {"id": 1, "auth_token": "k", "args": {}})
    assert answer == {"id": 1, "result": None, "error": "Incorrect JSON data. Missing 'method'"}


async def test_kallithea_missing_fields_match_kallithea(rpc):
    key = rpc.kallithea.admin_key
    for body in ({"id": 1, "method": "get_user", "args": {}}, {"api_key": key, "method": "get_user", "args": {}},
                 {"id": 2, "api_key": key, "args": {}}, {"id": 3, "api_key": key, "method": "get_user"},
                 {"id": 4, "api_key": key, "method": "get_repo", "args": {}},
                 {"id": 5, "api_key": key, "method": "get_user", "args": {"bogus": 1}}):
        _, through = await post(rpc, "/kallithea/_admin/api", body)
        assert through == await rpc.direct_raw(body), body
    # several unknown arguments: Kallithea names them in no fixed order
    body = {"id": 6, "api_key": key, "method": "get_user", "args": {"bogus": 1, "other": 2}}
    _, through = await post(rpc, "/kallithea/_admin/api", body)
    direct = await rpc.direct_raw(body)
    names = lambda text: sorted(re.findall(r"`(\w+)`", text))  # noqa: E731
    assert names(through["error"]) == names(direct["error"]) == ["bogus", "other"]
    assert re.sub(r"`\w+`", "`x`", through["error"]) == re.sub(r"`\w+`", "`x`", direct["error"])


@pytest.mark.parametrize("body, dialect, expected", [
    (b'{"id": 1, "api_key": ', "kallithea",
     "JSON parse error ERR:Expecting value: line 1 column 22 (char 21) RAW:b'{\"id\": 1, \"api_key\": '"),
    (b"not json", "rhodecode1", "JSON parse error ERR:Expecting value: line 1 column 1 (char 0) RAW:'not json'"),
    (b"", "kallithea", "Content-Length is 0"),
    (b"", "rhodecode", "JSON parse error ERR:Expecting value: line 1 column 1 (char 0) RAW:''"),
])
async def test_malformed_bodies(rpc, body, dialect, expected):
    _, answer = await post(rpc, f"/{dialect}/_admin/api", body)
    assert answer == {"id": None, "result": None, "error": expected}


@pytest.mark.parametrize("body", [b"[1, 2]", b"42", b'"text"', b"null", b"true"])
@pytest.mark.parametrize("dialect", ["rhodecode1", "kallithea", "rhodecode"])
async def test_json_that_is_not_an_object_gets_a_jsonrpc_error(rpc, body, dialect):
    response = await rpc.client.post(f"/{dialect}/_admin/api", data=body)
    assert response.status == 200
    answer = json.loads(await response.read())
    assert answer["id"] is None and answer["result"] is None
    assert isinstance(answer["error"], str) and "object" in answer["error"]


async def test_get_without_body(rpc):
    response = await rpc.client.get("/kallithea/_admin/api")
    assert response.status == 200
    assert json.loads(await response.read())["error"] == "Content-Length is 0"
