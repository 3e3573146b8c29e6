"""TEST STAND-IN for a modern RhodeCode (Enterprise/CE 4.x) JSON-RPC server.

This is NOT RhodeCode and NOT a mock of Kallithea. A modern RhodeCode server cannot be
installed in the test environment, so rcgate's `--backend-dialect rhodecode` is tested
against this small aiohttp server, which answers with the *documented* modern shapes and
texts: doc seed 000 (RhodeCode Enterprise 4.x `docs/api/api.rst`) and the RC4 columns of
the reference facts (envelope, order of checks, error strings, object shapes, result
wrappers). The era imitated is RhodeCode 4.0 - 4.10, the one seed 000 documents
(`get_user_group` has `users` and a `members` permission list; `pull` answers
``Pulled from `r` ``; users carry `api_key`/`api_keys`). Nothing here is read from the
reference files at run time: every text is written out below.

What it does, in RC4's order (first failure wins):

1. HTTP method POST or GET, else ``unsupported request method "PUT". Please use POST``;
2. a Content-Length header, else ``Empty body, No Content-Length in request``;
3. JSON parse (``JSON parse error ERR:<reason> RAW:'<body>'``); a body that is not an
   object is a crash (HTTP 500, ``Internal server error``);
4. the key in `api_key`, or, when that is absent or falsy, `auth_token`; then `id`,
   `method`, `args` (``Incorrect JSON data. Missing '<field>'``); non-object `args` = `{}`;
5. the method must exist, checked BEFORE authentication:
   ``No such method: <m>. Similar methods: <a, b>`` (methods matching ``*<part>*`` for
   each `_`-separated part of the name, in registry order, or ``none``);
6. unknown token -> ``Invalid API KEY``; inactive user -> ``Request from this user not allowed``;
7. required arguments present (presence only; `null` passes), else
   ``Missing non optional `<arg>` arg in JSON DATA``;
8. extra arguments silently dropped;
9. the call. Admin-only methods called with a non-admin token answer
   ``Access was denied to this resource.``; objects the caller may not see do not exist.

Answers: `{"id", "result", "error"}` pretty-printed with indent 4, HTTP 200 (also for
errors); `error` is a string, or an object `{field: message}` for the validation errors
RC4 reports that way (duplicate repository name, missing repository group). A deprecated
alias (`show_ip`, `get_locks`) adds a fourth key `DEPRECATION_WARNING`. As in RC4, a
successful call with a falsy `id` (0, "", null, false) gets the bare body `""`.

Ids vs names follow RC4 4.10+: a JSON integer is an id, any string is a name.

Simplifications (it is a stand-in): no VCS (repositories are empty until a `pull`, which
records one synthetic commit when the repository has a `clone_uri`); no `default` user;
only the methods in `RhodecodeStandin.METHODS` exist (others answer ``No such method``,
as an older 4.x would for a method it lacks); permissions are owner / explicit / the
defaults (public repositories and all user and repository groups readable).

No sleeps, and every call is O(1) in the size of the state apart from the answers that
list it (list methods, `get_user`'s permission map, permission lists), so with the tiny
state of a test it also serves as a fast backend for load tests. It records what it received (`received`, bounded) so tests can
check exactly what rcgate sent. It listens on 127.0.0.1 on a free port:

    async with running_standin() as standin:          # in-process
        standin.url, standin.admin_token, standin.user_token, standin.received

    python -m tests.standin.rhodecode --port 0 --tokens-file /tmp/t.env   # as a subprocess

The subprocess prints one line, the URL; the tokens (random unless
RHODECODE_STANDIN_ADMIN_TOKEN / RHODECODE_STANDIN_USER_TOKEN are set) are never printed:
they go to `--tokens-file` (mode 0600) when asked.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import fnmatch
import hashlib
import inspect
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from aiohttp import web

OMITTED: Any = type("Omitted", (), {"__repr__": lambda self: "<omitted>"})()  # RC4's Optional(...) marker
LOCK_API = "lock_api"
MASK = "*" * 40
ACCESS_DENIED = "Access was denied to this resource."
REPO_PERMS = ("repository.none", "repository.read", "repository.write", "repository.admin")
GROUP_PERMS = ("group.none", "group.read", "group.write", "group.admin")
USERGROUP_PERMS = ("usergroup.none", "usergroup.read", "usergroup.write", "usergroup.admin")
ALL_PERMS = frozenset(REPO_PERMS + GROUP_PERMS + USERGROUP_PERMS)
RECEIVED_MAX = 10_000


class RpcError(Exception):
    """A JSON-RPC error: `error` is the text, or a {field: message} object (RC4 validation)."""

    def __init__(self, error: Any) -> None:
        super().__init__(error)
        self.error = error


def fmt_time(when: dt.datetime | None) -> str | None:
    """RC4's JSON datetime: ISO 8601, naive, milliseconds (no fraction when it is 0)."""
    if when is None:
        return None
    text = when.isoformat()
    return text[:23] if when.microsecond else text


def _now() -> dt.datetime:
    return dt.datetime.now().replace(tzinfo=None)


# --------------------------------------------------------------------------- state


@dataclass
class User:
    user_id: int
    username: str
    email: str
    token: str
    firstname: str = ""
    lastname: str = ""
    active: bool = True
    admin: bool = False
    extern_name: str = "rhodecode"
    extern_type: str = "rhodecode"
    password: str = ""
    ip_addresses: list[str] = field(default_factory=list)
    last_login: dt.datetime | None = None


@dataclass
class UserGroup:
    users_group_id: int
    group_name: str
    owner_id: int
    group_description: str = ""
    active: bool = True
    member_ids: list[int] = field(default_factory=list)
    user_perms: dict[int, str] = field(default_factory=dict)
    group_perms: dict[int, str] = field(default_factory=dict)


@dataclass
class Repo:
    repo_id: int
    repo_name: str
    repo_type: str
    owner_id: int
    created_on: dt.datetime
    description: str = ""
    private: bool = False
    clone_uri: str | None = None
    landing_rev: tuple[str, str] = ("rev", "tip")
    enable_statistics: bool = False
    enable_locking: bool = False
    enable_downloads: bool = False
    fork_of: str | None = None
    user_perms: dict[int, str] = field(default_factory=dict)
    group_perms: dict[int, str] = field(default_factory=dict)
    follower_ids: list[int] = field(default_factory=list)
    lock: tuple[int, float, str] | None = None  # (user_id, epoch seconds, reason)
    commit: dict[str, Any] | None = None


@dataclass
class RepoGroup:
    group_id: int
    group_name: str
    owner_id: int
    group_description: str = ""
    user_perms: dict[int, str] = field(default_factory=dict)


@dataclass
class Gist:
    gist_id: int
    access_id: str
    owner_id: int
    gist_type: str
    description: str
    acl_level: str
    expires: float
    created_on: dt.datetime
    files: dict[str, Any]


class State:
    """Tiny in-memory data: users, user groups with members, repos, permissions, repo groups, gists."""

    def __init__(self, admin_token: str, user_token: str) -> None:
        self.ids = {"user": 1, "user_group": 1, "repo": 1, "repo_group": 1, "gist": 1}
        self.users: dict[int, User] = {}
        self.users_by_name: dict[str, User] = {}
        self.users_by_token: dict[str, User] = {}
        self.user_groups: dict[int, UserGroup] = {}
        self.user_groups_by_name: dict[str, UserGroup] = {}
        self.repos: dict[int, Repo] = {}
        self.repos_by_name: dict[str, Repo] = {}
        self.repo_groups: dict[int, RepoGroup] = {}
        self.repo_groups_by_name: dict[str, RepoGroup] = {}
        self.gists: dict[str, Gist] = {}  # by access_id
        self.admin_ids: set[int] = set()  # super-admins, for the `origin: super-admin` permission entries
        self.admin = self.add_user("admin", "admin@example.com", admin_token, admin=True,
                                   firstname="RhodeCode", lastname="Admin", ip_addresses=["127.0.0.1/32"])
        self.user = self.add_user("user1", "user1@example.com", user_token, firstname="Plain", lastname="User")

    def next_id(self, kind: str) -> int:
        value = self.ids[kind]
        self.ids[kind] = value + 1
        return value

    def add_user(self, username: str, email: str, token: str | None = None, **fields: Any) -> User:
        user = User(self.next_id("user"), username, email, token or secrets.token_hex(20), **fields)
        self.users[user.user_id] = user
        self.users_by_name[username] = user
        self.users_by_token[user.token] = user
        if user.admin:
            self.admin_ids.add(user.user_id)
        return user

    def remove_user(self, user: User) -> None:
        del self.users[user.user_id]
        del self.users_by_name[user.username]
        self.users_by_token.pop(user.token, None)
        self.admin_ids.discard(user.user_id)
        for group in self.user_groups.values():
            if user.user_id in group.member_ids:
                group.member_ids.remove(user.user_id)
            group.user_perms.pop(user.user_id, None)
        for repo in self.repos.values():
            repo.user_perms.pop(user.user_id, None)
            if user.user_id in repo.follower_ids:
                repo.follower_ids.remove(user.user_id)

    def add_repo(self, repo: Repo) -> None:
        self.repos[repo.repo_id] = repo
        self.repos_by_name[repo.repo_name] = repo

    def remove_repo(self, repo: Repo) -> None:
        del self.repos[repo.repo_id]
        del self.repos_by_name[repo.repo_name]


# --------------------------------------------------------------------------- the server


@dataclass
class Received:
    """One request as the stand-in received it (for tests that check what rcgate sent)."""

    method: str  # HTTP method
    headers: dict[str, str]
    body: Any  # the parsed JSON, or the raw bytes when it was not JSON


@dataclass
class Method:
    name: str
    func: Callable[..., Any]
    required: tuple[str, ...]
    accepted: tuple[str, ...]
    admin_only: bool
    deprecated_for: str | None


def api(admin_only: bool = False, deprecated_for: str | None = None, name: str | None = None):
    """Register an API method; its signature (after `caller`) is the RC4 argument list."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        func.api_spec = (name or func.__name__.removeprefix("api_"), admin_only, deprecated_for)
        return func

    return register


class RhodecodeStandin:
    """The stand-in's state and request handler (see the module docstring)."""

    METHODS: dict[str, Method] = {}

    def __init__(self, admin_token: str | None = None, user_token: str | None = None,
                 server_ip: str = "127.0.0.1") -> None:
        self.admin_token = admin_token or secrets.token_hex(20)
        self.user_token = user_token or secrets.token_hex(20)
        self.state = State(self.admin_token, self.user_token)
        self.received: deque[Received] = deque(maxlen=RECEIVED_MAX)
        self.base_url = ""
        self.server_ip = server_ip

    # ----------------------------------------------------------------- HTTP / envelope

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/_admin/api", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        status, payload = self.answer(request.method, request.headers.get("Content-Length"), raw,
                                      request.remote or "127.0.0.1", dict(request.headers))
        return web.Response(body=payload, status=status, content_type="application/json")

    def answer(self, http_method: str, content_length: str | None, raw: bytes, remote: str,
               headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(HTTP status, body) for one request."""
        body: Any = raw
        parse_error = None
        try:
            body = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            parse_error = exc
        self.received.append(Received(http_method, headers or {}, body))
        if http_method not in ("POST", "GET"):
            return 200, self.render(None, error=f'unsupported request method "{http_method}". Please use POST')
        if content_length is None:
            return 200, self.render(None, error="Empty body, No Content-Length in request")
        if parse_error is not None:
            text = raw.decode("utf-8", "replace")
            return 200, self.render(None, error=f"JSON parse error ERR:{parse_error} RAW:{text!r}")
        if not isinstance(body, dict):
            return 500, self.render(None, error="Internal server error")
        rpc_id = body.get("id")
        key = body.get("api_key") or body.get("auth_token")
        if not key:
            return 200, self.render(rpc_id, error="Incorrect JSON data. Missing 'api_key or auth_token'")
        for name in ("id", "method", "args"):
            if name not in body:
                return 200, self.render(rpc_id if name != "id" else None, error=f"Incorrect JSON data. Missing '{name}'")
        method_name = body["method"]
        args = body["args"] if isinstance(body["args"], dict) else {}
        method = self.METHODS.get(method_name) if isinstance(method_name, str) else None
        if method is None:
            return 200, self.render(rpc_id, error=f"No such method: {method_name}. Similar methods: {self.similar(method_name)}")
        caller = self.state.users_by_token.get(key) if isinstance(key, str) else None
        if caller is None:
            return 200, self.render(rpc_id, error="Invalid API KEY")
        if not caller.active:
            return 200, self.render(rpc_id, error="Request from this user not allowed")
        for arg in method.required:
            if arg not in args:
                return 200, self.render(rpc_id, error=f"Missing non optional `{arg}` arg in JSON DATA")
        call_args = {a: args[a] for a in method.accepted if a in args}  # extra args: silently dropped
        try:
            if method.admin_only and not caller.admin:
                raise RpcError(ACCESS_DENIED)
            result = method.func(self, Call(caller, remote), **call_args)
        except RpcError as exc:
            return 200, self.render(rpc_id, error=exc.error)
        except Exception:  # a stand-in bug must still look like RC4's crash answer
            return 200, self.render(rpc_id, error="Internal server error")
        if not rpc_id:
            return 200, json.dumps("").encode()  # RC4 renders '' for a falsy id
        deprecation = (f"DEPRECATED METHOD Please use method `{method.deprecated_for}` instead."
                       if method.deprecated_for else None)
        return 200, self.render(rpc_id, result=result, deprecation=deprecation)

    @staticmethod
    def render(rpc_id: Any, result: Any = None, error: Any = None, deprecation: str | None = None) -> bytes:
        body = {"id": rpc_id, "result": result, "error": error}
        if deprecation:
            body["DEPRECATION_WARNING"] = deprecation
        return json.dumps(body, indent=4).encode()

    def similar(self, method: Any) -> str:
        patterns = [f"*{part}*" for part in str(method).split("_")]
        found = [m for p in patterns for m in self.METHODS if fnmatch.fnmatchcase(m, p)]
        return ", ".join(dict.fromkeys(found)) or "none"

    # ----------------------------------------------------------------- lookups and shapes

    def get_user_or_error(self, userid: Any) -> User:
        user = None
        if isinstance(userid, int) and not isinstance(userid, bool):
            user = self.state.users.get(userid)
        elif isinstance(userid, str):
            user = self.state.users_by_name.get(userid)
        if user is None:
            raise RpcError(f"user `{userid}` does not exist")
        return user

    def get_repo_or_error(self, repoid: Any) -> Repo:
        repo = None
        if isinstance(repoid, int) and not isinstance(repoid, bool):
            repo = self.state.repos.get(repoid)
        elif isinstance(repoid, str):
            repo = self.state.repos_by_name.get(repoid)
        if repo is None:
            raise RpcError(f"repository `{repoid}` does not exist")
        return repo

    def get_user_group_or_error(self, usergroupid: Any) -> UserGroup:
        group = None
        if isinstance(usergroupid, int) and not isinstance(usergroupid, bool):
            group = self.state.user_groups.get(usergroupid)
        elif isinstance(usergroupid, str):
            group = self.state.user_groups_by_name.get(usergroupid)
        if group is None:
            raise RpcError(f"user group `{usergroupid}` does not exist")
        return group

    def get_repo_group_or_error(self, repogroupid: Any) -> RepoGroup:
        group = None
        if isinstance(repogroupid, int) and not isinstance(repogroupid, bool):
            group = self.state.repo_groups.get(repogroupid)
        elif isinstance(repogroupid, str):
            group = self.state.repo_groups_by_name.get(repogroupid)
        if group is None:
            raise RpcError(f"repository group `{repogroupid}` does not exist")
        return group

    def repo_perm(self, user: User, repo: Repo) -> str:
        if user.admin or repo.owner_id == user.user_id:
            return "repository.admin"
        if user.user_id in repo.user_perms:
            best = REPO_PERMS.index(repo.user_perms[user.user_id])
        else:
            best = 0 if repo.private else 1  # the default user's repository.read on public repositories
        for gid, perm in repo.group_perms.items():
            group = self.state.user_groups.get(gid)
            if group and user.user_id in group.member_ids:
                best = max(best, REPO_PERMS.index(perm))
        return REPO_PERMS[best]

    def check_repo(self, caller: User, repoid: Any, needed: str) -> Repo:
        """The repository, if the caller holds at least `needed` on it; else it 'does not exist'."""
        repo = self.get_repo_or_error(repoid)
        if REPO_PERMS.index(self.repo_perm(caller, repo)) < REPO_PERMS.index(needed):
            raise RpcError(f"repository `{repoid}` does not exist")
        return repo

    def user_group_perm(self, user: User, group: UserGroup) -> str:
        if user.admin or group.owner_id == user.user_id:
            return "usergroup.admin"
        return group.user_perms.get(user.user_id, "usergroup.read")

    def check_user_group(self, caller: User, usergroupid: Any, needed: str) -> UserGroup:
        group = self.get_user_group_or_error(usergroupid)
        if USERGROUP_PERMS.index(self.user_group_perm(caller, group)) < USERGROUP_PERMS.index(needed):
            raise RpcError(f"user group `{usergroupid}` does not exist")
        return group

    def check_owner_arg(self, caller: User, owner: Any) -> User:
        if owner is OMITTED:
            return caller
        if not caller.admin:
            raise RpcError("Only RhodeCode super-admin can specify `owner` param")
        return self.get_user_or_error(owner)

    def check_self(self, caller: User, userid: Any) -> User:
        """`userid` defaulting to the caller; a non-admin may only name themself, by integer id."""
        if userid is OMITTED:
            return caller
        if not caller.admin and userid != caller.user_id:
            raise RpcError("userid is not the same as your user")
        return self.get_user_or_error(userid)

    @staticmethod
    def check_perm(perm: Any, allowed: tuple[str, ...], prefix: str | None = None) -> str:
        if perm not in ALL_PERMS:
            msg = f"permission `{perm}` does not exist."
            if prefix:
                msg += f" Permission should start with prefix: `{prefix}`"
            raise RpcError(msg)
        if perm not in allowed:
            raise RpcError(f"permission `{perm}` is invalid, should start with {allowed[0].split('.')[0]}.")
        return perm

    def user_data(self, user: User, secrets_too: bool = False) -> dict[str, Any]:
        key = user.token if secrets_too else MASK
        return {
            "active": user.active,
            "admin": user.admin,
            "api_key": key,
            "api_keys": [key],
            "email": user.email,
            "emails": [user.email],
            "extern_name": user.extern_name,
            "extern_type": user.extern_type,
            "firstname": user.firstname,
            "ip_addresses": list(user.ip_addresses),
            "language": None,
            "last_login": fmt_time(user.last_login),
            "lastname": user.lastname,
            "user_id": user.user_id,
            "username": user.username,
        }

    def user_permissions(self, user: User) -> dict[str, Any]:
        if user.admin:
            global_perms = ["hg.admin", "hg.create.repository", "hg.fork.repository", "hg.usergroup.create.true",
                            "hg.repogroup.create.true", "repository.admin", "group.admin", "usergroup.admin"]
        else:
            global_perms = ["hg.inherit_default_perms.true", "usergroup.read", "hg.repogroup.create.false",
                            "hg.create.repository", "hg.extern_activate.manual", "hg.create.write_on_repogroup.false",
                            "hg.usergroup.create.false", "group.read", "repository.read", "hg.register.none",
                            "hg.fork.repository"]
        return {
            "global": global_perms,
            "repositories": {r.repo_name: self.repo_perm(user, r) for r in self.state.repos.values()},
            "repositories_groups": {g.group_name: "group.admin" if user.admin or g.owner_id == user.user_id
                                    else g.user_perms.get(user.user_id, "group.read")
                                    for g in self.state.repo_groups.values()},
            "user_groups": {g.group_name: self.user_group_perm(user, g) for g in self.state.user_groups.values()},
        }

    def user_group_data(self, group: UserGroup) -> dict[str, Any]:
        return {
            "active": group.active,
            "group_description": group.group_description,
            "group_name": group.group_name,
            "owner": self.state.users[group.owner_id].username,
            "users": [self.user_data(self.state.users[uid]) for uid in group.member_ids],
            "users_group_id": group.users_group_id,
        }

    def _perm_entries(self, owner_id: int, user_perms: dict[int, str], group_perms: dict[int, str],
                      admin_perm: str, with_admins: bool) -> list[dict[str, Any]]:
        entries = []
        if with_admins:
            entries += [{"name": self.state.users[uid].username, "origin": "super-admin", "permission": admin_perm,
                         "type": "user"} for uid in sorted(self.state.admin_ids)]
        entries.append({"name": self.state.users[owner_id].username, "origin": "owner", "permission": admin_perm,
                        "type": "user"})
        entries += [{"name": self.state.users[uid].username, "origin": "permission", "permission": perm,
                     "type": "user"} for uid, perm in user_perms.items()]
        entries += [{"name": self.state.user_groups[gid].group_name, "origin": "permission", "permission": perm,
                     "type": "user_group"} for gid, perm in group_perms.items()]
        return entries

    @staticmethod
    def _empty_commit() -> dict[str, Any]:
        return {"author": "", "branch": None, "date": "1970-01-01T00:00:00", "message": "", "parents": [],
                "raw_id": "0" * 40, "revision": -1, "short_id": "000000000000"}

    def repo_data(self, repo: Repo) -> dict[str, Any]:
        lock_user = self.state.users.get(repo.lock[0]) if repo.lock else None
        return {
            "clone_uri": repo.clone_uri,
            "created_on": fmt_time(repo.created_on),
            "description": repo.description,
            "enable_downloads": repo.enable_downloads,
            "enable_locking": repo.enable_locking,
            "enable_statistics": repo.enable_statistics,
            "fork_of": repo.fork_of,
            "landing_rev": list(repo.landing_rev),
            "last_changeset": dict(repo.commit) if repo.commit else self._empty_commit(),
            "lock_reason": repo.lock[2] if repo.lock else None,
            "locked_by": self.user_data(lock_user) if lock_user else None,
            "locked_date": fmt_time(dt.datetime.fromtimestamp(repo.lock[1])) if repo.lock else None,
            "owner": self.state.users[repo.owner_id].username,
            "private": repo.private,
            "repo_id": repo.repo_id,
            "repo_name": repo.repo_name,
            "repo_type": repo.repo_type,
        }

    def repo_group_data(self, group: RepoGroup) -> dict[str, Any]:
        parent, _, _ = group.group_name.rpartition("/")
        prefix = group.group_name + "/"
        return {
            "group_description": group.group_description,
            "group_id": group.group_id,
            "group_name": group.group_name,
            "owner": self.state.users[group.owner_id].username,
            "parent_group": parent or None,
            "repositories": [r.repo_name for r in self.state.repos.values()
                             if r.repo_name.startswith(prefix) and "/" not in r.repo_name[len(prefix):]],
        }

    def gist_data(self, gist: Gist, content: bool = False) -> dict[str, Any]:
        return {
            "access_id": gist.access_id,
            "acl_level": gist.acl_level,
            "content": {name: f.get("content") for name, f in gist.files.items()} if content else None,
            "created_on": fmt_time(gist.created_on),
            "description": gist.description,
            "expires": gist.expires,
            "gist_id": gist.gist_id,
            "modified_at": fmt_time(gist.created_on),
            "type": gist.gist_type,
            "url": f"{self.base_url}/_admin/gists/{gist.access_id}",
        }

    def new_repo(self, name: str, repo_type: str, owner: User, **fields: Any) -> Repo:
        errors = {}
        if name in self.state.repos_by_name:
            errors["unique_repo_name"] = f"Repository with name `{name}` already exists"
        parent, _, _ = name.rpartition("/")
        if parent and parent not in self.state.repo_groups_by_name:
            errors["repo_group"] = f"Repository group `{parent}` does not exist"
        if errors:
            raise RpcError(errors)  # RC4 reports schema validation as an object
        if repo_type not in ("hg", "git", "svn"):
            raise RpcError(f"failed to create repository `{name}`")
        repo = Repo(self.state.next_id("repo"), name, repo_type, owner.user_id, _now(), follower_ids=[owner.user_id],
                    **fields)
        self.state.add_repo(repo)
        return repo

    # ================================================================= the API methods (RC4 signatures)
    # `caller` is RC4's `apiuser`; OMITTED marks an Optional(...) default.

    # ----------------------------------------------------------------- server

    @api(admin_only=False)
    def api_pull(self, c: Call, repoid):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        if not repo.clone_uri:
            raise RpcError(f"Unable to pull changes from `{repo.repo_name}`")
        raw_id = hashlib.sha1(f"{repo.repo_name}:{repo.clone_uri}".encode()).hexdigest()
        repo.commit = {"author": "Remote <remote@example.com>", "branch": "default", "date": fmt_time(_now()),
                       "message": "pulled", "parents": [], "raw_id": raw_id, "revision": 0, "short_id": raw_id[:12]}
        return {"msg": f"Pulled from `{repo.repo_name}`", "repository": repo.repo_name}

    @api(admin_only=True)
    def api_rescan_repos(self, c: Call, remove_obsolete=OMITTED):
        return {"added": [], "removed": []}

    @api()
    def api_invalidate_cache(self, c: Call, repoid, delete_keys=OMITTED):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        return {"msg": f"Cache for repository `{repoid}` was invalidated", "repository": repo.repo_name}

    @api()
    def api_lock(self, c: Call, repoid, locked=OMITTED, userid=OMITTED):
        repo = self.get_repo_or_error(repoid)
        if not c.user.admin:
            self.check_repo(c.user, repoid, "repository.write")
            if userid is not OMITTED and userid != c.user.user_id:
                raise RpcError("userid is not the same as your user")
        user = c.user if userid is OMITTED else self.get_user_or_error(userid)
        if locked is OMITTED:  # query
            if repo.lock is None:
                return {"repo": repo.repo_name, "locked": False, "locked_since": None, "locked_by": None,
                        "lock_reason": None, "lock_state_changed": False, "msg": f"Repo `{repo.repo_name}` not locked."}
            _uid, since, reason = repo.lock
            # RC4 names `userid` (default: the caller) as the locker here, not the user holding the lock
            when = json.dumps(fmt_time(dt.datetime.fromtimestamp(since)))
            return {"repo": repo.repo_name, "locked": True, "locked_since": since, "locked_by": user.username,
                    "lock_reason": reason, "lock_state_changed": False,
                    "msg": f"Repo `{repo.repo_name}` locked by `{user.username}` on `{when}`."}
        locked = _str2bool(locked)
        lock_time = time.time() if locked else None
        repo.lock = (user.user_id, lock_time, LOCK_API) if locked else None
        return {"repo": repo.repo_name, "locked": locked, "locked_since": lock_time, "locked_by": user.username,
                "lock_reason": LOCK_API, "lock_state_changed": True,
                "msg": f"User `{user.username}` set lock state for repo `{repo.repo_name}` to `{locked}`"}

    @api()
    def api_get_user_locks(self, c: Call, userid=OMITTED):
        user = self.check_self(c.user, userid)
        return [self.repo_data(r) for r in self.state.repos.values() if r.lock and r.lock[0] == user.user_id]

    @api(deprecated_for="get_user_locks", name="get_locks")
    def api_get_locks(self, c: Call, userid=OMITTED):
        return self.api_get_user_locks(c, userid)

    @api(admin_only=True)
    def api_get_ip(self, c: Call, userid=OMITTED):
        user = c.user if userid is OMITTED else self.get_user_or_error(userid)
        ips = []
        for net in user.ip_addresses:
            addr = net.split("/")[0]
            ips.append({"ip_addr": net, "ip_range": [addr, addr]})
        return {"server_ip_addr": c.remote, "user_ips": ips}

    @api(admin_only=True, deprecated_for="get_ip", name="show_ip")
    def api_show_ip(self, c: Call, userid=OMITTED):
        return self.api_get_ip(c, userid)

    @api(admin_only=True)
    def api_get_server_info(self, c: Call):
        return {"modules": [["aiohttp", "stand-in"]], "platform": sys.platform,
                "py_version": sys.version.split()[0], "rhodecode_version": "4.0.0-standin"}

    @api()
    def api_test(self, c: Call, args):
        return args

    # ----------------------------------------------------------------- users

    @api()
    def api_get_user(self, c: Call, userid=OMITTED):
        user = self.check_self(c.user, userid)
        data = self.user_data(user, secrets_too=True)
        data["permissions"] = self.user_permissions(user)
        return data

    @api(admin_only=True)
    def api_get_users(self, c: Call):
        return [self.user_data(u, secrets_too=True) for u in self.state.users.values()]

    @api(admin_only=True)
    def api_create_user(self, c: Call, username, email, password=OMITTED, firstname=OMITTED, lastname=OMITTED,
                        active=OMITTED, admin=OMITTED, extern_name=OMITTED, extern_type=OMITTED,
                        force_password_change=OMITTED):
        if username in self.state.users_by_name:
            raise RpcError(f"user `{username}` already exist")
        if any(u.email == email for u in self.state.users.values()):
            raise RpcError(f"email `{email}` already exist")
        fields = _given(password=password, firstname=firstname, lastname=lastname, active=active, admin=admin,
                        extern_name=extern_name, extern_type=extern_type)
        user = self.state.add_user(username, email, **fields)
        return {"msg": f"created new user `{username}`", "user": self.user_data(user, secrets_too=True)}

    @api(admin_only=True)
    def api_update_user(self, c: Call, userid, username=OMITTED, email=OMITTED, password=OMITTED,
                        firstname=OMITTED, lastname=OMITTED, active=OMITTED, admin=OMITTED, extern_type=OMITTED,
                        extern_name=OMITTED):
        user = self.get_user_or_error(userid)
        fields = _given(email=email, password=password, firstname=firstname, lastname=lastname, active=active,
                        admin=admin, extern_type=extern_type, extern_name=extern_name)
        if username is not OMITTED and username != user.username:
            if username in self.state.users_by_name:
                raise RpcError(f"failed to update user `{userid}`")
            del self.state.users_by_name[user.username]
            user.username = username
            self.state.users_by_name[username] = user
        for name, value in fields.items():
            setattr(user, name, value)
        (self.state.admin_ids.add if user.admin else self.state.admin_ids.discard)(user.user_id)
        return {"msg": f"updated user ID:{user.user_id} {user.username}", "user": self.user_data(user, secrets_too=True)}

    @api(admin_only=True)
    def api_delete_user(self, c: Call, userid):
        user = self.get_user_or_error(userid)
        if user is c.user or any(r.owner_id == user.user_id for r in self.state.repos.values()):
            raise RpcError(f"failed to delete user ID:{user.user_id} {user.username}")
        self.state.remove_user(user)
        return {"msg": f"deleted user ID:{user.user_id} {user.username}", "user": None}

    # ----------------------------------------------------------------- user groups

    @api()
    def api_get_user_group(self, c: Call, usergroupid):
        group = self.check_user_group(c.user, usergroupid, "usergroup.read")
        data = self.user_group_data(group)
        data["members"] = self._perm_entries(group.owner_id, group.user_perms, group.group_perms,
                                             "usergroup.admin", with_admins=False)
        return data

    @api()
    def api_get_user_groups(self, c: Call):
        return [self.user_group_data(g) for g in self.state.user_groups.values()
                if USERGROUP_PERMS.index(self.user_group_perm(c.user, g)) >= 1]

    @api()
    def api_create_user_group(self, c: Call, group_name, description=OMITTED, owner=OMITTED, active=OMITTED):
        if not c.user.admin:
            raise RpcError(ACCESS_DENIED)  # non-admins lack hg.usergroup.create.true here
        owner_user = self.check_owner_arg(c.user, owner)
        if group_name in self.state.user_groups_by_name:
            raise RpcError(f"user group `{group_name}` already exist")
        group = UserGroup(self.state.next_id("user_group"), group_name, owner_user.user_id,
                          **_given(group_description=description, active=active))
        self.state.user_groups[group.users_group_id] = group
        self.state.user_groups_by_name[group_name] = group
        return {"msg": f"created new user group `{group_name}`", "user_group": self.user_group_data(group)}

    @api()
    def api_update_user_group(self, c: Call, usergroupid, group_name=OMITTED, description=OMITTED, owner=OMITTED,
                              active=OMITTED):
        group = self.check_user_group(c.user, usergroupid, "usergroup.admin")
        if owner is not OMITTED:
            group.owner_id = self.check_owner_arg(c.user, owner).user_id
        if group_name is not OMITTED and group_name != group.group_name:
            if group_name in self.state.user_groups_by_name:
                raise RpcError(f"failed to update user group `{usergroupid}`")
            del self.state.user_groups_by_name[group.group_name]
            group.group_name = group_name
            self.state.user_groups_by_name[group_name] = group
        for name, value in _given(group_description=description, active=active).items():
            setattr(group, name, value)
        return {"msg": f"updated user group ID:{group.users_group_id} {group.group_name}",
                "user_group": self.user_group_data(group)}

    @api()
    def api_delete_user_group(self, c: Call, usergroupid):
        group = self.check_user_group(c.user, usergroupid, "usergroup.admin")
        del self.state.user_groups[group.users_group_id]
        del self.state.user_groups_by_name[group.group_name]
        for repo in self.state.repos.values():
            repo.group_perms.pop(group.users_group_id, None)
        return {"msg": f"deleted user group ID:{group.users_group_id} {group.group_name}", "user_group": None}

    @api()
    def api_add_user_to_user_group(self, c: Call, usergroupid, userid):
        user = self.get_user_or_error(userid)
        group = self.check_user_group(c.user, usergroupid, "usergroup.admin")
        if user.user_id in group.member_ids:
            return {"success": False, "msg": "User is already in that group"}
        group.member_ids.append(user.user_id)
        return {"success": True, "msg": f"added member `{user.username}` to user group `{group.group_name}`"}

    @api()
    def api_remove_user_from_user_group(self, c: Call, usergroupid, userid):
        user = self.get_user_or_error(userid)
        group = self.check_user_group(c.user, usergroupid, "usergroup.admin")
        if user.user_id not in group.member_ids:
            return {"success": False, "msg": "User wasn't in group"}
        group.member_ids.remove(user.user_id)
        return {"success": True, "msg": f"removed member `{user.username}` from user group `{group.group_name}`"}

    # ----------------------------------------------------------------- repositories

    @api()
    def api_get_repo(self, c: Call, repoid, cache=OMITTED):
        repo = self.check_repo(c.user, repoid, "repository.read")
        data = self.repo_data(repo)
        members = self._perm_entries(repo.owner_id, repo.user_perms, repo.group_perms, "repository.admin",
                                     with_admins=True)
        data["followers"] = [self.user_data(self.state.users[uid]) for uid in repo.follower_ids]
        data["members"] = members
        data["permissions"] = [dict(m) for m in members]
        return dict(sorted(data.items()))

    @api()
    def api_get_repos(self, c: Call):
        return [self.repo_data(r) for r in self.state.repos.values()
                if REPO_PERMS.index(self.repo_perm(c.user, r)) >= 1]

    @api()
    def api_create_repo(self, c: Call, repo_name, repo_type, owner=OMITTED, description=OMITTED, private=OMITTED,
                        clone_uri=OMITTED, landing_rev=OMITTED, enable_statistics=OMITTED, enable_locking=OMITTED,
                        enable_downloads=OMITTED, copy_permissions=OMITTED):
        owner_user = self.check_owner_arg(c.user, owner)
        fields = _given(description=description, private=private, clone_uri=clone_uri,
                        enable_statistics=enable_statistics, enable_locking=enable_locking,
                        enable_downloads=enable_downloads)
        if landing_rev is not OMITTED:
            kind, _, rev = str(landing_rev).partition(":")
            fields["landing_rev"] = (kind, rev) if rev else ("rev", kind)
        self.new_repo(repo_name, repo_type, owner_user, **fields)
        return {"msg": f"Created new repository `{repo_name}`", "success": True, "task": None}

    @api()
    def api_fork_repo(self, c: Call, repoid, fork_name, owner=OMITTED, description=OMITTED,
                      copy_permissions=OMITTED, private=OMITTED, landing_rev=OMITTED):
        repo = self.check_repo(c.user, repoid, "repository.read")
        owner_user = self.check_owner_arg(c.user, owner)
        fields = _given(description=description, private=private)
        self.new_repo(fork_name, repo.repo_type, owner_user, fork_of=repo.repo_name, **fields)
        return {"msg": f"Created fork of `{repo.repo_name}` as `{fork_name}`", "success": True, "task": None}

    @api()
    def api_delete_repo(self, c: Call, repoid, forks=OMITTED):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        children = [r for r in self.state.repos.values() if r.fork_of == repo.repo_name]
        suffix = ""
        if children:
            if forks not in ("detach", "delete"):
                raise RpcError(f"Cannot delete `{repo.repo_name}` it still contains attached forks")
            for child in children:
                if forks == "delete":
                    self.state.remove_repo(child)
                else:
                    child.fork_of = None
            suffix = f" {'Deleted' if forks == 'delete' else 'Detached'} {len(children)} forks"
        self.state.remove_repo(repo)
        return {"msg": f"Deleted repository `{repo.repo_name}`{suffix}", "success": True}

    @api()
    def api_grant_user_permission(self, c: Call, repoid, userid, perm):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        user = self.get_user_or_error(userid)
        repo.user_perms[user.user_id] = self.check_perm(perm, REPO_PERMS)
        return {"msg": f"Granted perm: `{perm}` for user: `{user.username}` in repo: `{repo.repo_name}`",
                "success": True}

    @api()
    def api_revoke_user_permission(self, c: Call, repoid, userid):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        user = self.get_user_or_error(userid)
        repo.user_perms.pop(user.user_id, None)
        return {"msg": f"Revoked perm for user: `{user.username}` in repo: `{repo.repo_name}`", "success": True}

    @api()
    def api_grant_user_group_permission(self, c: Call, repoid, usergroupid, perm):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        group = self.check_user_group(c.user, usergroupid, "usergroup.read")
        repo.group_perms[group.users_group_id] = self.check_perm(perm, REPO_PERMS)
        return {"msg": f"Granted perm: `{perm}` for user group: `{group.group_name}` in repo: `{repo.repo_name}`",
                "success": True}

    @api()
    def api_revoke_user_group_permission(self, c: Call, repoid, usergroupid):
        repo = self.check_repo(c.user, repoid, "repository.admin")
        group = self.check_user_group(c.user, usergroupid, "usergroup.read")
        repo.group_perms.pop(group.users_group_id, None)
        return {"msg": f"Revoked perm for user group: `{group.group_name}` in repo: `{repo.repo_name}`",
                "success": True}

    # ----------------------------------------------------------------- repository groups

    @api()
    def api_get_repo_group(self, c: Call, repogroupid):
        group = self.get_repo_group_or_error(repogroupid)
        data = self.repo_group_data(group)
        data["members"] = self._perm_entries(group.owner_id, group.user_perms, {}, "group.admin", with_admins=True)
        return dict(sorted(data.items()))

    @api()
    def api_get_repo_groups(self, c: Call):
        return [self.repo_group_data(g) for g in self.state.repo_groups.values()]

    @api(admin_only=True)
    def api_create_repo_group(self, c: Call, group_name, description=OMITTED, owner=OMITTED,
                              copy_permissions=OMITTED):
        owner_user = self.check_owner_arg(c.user, owner)
        if group_name in self.state.repo_groups_by_name:
            raise RpcError(f"failed to create repo group `{group_name}`")  # [uncertain] RC4's duplicate text
        parts = group_name.split("/")
        for depth in range(1, len(parts) + 1):  # "foo/bar" creates "foo" too
            name = "/".join(parts[:depth])
            if name not in self.state.repo_groups_by_name:
                group = RepoGroup(self.state.next_id("repo_group"), name, owner_user.user_id)
                self.state.repo_groups[group.group_id] = group
                self.state.repo_groups_by_name[name] = group
        group.group_description = "" if description is OMITTED else description
        return {"msg": f"Created new repo group `{group_name}`", "repo_group": self.repo_group_data(group)}

    # ----------------------------------------------------------------- gists

    @api()
    def api_get_gist(self, c: Call, gistid, content=OMITTED):
        gist = self.state.gists.get(str(gistid))
        if gist is None or (not c.user.admin and gist.owner_id != c.user.user_id):
            raise RpcError(f"gist `{gistid}` does not exist")
        return self.gist_data(gist, content=content is not OMITTED and bool(content))

    @api()
    def api_get_gists(self, c: Call, userid=OMITTED):
        user = self.check_self(c.user, userid)
        return [self.gist_data(g) for g in self.state.gists.values() if g.owner_id == user.user_id]

    @api()
    def api_create_gist(self, c: Call, files, owner=OMITTED, gist_type=OMITTED, lifetime=OMITTED,
                        acl_level=OMITTED, description=OMITTED):
        owner_user = self.check_owner_arg(c.user, owner)
        gist_type = "public" if gist_type is OMITTED else gist_type
        if not isinstance(files, dict) or not files or gist_type not in ("public", "private"):
            raise RpcError("failed to create gist")
        lifetime = -1 if lifetime is OMITTED else int(lifetime)
        gist_id = self.state.next_id("gist")
        access_id = str(gist_id) if gist_type == "public" else secrets.token_hex(10)
        gist = Gist(gist_id, access_id, owner_user.user_id, gist_type, "" if description is OMITTED else description,
                    "acl_public" if acl_level is OMITTED else acl_level,
                    -1 if lifetime == -1 else time.time() + lifetime * 60, _now(), files)
        self.state.gists[access_id] = gist
        return {"msg": "created new gist", "gist": self.gist_data(gist)}

    @api()
    def api_delete_gist(self, c: Call, gistid):
        gist = self.state.gists.get(str(gistid))
        if gist is None or (not c.user.admin and gist.owner_id != c.user.user_id):
            raise RpcError(f"gist `{gistid}` does not exist")
        del self.state.gists[gist.access_id]
        return {"msg": f"deleted gist ID:{gist.access_id}", "gist": None}


@dataclass
class Call:
    user: User  # RC4's `apiuser`
    remote: str  # the caller's address, as RC4's request.rpc_ip_addr


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not OMITTED}


def _str2bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "t", "1")
    return bool(value)


def _register() -> None:
    for attr in list(vars(RhodecodeStandin).values()):
        spec = getattr(attr, "api_spec", None)
        if spec is None:
            continue
        name, admin_only, deprecated_for = spec
        params = list(inspect.signature(attr).parameters.values())[2:]  # after self, caller
        required = tuple(p.name for p in params if p.default is inspect.Parameter.empty)
        RhodecodeStandin.METHODS[name] = Method(name, attr, required, tuple(p.name for p in params), admin_only,
                                                deprecated_for)


_register()


# --------------------------------------------------------------------------- running it


@dataclass
class RunningStandin:
    """A started stand-in: what a test needs to talk to it."""

    url: str
    admin_token: str
    user_token: str
    server: RhodecodeStandin

    @property
    def api_url(self) -> str:
        return f"{self.url}/_admin/api"

    # the names tests/integration/conftest.py's `Rpc` reads from its backend handle
    @property
    def admin_key(self) -> str:
        return self.admin_token

    @property
    def user_key(self) -> str:
        return self.user_token

    @property
    def admin_username(self) -> str:
        return self.server.state.admin.username

    @property
    def user_username(self) -> str:
        return self.server.state.user.username

    @property
    def received(self) -> deque[Received]:
        return self.server.received


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def running_standin(admin_token: str | None = None, user_token: str | None = None,
                          host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[RunningStandin]:
    """Start the stand-in in this event loop on HOST:PORT (0 = a free port); stop it on exit."""
    server = RhodecodeStandin(admin_token, user_token)
    runner = web.AppRunner(server.make_app(), access_log=None)
    await runner.setup()
    sock = _bind(host, port)
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        server.base_url = f"http://{host}:{sock.getsockname()[1]}"
        yield RunningStandin(server.base_url, server.admin_token, server.user_token, server)
    finally:
        await runner.cleanup()
        sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin.rhodecode",
        description="TEST STAND-IN for a modern RhodeCode 4.x JSON-RPC API at /_admin/api (documented shapes of "
                    "doc seed 000; in-memory state; not RhodeCode). Prints its URL, never its tokens.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 = a free port (default: 0)")
    parser.add_argument("--tokens-file", metavar="PATH",
                        help="write RHODECODE_STANDIN_URL/_ADMIN_TOKEN/_USER_TOKEN lines here (mode 0600). "
                             "Tokens come from the environment variables of those names, else are random")
    opts = parser.parse_args(argv)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_standin(os.environ.get("RHODECODE_STANDIN_ADMIN_TOKEN"),
                                   os.environ.get("RHODECODE_STANDIN_USER_TOKEN"), opts.host, opts.port) as standin:
            if opts.tokens_file:
                fd = os.open(opts.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(f"RHODECODE_STANDIN_URL={standin.url}\n"
                            f"RHODECODE_STANDIN_ADMIN_TOKEN={standin.admin_token}\n"
                            f"RHODECODE_STANDIN_USER_TOKEN={standin.user_token}\n")
            print(f"rhodecode stand-in listening on {standin.url}", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
