"""The rest of the host: web views with a key, downloads, hg and git over HTTP, streamed to the backend
the routes assign.

Every request that is not the JSON-RPC API or one of rcgate's own endpoints comes here. Its repository
is read from the path (everything before the first view segment of canonical.yaml's `views.after_repo`,
or the whole path for hg and git), the routes choose the backend, a key given the way any dialect gives
it (`?api_key=`, `?auth_token=`, `Authorization: Bearer`, `X-Rc-Auth-Token`) is taken out and sent the
way the chosen backend reads it (its dialect file's `views.key`), after its credential map, and paths
that differ between dialects are renamed (`views.paths`). Bodies stream both ways through aiohttp's
client: nothing is held whole in memory. The target is always a configured backend: the request's Host
header and an absolute-form URI are never used to reach anything.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

log = logging.getLogger("rcgate")

# RFC 9110 7.6.1: a proxy removes these, and every header the Connection header names
HOP_BY_HOP = frozenset(h.lower() for h in ("Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding",
                                           "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", "Trailer"))
KEY_QUERY = ("api_key", "auth_token")  # every dialect's query spelling of a key on a web view
KEY_HEADER = "x-rc-auth-token"
CHUNK = 64 * 1024
REDACTED = "<redacted>"


@dataclass(frozen=True)
class ViewRules:
    """A dialect's `views:`: where its server reads a key on a web view, and its spellings of paths."""

    key_query: str | None  # the query parameter the server reads the key from
    key_header: str | None  # ... or the header (`Authorization` takes "Bearer <key>")
    paths: tuple[tuple[re.Pattern[str], str, re.Pattern[str], str], ...]  # (own re, own fmt, canonical re, fmt)
    after_repo: frozenset[str] = frozenset()  # `{repo}` never spans a view segment (a file named feed/rss)

    def to_canonical(self, path: str) -> str:  # paths without the leading `/`
        for own, _, _, canonical in self.paths:
            m = own.fullmatch(path)
            if m and self._a_repository(m):
                return canonical.format(**m.groupdict())
        return path

    def from_canonical(self, path: str) -> str:
        for _, own, canonical, _ in self.paths:
            m = canonical.fullmatch(path)
            if m and self._a_repository(m):
                return own.format(**m.groupdict())
        return path

    def _a_repository(self, m: re.Match[str]) -> bool:
        repo = m.groupdict().get("repo")
        return repo is None or not any(p in self.after_repo for p in repo.split("/")[1:])


def compile_view_rules(spec: dict[str, Any], after_repo: frozenset[str] = frozenset()) -> ViewRules:
    key = spec["key"]  # the schema requires one of `query` or `header`
    paths = []
    for own, canonical in spec.get("paths", {}).items():
        paths.append((_pattern(own), own, _pattern(canonical), canonical))
    return ViewRules(key.get("query"), key.get("header"), tuple(paths), after_repo)


def _pattern(template: str) -> re.Pattern[str]:
    """`{repo}/feed/rss` -> a regex: `{repo}` is one or more path segments, any other `{name}` one segment."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.+?)" if m.group(1) == "repo" else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


def _segments(path: str) -> list[str]:
    """A path's segments as a server would resolve them: percent-decoded (also twice), empty and `.`
    segments dropped, `..` applied."""
    for _ in range(3):  # %255F... decoded again: never let an encoding layer hide a name
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    out: list[str] = []
    for p in path.split("/"):
        if p == "..":
            if out:
                out.pop()
        elif p not in ("", "."):
            out.append(p)
    return out


def is_api_path(path: str) -> bool:
    """Whether a server would take this path for its JSON-RPC API, however it is spelled: percent-encoded,
    doubled or trailing slashes, dot segments, any case."""
    return [p.lower() for p in _segments(path)[-2:]] == ["_admin", "api"]


def api_prefix(path: str) -> str | None:
    """What comes before `/_admin/api` (a dialect for `/{dialect}/_admin/api`); None: nothing, auto."""
    prefix = _segments(path)[:-2]
    return "/".join(prefix) if prefix else None


def repository_of(path: str, after_repo: frozenset[str]) -> str | None:
    """The repository a view is about: the path before its first view segment (`/infra/tools/raw/tip/x`
    -> `infra/tools`), or the whole path (hg: `/infra/tools?cmd=...`); None for the server's own pages."""
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or parts[0].startswith("_"):  # /_admin/..., /_static/...: the server's, not a repository's
        return None
    end = next((i for i, part in enumerate(parts) if i > 0 and part in after_repo), len(parts))
    name = "/".join(parts[:end])
    return name[:-4] if name.endswith(".git") else name  # git clients may add `.git` to the repository


def is_write(method: str, path: str, query: list[tuple[str, str]]) -> bool:
    """A request that changes a repository: a git push (both of its requests), an hg push (`cmd=unbundle`,
    `pushkey`), a form post to a view. Every other GET and HEAD, and hg and git fetches, are reads."""
    if path.endswith("/git-receive-pack") or ("service", "git-receive-pack") in query:
        return True
    cmd = next((v for k, v in query if k == "cmd"), None)
    if cmd is not None:
        return cmd in ("unbundle", "pushkey")
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not path.endswith("/git-upload-pack")


def take_key(query: list[tuple[str, str]], headers: CIMultiDict) -> tuple[str | None, list[tuple[str, str]]]:
    """The caller's key from wherever it was given, and the query without any key in it."""
    key = next((v for k, v in query if k in KEY_QUERY and v), None)
    auth = headers.get("Authorization", "")
    if key is None and auth[:7].lower() == "bearer ":
        key = auth[7:].strip() or None
    if key is None:
        key = headers.get(KEY_HEADER) or None
    return key, [(k, v) for k, v in query if k not in KEY_QUERY]


def redacted_query(query: list[tuple[str, str]], secret_fields: frozenset[str]) -> str:
    return urlencode([(k, REDACTED if k in secret_fields or k in KEY_QUERY else v) for k, v in query])


def _hop_by_hop(headers: Any) -> frozenset[str]:
    """RFC 9110's hop-by-hop headers, and those this message's Connection header names."""
    return HOP_BY_HOP | {h.strip().lower() for h in headers.get("Connection", "").split(",") if h.strip()}


def forward_headers(headers: CIMultiDict, key_sent: bool) -> CIMultiDict:
    """The request's headers for the backend: no hop-by-hop header, no Host (the backend's own is set by
    the client), no key header of any dialect (the key is sent the backend's way)."""
    hop = _hop_by_hop(headers)
    out = CIMultiDict()
    for name, value in headers.items():
        low = name.lower()
        if low in hop or low in ("host", "content-length", "expect", KEY_HEADER):
            continue
        if low == "authorization" and (key_sent or value[:7].lower() == "bearer "):
            continue  # a Bearer key is taken out; hg and git's Basic authentication passes as it came
        out.add(name, value)
    return out


def answer_headers(headers: Any, backend_base: str, public_base: str) -> CIMultiDict:
    hop = _hop_by_hop(headers)
    out = CIMultiDict()
    for name, value in headers.items():
        low = name.lower()
        if low in hop or low == "content-length":
            continue
        if low == "location" and value.startswith(backend_base):  # the backend's own address: ours instead
            value = public_base + value[len(backend_base):]
        out.add(name, value)
    return out


@dataclass
class Proxied:
    """What the audit record of one proxied request says."""

    status: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    error: str | None = None


class ViewProxy:
    """One aiohttp client session per backend (its own connection pool), for general HTTP traffic."""

    def __init__(self) -> None:
        self.sessions: dict[str, aiohttp.ClientSession] = {}

    def session(self, name: str, max_connections: int) -> aiohttp.ClientSession:
        s = self.sessions.get(name)
        if s is None or s.closed:
            s = self.sessions[name] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max_connections),
                auto_decompress=False,  # bytes pass as the backend encoded them, with its Content-Encoding
                cookie_jar=aiohttp.DummyCookieJar(),  # the callers' cookies are theirs, never kept here
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return s

    async def close(self) -> None:
        for s in self.sessions.values():
            await s.close()
        self.sessions.clear()

    async def forward(self, request: web.Request, session: aiohttp.ClientSession, url: str, headers: CIMultiDict,
                      timeout: float, backend_base: str, done: Proxied) -> web.StreamResponse:
        """Stream the request to `url` and the answer back. The timeout is the time to the answer's headers;
        a download may then take as long as it takes (between two chunks: `timeout` again)."""
        body = _counting(request.content, done) if request.body_exists else None
        if request.content_length is not None:
            headers["Content-Length"] = str(request.content_length)
        try:
            upstream = await asyncio.wait_for(
                session.request(request.method, url, headers=headers, data=body, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout, sock_connect=timeout)),
                timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            done.status, done.error = 502, type(exc).__name__
            return web.Response(status=502, text=f"rcgate: the server behind this gateway is unavailable "
                                                 f"({'no answer within ' + str(timeout) + ' s' if isinstance(exc, asyncio.TimeoutError) else 'cannot connect'})\n")
        public_base = f"{request.scheme}://{request.host}"
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason,
                                      headers=answer_headers(upstream.headers, backend_base, public_base))
        if upstream.content_length is not None:  # a length promised is a length kept: a cut answer shows
            if request.method == "HEAD":
                response.headers["Content-Length"] = str(upstream.content_length)
            else:
                response.content_length = upstream.content_length
        done.status = upstream.status
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)  # waits while a slow client drains: no unbounded buffer
                done.bytes_out += len(chunk)
            await response.write_eof()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ConnectionError) as exc:
            # the backend died or stalled mid-answer: the caller's connection is closed, never an answer
            # that looks complete
            done.error = type(exc).__name__
            if request.transport is not None:
                request.transport.abort()
        finally:
            upstream.release()
        return response


async def _counting(stream: aiohttp.StreamReader, done: Proxied):
    async for chunk in stream.iter_chunked(CHUNK):
        done.bytes_in += len(chunk)
        yield chunk


def kind(path: str, query: list[tuple[str, str]]) -> str:
    """For the audit log: `hg`, `git` or `view`."""
    if any(k == "cmd" for k, _ in query):
        return "hg"
    if path.endswith(("/info/refs", "/git-upload-pack", "/git-receive-pack")):
        return "git"
    return "view"


def shown(path: str, query: list[tuple[str, str]], secret_fields: frozenset[str]) -> str:
    """The path as the audit log shows it: any secret-looking query value redacted (the key is already out)."""
    return path + ("?" + redacted_query(query, secret_fields) if query else "")


def canonical_path(path: str, spellings: tuple[ViewRules, ...]) -> str:
    """A view path in any dialect's spelling, as the canonical (modern) one."""
    rel = path.lstrip("/")
    for rules in spellings:
        renamed = rules.to_canonical(rel)
        if renamed != rel:
            return "/" + renamed
    return "/" + rel


def with_key(query: list[tuple[str, str]], headers: CIMultiDict, key: str | None,
             rules: ViewRules) -> tuple[list[tuple[str, str]], CIMultiDict]:
    """The key where the backend's server reads it on a view (`views.key` of its dialect file)."""
    if key is None:
        return query, headers
    if rules.key_header is not None:
        headers[rules.key_header] = f"Bearer {key}" if rules.key_header.lower() == "authorization" else key
        return query, headers
    return [*query, (rules.key_query, key)], headers


def backend_base(url: str) -> str:
    """scheme://host[:port][/prefix] of a backend URL, without any userinfo (the API's own credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
