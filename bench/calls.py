"""The request mix the bench sends, and the answers the fast backend gives.

Nine calls, three per caller dialect, each on the path a script of that dialect
would use (auto-detection on /_admin/api where the call decides it, the
dialect's own endpoint where it does not). The fast backend speaks Kallithea
0.7 (rcgate's default backend dialect) and answers any method with a plausible
result of realistic size, echoing the request id.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

import orjson


def _key() -> str:
    """Any 40-character key will do (the fast backend accepts every key of that length)."""
    while True:
        key = "b3nch" + secrets.token_hex(18)[:35]
        if not re.search(r"\d{19}", key):
            return key


KEY = _key()


# the users' own keys in answers: fixed hex, no run of 19 digits (such a run sends rcgate's parser to its big-int path)
_KEYS = {i: hashlib.sha1(f"user{i}".encode()).hexdigest() for i in range(1, 5)}
assert not any(re.search(r"\d{19}", k) for k in _KEYS.values())


def _user(uid: int, name: str) -> dict[str, Any]:
    return {
        "user_id": uid, "username": name, "firstname": name.title(), "lastname": "Tester",
        "email": f"{name}@example.com", "emails": [f"{name}.alt@example.com"], "active": True,
        "admin": uid == 1, "api_key": _KEYS[uid], "api_keys": [_KEYS[uid]],
        "extern_type": "internal", "extern_name": name, "last_login": "2026-11-01T09:30:00.123",
        "ip_addresses": ["0.0.0.0/0"],
    }


USER = {
    **_user(1, "admin"),
    "permissions": {
        "global": ["hg.admin", "hg.create.repository", "hg.fork.repository", "hg.register.manual_activate"],
        "repositories": {"r1": "repository.admin", "r2": "repository.write", "lib/core": "repository.read"},
        "repositories_groups": {"lib": "group.admin"},
        "user_groups": {"devs": "usergroup.admin"},
    },
}
USER_GROUP = {
    "users_group_id": 3, "group_name": "devs", "group_description": "developers", "active": True,
    "owner": "admin", "members": [_user(i, n) for i, n in ((2, "john"), (3, "jane"), (4, "joe"))],
}
CHANGESET = {
    "short_id": "2c2b1a6a0f0c", "raw_id": "2c2b1a6a0f0c0f5d5c6b3f9f5f1d9e7a8b4c3d2e", "revision": 42,
    "message": "Fix the build", "date": "2026-11-01T18:02:11", "author": "John Tester <john@example.com>",
}
REPO = {
    "repo_id": 1, "repo_name": "r1", "repo_type": "hg", "clone_uri": None, "landing_rev": ["rev", "tip"],
    "description": "My repository", "private": False, "created_on": "2026-05-10T12:34:56.123",
    "enable_downloads": False, "enable_statistics": False, "owner": "admin", "fork_of": None,
    "last_changeset": CHANGESET,
    "members": [
        {"name": "admin", "type": "user", "permission": "repository.admin"},
        {"name": "john", "type": "user", "permission": "repository.write"},
        {"name": "devs", "type": "user_group", "permission": "repository.read"},
    ],
    "followers": [_user(2, "john")],
}

RESULTS: dict[str, Any] = {
    "get_user": USER, "get_users": [USER, *USER_GROUP["members"]],
    "get_user_group": USER_GROUP, "get_users_group": USER_GROUP,
    "get_user_groups": [USER_GROUP], "get_users_groups": [USER_GROUP],
    "get_repo": REPO, "get_repos": [REPO, {**REPO, "repo_id": 2, "repo_name": "r2"}],
    "pull": {"msg": "Pulled from `r1`", "repository": "r1"},
    "test": {"args": "x"},
}
DEFAULT_RESULT: Any = {"msg": "ok"}

# (label, path, body): label is "dialect method"
_RC1, _K, _RC = "rhodecode1", "kallithea", "rhodecode"
MIX: list[tuple[str, str, dict[str, Any]]] = [
    (f"{_RC1} get_users_group", "/_admin/api",
     {"id": 1, "api_key": KEY, "method": "get_users_group", "args": {"usersgroupid": "devs"}}),
    (f"{_RC1} get_user", "/rhodecode1/_admin/api",
     {"id": 2, "api_key": KEY, "method": "get_user", "args": {"userid": "admin"}}),
    (f"{_RC1} get_repo", "/rhodecode1/_admin/api",
     {"id": 3, "api_key": KEY, "method": "get_repo", "args": {"repoid": "r1"}}),
    (f"{_K} get_user", "/_admin/api",
     {"id": 4, "api_key": KEY, "method": "get_user", "args": {}}),
    (f"{_K} get_user_group", "/_admin/api",
     {"id": 5, "api_key": KEY, "method": "get_user_group", "args": {"usergroupid": "devs"}}),
    (f"{_K} get_repo", "/kallithea/_admin/api",
     {"id": 6, "api_key": KEY, "method": "get_repo", "args": {"repoid": "r1"}}),
    (f"{_RC} get_user", "/_admin/api",
     {"id": "call-7", "auth_token": KEY, "method": "get_user", "args": {"userid": "admin"}}),
    (f"{_RC} get_user_group", "/_admin/api",
     {"id": 8, "auth_token": KEY, "method": "get_user_group", "args": {"usergroupid": "devs"}}),
    (f"{_RC} get_repo", "/rhodecode/_admin/api",
     {"id": 9, "api_key": KEY, "method": "get_repo", "args": {"repoid": "r1"}}),
]


def mix_bodies() -> list[tuple[str, str, bytes]]:
    return [(label, path, orjson.dumps(body)) for label, path, body in MIX]
