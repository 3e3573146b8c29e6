"""HTTP and the JSON-RPC envelope, exactly as `_envelope.json` shows 4.22 answering.

The order of checks (the first failure answers):

1. HTTP method POST or GET (GET with a body works), else ``unsupported request method "PUT".
   Please use POST``;
2. a Content-Length header, else ``Empty body, No Content-Length in request``;
3. JSON: ``JSON parse error ERR:<reason> RAW:<repr>``; valid JSON that is not an object
   crashes the web app: HTTP 500 and its HTML error page;
4. the key: `api_key`, or `auth_token` when `api_key` is absent or empty, then `id`, `method`,
   `args` (``Incorrect JSON data. Missing '<name>'``); `args` that is not an object is `{}`;
5. the method, before the key is checked: ``No such method: <m>. Similar methods: <...>``;
6. the key: ``Invalid API KEY``; an inactive user: ``Request from this user not allowed``; a
   token whose role is not the API's: ``API KEY invalid or, has bad role for an API call``;
7. required arguments by presence (``Missing non optional `<arg>` arg in JSON DATA``); unknown
   arguments are dropped, `apiuser`/`request` are the server's own;
8. the call.

Answers are HTTP 200 `application/json`, pretty-printed (indent 4, no trailing newline), keys
`error`, [`DEPRECATION_WARNING`,] `id`, `result`; a successful call with a falsy id answers the
bare string `""`. A crash answers "Internal server error" with RhodeCode-Exception-Id/-Type
headers and no Content-Type at all. Every answer sets a new anonymous session cookie.
"""
from __future__ import annotations

import json
import random
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import methods as _methods  # noqa: F401  (registers the API methods)
from . import recordings, rpc, seed
from .build import initial_world
from .errors import InternalError, RpcError
from .py2 import py2str

RECEIVED_MAX = 10_000


@dataclass
class Received:
    """One request as the stand-in received it (for tests that check what a client sent)."""

    method: str  # HTTP method
    headers: dict[str, str]
    body: Any  # the parsed JSON, or the raw bytes when it was not JSON


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class _Response(web.Response):
    """A response that may go out without any Content-Type (aiohttp would add one)."""

    def __init__(self, *, omit_content_type: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._omit_content_type = omit_content_type

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        if self._omit_content_type:
            self._headers.pop("Content-Type", None)


def render(rpc_id: Any, result: Any = None, error: Any = None, deprecation: str | None = None) -> bytes:
    body: dict[str, Any] = {"error": error}
    if deprecation:
        body["DEPRECATION_WARNING"] = deprecation
    body["id"] = rpc_id
    body["result"] = result
    return json.dumps(body, indent=4).encode()


class RhodecodeStandin:
    """One stand-in: its world, its tokens and what it received."""

    def __init__(self, base_url: str, admin_token: str | None = None, user_token: str | None = None) -> None:
        self.base_url = base_url
        tokens = {p: secrets.token_hex(20) for p in recordings.token_placeholders()}
        tokens["<ADMIN_TOKEN>"] = admin_token or tokens.get("<ADMIN_TOKEN>") or secrets.token_hex(20)
        tokens["<USER_TOKEN>"] = user_token or tokens.get("<USER_TOKEN>") or secrets.token_hex(20)
        self.placeholders = recordings.instance_placeholders(base_url, tokens)
        self.world = initial_world(recordings.substitute(seed.seed(), self.placeholders), base_url)
        self.received: deque[Received] = deque(maxlen=RECEIVED_MAX)

    @property
    def admin_token(self) -> str:
        return self.placeholders["<ADMIN_TOKEN>"]

    @property
    def user_token(self) -> str:
        return self.placeholders["<USER_TOKEN>"]

    def user_of_token(self, placeholder: str) -> str:
        found = self.world.user_by_token(self.placeholders[placeholder])
        return found[0].username if found else ""

    # ------------------------------------------------------------------ HTTP

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/_admin/api", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        answer = self.answer(request.method, request.headers.get("Content-Length"), raw,
                             request.remote or "127.0.0.1", dict(request.headers))
        headers = dict(answer.headers)
        headers["Set-Cookie"] = f"rhodecode={secrets.token_hex(16)}; httponly; Path=/"
        if answer.content_type is None:
            return _Response(body=answer.body, status=answer.status, headers=headers, omit_content_type=True)
        headers["Content-Type"] = answer.content_type
        return _Response(body=answer.body, status=answer.status, headers=headers, omit_content_type=False)

    # ------------------------------------------------------------------ envelope

    def answer(self, http_method: str, content_length: str | None, raw: bytes, remote: str,
               headers: dict[str, str] | None = None) -> Answer:
        body: Any = raw
        parse_error: ValueError | None = None
        try:
            body = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            parse_error = exc
        self.received.append(Received(http_method, headers or {}, body))

        if http_method not in ("POST", "GET"):
            return Answer(200, render(None, error=f'unsupported request method "{http_method}". Please use POST'))
        if content_length is None:
            return Answer(200, render(None, error="Empty body, No Content-Length in request"))
        if parse_error is not None:
            # RAW is Python 2's repr of the byte string: Python 3's bytes repr without the b
            return Answer(200, render(None, error=f"JSON parse error ERR:{parse_error} RAW:{repr(raw)[1:]}"))
        if not isinstance(body, dict):
            return self.error_page()

        rpc_id = body.get("id")
        key = body.get("api_key") or body.get("auth_token")
        if not key:
            return Answer(200, render(rpc_id, error="Incorrect JSON data. Missing 'api_key or auth_token'"))
        for name in ("id", "method", "args"):
            if name not in body:
                return Answer(200, render(rpc_id if name != "id" else None,
                                          error=f"Incorrect JSON data. Missing '{name}'"))
        name = body["method"]
        args = body["args"] if isinstance(body["args"], dict) else {}

        method = rpc.methods().get(name) if isinstance(name, str) else None
        if method is None:
            return Answer(200, render(rpc_id, error=f"No such method: {py2str(name)}. "
                                                    f"Similar methods: {self.similar(name)}"))
        found = self.world.user_by_token(key) if isinstance(key, str) else None
        if found is None:
            return Answer(200, render(rpc_id, error="Invalid API KEY"))
        caller, token = found
        if not caller.active:
            return Answer(200, render(rpc_id, error="Request from this user not allowed"))
        if token.role != "api":
            return Answer(200, render(rpc_id, error="API KEY invalid or, has bad role for an API call"))
        missing = method.missing(args)
        if missing:
            return Answer(200, render(rpc_id, error=f"Missing non optional `{missing}` arg in JSON DATA"))

        try:
            result = method.call(rpc.Call(self.world, caller, remote), args)
        except RpcError as exc:
            return Answer(200, render(rpc_id, error=exc.error))
        except InternalError as exc:
            return self.internal_error(rpc_id, exc.kind)
        except Exception as exc:  # a stand-in bug still answers like a 4.22 crash
            return self.internal_error(rpc_id, type(exc).__name__)
        if not rpc_id:
            return Answer(200, json.dumps("").encode())  # 4.22 builds the envelope only for a truthy id
        deprecation = (f"DEPRECATED METHOD Please use method `{method.deprecated_for}` instead."
                       if method.deprecated_for else None)
        return Answer(200, render(rpc_id, result=result, deprecation=deprecation))

    @staticmethod
    def similar(name: Any) -> str:
        if not isinstance(name, str):
            return "none"  # 4.22's name.split() fails on a non-string and it falls back to "none"
        return ", ".join(rpc.find([f"*{part}*" for part in name.split("_")])) or "none"

    @staticmethod
    def exception_id() -> str:
        return str(random.randrange(10 ** 14, 10 ** 15))

    def internal_error(self, rpc_id: Any, kind: str) -> Answer:
        return Answer(200, render(rpc_id, error="Internal server error"), content_type=None,
                      headers={"RhodeCode-Exception-Id": self.exception_id(), "RhodeCode-Exception-Type": kind})

    def error_page(self) -> Answer:
        page = self.world.error_page.replace("<EXCEPTION_ID>", self.exception_id())
        return Answer(500, page.encode(), content_type="text/html; charset=UTF-8")
