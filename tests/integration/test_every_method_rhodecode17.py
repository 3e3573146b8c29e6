"""Every RhodeCode 1.7.2 API method, differentially: a RhodeCode 1.x caller talking to rcgate in front of a
real RhodeCode 1.7.2 (backend dialect rhodecode1) gets exactly what the server, called directly, answers
(after JSON parsing), on the same data.

- reads, and calls that change nothing (refusals and errors included): the same call twice, through
  rcgate and directly, answers compared exactly;
- writes: the same steps on twin objects (`Calls.twin`), answers compared after `norm` (twin names
  mapped; generated ids, dates, API keys, gist access ids / urls / expiry blanked);
- add_user_users_group, the spelling the 1.x docs used, is not a method of the 1.7.2 server ("No such
  method"); rcgate sends it as add_user_to_users_group, so its answers are compared with the server's
  answers to add_user_to_users_group;
- RhodeCode 1.7.2's own update_repo fails on every call (a bug of that server): compared as it is;
- odd envelopes (args not an object, ids of other types, missing fields) are compared on the raw body;
  the one other deliberate difference, older (1.3) argument spellings renamed for the server, is shown
  by `test_older_spellings_are_renamed_for_the_server`;
- RhodeCode 1.x URL-decodes the whole request body before parsing it; rcgate escapes `%` and `+` for it.
  `test_values_with_plus_and_percent_arrive_intact` and `test_password_with_plus_and_percent_arrives_intact`
  prove that values (a password too, by a login on the server's own web form) arrive intact through
  rcgate, and what the server does to the same body sent without escaping.

Every call through rcgate goes through `Calls.gw`, which records the method; the last test checks that
the recorded set is exactly the rhodecode1 list of mappings/documented.yaml.

Besides the RCGATE_RHODECODE17_* variables of tests/conftest.py, this module reads
RCGATE_RHODECODE17_HOME and RCGATE_RHODECODE17_VENV (the RHODECODE17_HOME / _VENV lines of the
rhodecode17.env of an already running server): the instance directory (to put a repository on disk for
rescan_repos) and the install (its Mercurial serves the remote for `pull`). Without a Mercurial the tests
that need a remote are skipped with the reason.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from gateway.app import create_app

from .conftest import Rpc, gateway_config, normalised, unique
from .test_every_method_kallithea import documented, whole_module_ran

pytestmark = pytest.mark.rhodecode17

RC1 = "rhodecode1"
EXERCISED: set[str] = set()  # rhodecode1 methods sent through rcgate by this module
SUCCEEDED: set[str] = set()  # ... of them, those that got a result through rcgate
FAILED: set[str] = set()  # ... and those that got an error
DENIED = "Access was denied to this resource."  # RhodeCode 1.7.2's refusal of an admin-only method
# the doc spelling rcgate accepts for a 1.x caller -> the 1.7.2 method it is sent as
DOC_ALIASES = {"add_user_users_group": "add_user_to_users_group"}
HG_ENV = {"HGUSER": "Test <test@example.com>", "HGRCPATH": "", "PATH": "/usr/bin:/bin", "HGPLAIN": "1"}


# ------------------------------------------------------------------------------------ helpers
def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def rc17_home(server) -> Path | None:
    return getattr(server, "home", None) or _env_path("RCGATE_RHODECODE17_HOME")


def hg_binary(server) -> Path | None:
    """Mercurial: the one of the RhodeCode 1.7.2 install, else any `hg` on PATH."""
    for venv in (getattr(server, "venv", None), _env_path("RCGATE_RHODECODE17_VENV")):
        if venv and (Path(venv) / "bin" / "hg").exists():
            return Path(venv) / "bin" / "hg"
    found = shutil.which("hg")
    return Path(found) if found else None


def hg(binary: Path, *args: Any) -> str:
    done = subprocess.run([str(binary), *map(str, args)], check=True, env=HG_ENV, capture_output=True, text=True)
    return done.stdout


@contextmanager
def served(binary: Path, repo: Path) -> Iterator[str]:
    """`hg serve` of `repo` on 127.0.0.1; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(binary), "serve", "-R", str(repo), "-a", "127.0.0.1", "-p", str(port)], env=HG_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("hg serve did not start")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)


def new_hg_repo(binary: Path, path: Path, files: dict[str, str]) -> str:
    """A Mercurial repository at `path` with one commit adding `files`; returns the commit's full id."""
    hg(binary, "init", path)
    for name, text in files.items():
        (path / name).write_text(text)
    return commit(binary, path, "first")


def commit(binary: Path, path: Path, message: str) -> str:
    """Commit everything in `path` at a fixed date (the same files make the same changeset id)."""
    hg(binary, "-R", path, "commit", "-A", "-m", message, "-d", "1700000000 0")
    return hg(binary, "-R", path, "log", "-r", "tip", "--template", "{node}")


def direct_sync(server, method: str, args: dict | None = None, key: str | None = None) -> dict:
    """One call straight to RhodeCode 1.7.2 (values without `+` / `%`), outside any event loop."""
    body = json.dumps({"id": 1, "api_key": key or server.admin_key, "method": method, "args": args or {}})
    req = urllib.request.Request(server.api_url, body.encode(), {"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=120) as res:
        return json.load(res)


def direct_ok(server, method: str, args: dict | None = None, key: str | None = None) -> Any:
    answer = direct_sync(server, method, args, key)
    assert answer["error"] is None, (method, answer)
    return answer["result"]


_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")


def norm(value: Any, names: dict[str, str]) -> Any:
    """`normalised` (names mapped, *_id numbers and created_on / last_login blanked), and what 1.7.2
    generates: API keys, lock times, gist access ids / urls / expiry (unless -1: never), dates in texts."""
    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            gist = "gist_id" in v
            out = {}
            for k, x in v.items():
                if k == "api_key" and isinstance(x, str):
                    out[k] = "<api_key>"
                elif k in ("locked_since", "locked_date") and x is not None:
                    out[k] = "<time>"
                elif k == "expires" and isinstance(x, (int, float)) and x != -1:
                    out[k] = "<expires>"
                elif gist and k in ("access_id", "url"):
                    out[k] = f"<{k}>"
                else:
                    out[k] = walk(x)
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return _DATE.sub("<date>", v)
        return v

    return walk(normalised(value, names))


class Calls:
    """The same call through rcgate (rhodecode1 on both sides) and straight on RhodeCode 1.7.2."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.server = rpc.kallithea  # the Rpc helper's name for its backend: here RhodeCode 1.7.2

    async def gw(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        EXERCISED.add(method)
        answer = await self.rpc.gw(method, args, dialect=RC1, key=key, id=id)
        assert set(answer) == {"id", "result", "error"}, answer
        (SUCCEEDED if answer["error"] is None else FAILED).add(method)
        return answer

    async def direct(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        """Straight to the server; a doc alias is sent as the 1.7.2 method it stands for."""
        return await self.rpc.direct(DOC_ALIASES.get(method, method), args, key=key, id=id)

    async def same(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 7) -> dict:
        """A call that changes nothing: both answers must be identical."""
        through = await self.gw(method, args, key=key, id=id)
        direct = await self.direct(method, args, key=key, id=id)
        assert through == direct, (method, args)
        return through

    async def twin(self, steps) -> list[dict]:
        """Run `steps(call, names)` through rcgate and straight on the server, on twin names."""
        mine: dict[str, str] = {}
        theirs: dict[str, str] = {}
        answers_gw = await steps(lambda m, a, **kw: self.gw(m, a, **kw), mine)
        answers_direct = await steps(lambda m, a, **kw: self.direct(m, a, **kw), theirs)
        assert set(mine) == set(theirs)
        mapping = dict(sorted(((theirs[k], mine[k]) for k in theirs), key=lambda kv: -len(kv[0])))
        assert [norm(a, {}) for a in answers_gw] == [norm(a, mapping) for a in answers_direct]
        return answers_gw


@pytest.fixture
async def rpc17(rhodecode17, aiohttp_client, tmp_path) -> Rpc:
    """rcgate with RhodeCode 1.7.2 as its backend (like tests/integration/conftest.py's `rpc`)."""
    audit = tmp_path / "audit.jsonl"
    app = create_app(gateway_config(rhodecode17.url, audit, backend_dialect="rhodecode1"))
    return Rpc(await aiohttp_client(app), rhodecode17, audit)


@pytest.fixture
def calls(rpc17) -> Calls:
    return Calls(rpc17)


@pytest.fixture(scope="module")
def hg17(rhodecode17) -> Path:
    binary = hg_binary(rhodecode17)
    if binary is None:
        pytest.skip("no Mercurial found (neither RhodeCode 1.7.2's nor one on PATH) to serve a remote repository")
    return binary


@pytest.fixture(scope="module")
def remote(hg17, tmp_path_factory) -> Iterator[dict[str, str]]:
    """A real Mercurial repository with one commit (README), served over HTTP on 127.0.0.1."""
    path = tmp_path_factory.mktemp("rc17-remote") / "remote"
    node = new_hg_repo(hg17, path, {"README": "remote\n"})
    with served(hg17, path) as url:
        yield {"url": url, "node": node}


@pytest.fixture(scope="module")
def data(rhodecode17, remote) -> dict[str, Any]:
    """Objects made once, straight on the server: a user, a users group holding that user, a repository
    cloned from `remote` (a file, a changeset), an empty one, one inside a repository group, one the
    non-admin user administers, one the non-admin user may write to, and a locked one."""
    s = rhodecode17
    d: dict[str, Any] = {"user": unique("ru"), "group": unique("rg"), "repo": unique("rclone"),
                         "empty": unique("rempty"), "grouped": f"{unique('rgrp')}/{unique('rin')}",
                         "mine": unique("rmine"), "writable": unique("rwrite"), "locked": unique("rlocked"),
                         "free_name": unique("rfree"), "git": unique("rgit")}
    direct_ok(s, "create_user", {"username": d["user"], "email": f"{d['user']}@example.com",
                                 "password": "Secr3tPass", "firstname": "Every", "lastname": "Method"})
    direct_ok(s, "create_users_group", {"group_name": d["group"]})
    direct_ok(s, "add_user_to_users_group", {"usersgroupid": d["group"], "userid": d["user"]})
    direct_ok(s, "create_repo", {"repo_name": d["repo"], "repo_type": "hg", "clone_uri": remote["url"]})
    direct_ok(s, "create_repo", {"repo_name": d["empty"], "repo_type": "hg"})
    direct_ok(s, "create_repo", {"repo_name": d["grouped"], "repo_type": "hg"})  # the group is made too
    direct_ok(s, "create_repo", {"repo_name": d["git"], "repo_type": "git"})
    direct_ok(s, "create_repo", {"repo_name": d["mine"], "repo_type": "hg", "description": "the user's"})
    direct_ok(s, "create_repo", {"repo_name": d["writable"], "repo_type": "hg"})
    direct_ok(s, "create_repo", {"repo_name": d["locked"], "repo_type": "hg", "enable_locking": True})
    direct_ok(s, "grant_user_permission", {"repoid": d["mine"], "userid": s.user_username, "perm": "repository.admin"})
    direct_ok(s, "grant_user_permission", {"repoid": d["writable"], "userid": s.user_username,
                                           "perm": "repository.write"})
    direct_ok(s, "grant_user_permission", {"repoid": d["repo"], "userid": d["user"], "perm": "repository.write"})
    direct_ok(s, "grant_users_group_permission", {"repoid": d["repo"], "usersgroupid": d["group"],
                                                  "perm": "repository.read"})
    direct_ok(s, "lock", {"repoid": d["locked"], "locked": True, "userid": d["user"]})
    d["user_email"] = f"{d['user']}@example.com"
    d["user_id"] = direct_ok(s, "get_user", {"userid": d["user"]})["user_id"]
    d["me_id"] = direct_ok(s, "get_user", {}, key=s.user_key)["user_id"]
    d["group_id"] = direct_ok(s, "get_users_group", {"usersgroupid": d["group"]})["users_group_id"]
    direct_ok(s, "rescan_repos", {})  # anything left on disk by earlier runs is taken in now
    direct_ok(s, "invalidate_cache", {"repoid": d["repo"]})  # 1.7.2 updates last_changeset only then (or on pull)
    d["repo_id"] = direct_ok(s, "get_repo", {"repoid": d["repo"]})["repo_id"]
    d["raw_id"] = direct_ok(s, "get_repo", {"repoid": d["repo"]})["last_changeset"]["raw_id"]
    assert d["raw_id"] == remote["node"]  # the clone really holds the remote's commit
    return d


def fill(args: dict, data: dict) -> dict:
    """`$name` values are taken from `data`."""
    return {k: data[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}


# ----------------------------------------------------------------- reads and no-change calls, admin
# Grouped to keep the number of gateway start-ups low; every case is checked and all mismatches are
# reported together.
ADMIN_CASES: dict[str, list[tuple[str, dict]]] = {
    "server": [
        ("show_ip", {"userid": "$user"}),
        ("show_ip", {"userid": "$user_id"}),
        ("show_ip", {}),  # 1.7.2: userid is not optional
        ("show_ip", {"userid": "no-such-user"}),
        ("rescan_repos", {}),
        ("rescan_repos", {"remove_obsolete": False, "bogus": 1}),  # 1.x ignores unknown arguments
        ("invalidate_cache", {"repoid": "$repo"}),
        ("invalidate_cache", {"repoid": "$repo_id"}),
        ("invalidate_cache", {"repoid": "no-such-repo"}),
        ("invalidate_cache", {}),
        ("pull", {"repoid": "$repo"}),  # nothing new on the remote
        ("pull", {"repoid": "$empty"}),  # no clone_uri: the server's own failure text
        ("pull", {"repoid": "no-such-repo"}),
        ("pull", {}),
        ("lock", {"repoid": "$repo"}),  # `locked` omitted: a query
        ("lock", {"repoid": "$locked"}),
        ("lock", {"repoid": "$repo", "userid": "no-such-user"}),
        ("lock", {"repoid": "no-such-repo", "locked": True}),
        ("lock", {}),
        ("get_locks", {}),
        ("get_locks", {"userid": "$user"}),
        ("get_locks", {"userid": "$user_id"}),
        ("get_locks", {"userid": "no-such-user"}),
    ],
    "users": [
        ("get_user", {"userid": "$user"}),
        ("get_user", {"userid": "$user_id"}),
        ("get_user", {}),  # the caller
        ("get_user", {"userid": "no-such-user"}),
        ("get_users", {}),
        ("get_users", {"bogus": True}),
        ("create_user", {"username": "$user", "email": "other@example.com"}),  # name taken
        ("create_user", {"username": "$free_name", "email": "$user_email"}),  # email taken
        ("create_user", {"username": "$free_name"}),  # missing email
        ("update_user", {"userid": "no-such-user", "lastname": "x"}),
        ("update_user", {"lastname": "x"}),
        ("update_user", {"userid": "default", "lastname": "x"}),  # forbidden
        ("delete_user", {"userid": "no-such-user"}),
        ("delete_user", {}),
    ],
    "users groups": [
        ("get_users_group", {"usersgroupid": "$group"}),
        ("get_users_group", {"usersgroupid": "$group_id"}),
        ("get_users_group", {"usersgroupid": "no-such-group"}),
        ("get_users_group", {}),
        ("get_users_groups", {}),
        ("create_users_group", {"group_name": "$group"}),  # taken
        ("create_users_group", {}),
        ("add_user_to_users_group", {"usersgroupid": "$group", "userid": "$user"}),  # already in
        ("add_user_to_users_group", {"usersgroupid": "$group", "userid": "no-such-user"}),
        ("add_user_to_users_group", {"usersgroupid": "no-such-group", "userid": "$user"}),
        ("add_user_users_group", {"usersgroupid": "$group", "userid": "$user"}),  # already in
        ("add_user_users_group", {"usersgroupid": "no-such-group", "userid": "$user"}),
        ("add_user_users_group", {"usersgroupid": "$group"}),
        ("remove_user_from_users_group", {"usersgroupid": "$group", "userid": "$user_name_1"}),  # not in it
        ("remove_user_from_users_group", {"usersgroupid": "no-such-group", "userid": "$user"}),
        ("remove_user_from_users_group", {"userid": "$user"}),
    ],
    "repositories": [
        ("get_repo", {"repoid": "$repo"}),
        ("get_repo", {"repoid": "$repo_id"}),
        ("get_repo", {"repoid": "$grouped"}),
        ("get_repo", {"repoid": "$git"}),
        ("get_repo", {"repoid": "$locked"}),
        ("get_repo", {"repoid": "no-such-repo"}),
        ("get_repo", {}),
        ("get_repos", {}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "$raw_id", "root_path": "", "ret_type": "files"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "dirs"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "bogus"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "no/such/dir"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "deadbeef", "root_path": ""}),
        ("get_repo_nodes", {"repoid": "$empty", "revision": "tip", "root_path": ""}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip"}),  # missing root_path
        ("get_repo_nodes", {"repoid": "no-such-repo", "revision": "tip", "root_path": ""}),
        ("create_repo", {"repo_name": "$repo"}),  # taken
        ("create_repo", {"repo_name": "$free_name", "owner": "no-such-user"}),
        ("create_repo", {}),
        ("update_repo", {"repoid": "$repo", "description": "x"}),  # 1.7.2's update_repo always fails
        ("update_repo", {"repoid": "$empty"}),
        ("update_repo", {"repoid": "no-such-repo", "description": "x"}),
        ("update_repo", {"repoid": "$repo", "group": "no-such-group"}),
        ("update_repo", {}),
        ("fork_repo", {"repoid": "$repo", "fork_name": "$empty"}),  # taken
        ("fork_repo", {"repoid": "no-such-repo", "fork_name": "$free_name"}),
        ("fork_repo", {"repoid": "$repo"}),
        ("delete_repo", {"repoid": "no-such-repo"}),
        ("delete_repo", {}),
        ("grant_user_permission", {"repoid": "$repo", "userid": "$user", "perm": "repository.bogus"}),
        ("grant_user_permission", {"repoid": "$repo", "userid": "no-such-user", "perm": "repository.read"}),
        ("grant_user_permission", {"repoid": "$repo", "userid": "$user"}),
        ("revoke_user_permission", {"repoid": "$empty", "userid": "$user"}),  # had none: nothing changes
        ("revoke_user_permission", {"repoid": "$repo", "userid": "no-such-user"}),
        ("revoke_user_permission", {"repoid": "no-such-repo", "userid": "$user"}),
        ("grant_users_group_permission", {"repoid": "$repo", "usersgroupid": "no-such-group",
                                          "perm": "repository.read"}),
        ("grant_users_group_permission", {"repoid": "$repo", "usersgroupid": "$group", "perm": "repository.x"}),
        ("revoke_users_group_permission", {"repoid": "$empty", "usersgroupid": "$group"}),  # had none
        ("revoke_users_group_permission", {"repoid": "no-such-repo", "usersgroupid": "$group"}),
        ("revoke_users_group_permission", {"repoid": "$repo"}),
    ],
    "gists": [
        ("create_gist", {"files": {"a.txt": {"content": "x"}}, "owner": "no-such-user"}),  # refused
        ("create_gist", {"description": "no files"}),
    ],
    "bad key": [  # with a key the server does not know: see the test below
        ("get_user", {"userid": "$user"}),
        ("get_repos", {}),
    ],
}

# As the non-admin user: reads, and calls the server refuses to a non-admin (nothing changes).
USER_CASES: dict[str, list[tuple[str, dict]]] = {
    "reads": [
        ("get_user", {}),
        ("get_user", {"userid": "$me_id"}),
        ("get_user", {"userid": "$user"}),  # someone else
        ("get_repos", {}),
        ("get_repo", {"repoid": "$mine"}),  # administers it
        ("get_repo", {"repoid": "$writable"}),  # may only write: "does not exist"
        ("invalidate_cache", {"repoid": "$writable"}),
        ("invalidate_cache", {"repoid": "$empty"}),
        ("lock", {"repoid": "$writable"}),
        ("lock", {"repoid": "$writable", "userid": "$user"}),  # someone else's lock
        ("lock", {"repoid": "$empty", "locked": True}),
        ("get_locks", {}),
        ("get_locks", {"userid": "$me_id"}),
        ("get_locks", {"userid": "$user"}),
        ("create_repo", {"repo_name": "$free_name", "owner": "$user"}),  # only an admin names an owner
        ("create_repo", {"repo_name": "$repo"}),  # taken
        ("update_repo", {"repoid": "$writable", "description": "x"}),
        ("update_repo", {"repoid": "$mine", "description": "x"}),  # 1.7.2's update_repo always fails
        ("delete_repo", {"repoid": "$writable"}),
        ("fork_repo", {"repoid": "$repo", "fork_name": "$empty"}),  # taken
        ("fork_repo", {"repoid": "$mine", "fork_name": "$free_name", "owner": "$user"}),
        ("create_gist", {"files": {"a.txt": {"content": "x"}}, "owner": "no-such-user"}),
    ],
    # admin-only methods: the server's own refusal, whatever the arguments
    "denied": [
        ("pull", {"repoid": "$repo"}),
        ("rescan_repos", {}),
        ("show_ip", {"userid": "$me_id"}),
        ("get_users", {}),
        ("create_user", {"username": "$free_name", "email": "x@example.com"}),
        ("update_user", {"userid": "$me_id", "lastname": "x"}),
        ("delete_user", {"userid": "$user"}),
        ("get_users_group", {"usersgroupid": "$group"}),
        ("get_users_groups", {}),
        ("create_users_group", {"group_name": "$free_name"}),
        ("add_user_to_users_group", {"usersgroupid": "$group", "userid": "$me_id"}),
        ("add_user_users_group", {"usersgroupid": "$group", "userid": "$me_id"}),
        ("remove_user_from_users_group", {"usersgroupid": "$group", "userid": "$user"}),
        ("get_repo_nodes", {"repoid": "$mine", "revision": "tip", "root_path": ""}),
        ("grant_user_permission", {"repoid": "$mine", "userid": "$user", "perm": "repository.read"}),
        ("revoke_user_permission", {"repoid": "$mine", "userid": "$me_id"}),
        ("grant_users_group_permission", {"repoid": "$mine", "usersgroupid": "$group", "perm": "repository.read"}),
        ("revoke_users_group_permission", {"repoid": "$mine", "usersgroupid": "$group"}),
    ],
}


# RhodeCode 1.7.2's methods decorated @HasPermissionAllDecorator('hg.admin') (the doc alias with them)
ADMIN_ONLY = {"pull", "rescan_repos", "show_ip", "get_users", "create_user", "update_user", "delete_user",
              "get_users_group", "get_users_groups", "create_users_group", "add_user_to_users_group",
              "add_user_users_group", "remove_user_from_users_group", "get_repo_nodes", "grant_user_permission",
              "revoke_user_permission", "grant_users_group_permission", "revoke_users_group_permission"}


async def all_equal(calls: Calls, data: dict, cases: list[tuple[str, dict]], key: str | None = None) -> list[dict]:
    """Each case through rcgate and directly; every mismatch reported at once."""
    answers, mismatches = [], []
    for i, (method, args) in enumerate(cases):
        args = fill(args, data)
        through = await calls.gw(method, args, key=key, id=i)
        direct = await calls.direct(method, args, key=key, id=i)
        if through != direct:
            mismatches.append({"call": (method, args), "rcgate": through, "rhodecode17": direct})
        answers.append(through)
    assert mismatches == []
    assert [a["id"] for a in answers] == list(range(len(answers)))
    return answers


@pytest.fixture
def case_data(data, rhodecode17) -> dict[str, Any]:
    return {**data, "user_name_1": rhodecode17.user_username}


@pytest.mark.parametrize("group", list(ADMIN_CASES))
async def test_admin_reads_and_refusals_equal_rhodecode17(calls, case_data, rhodecode17, group):
    key = "0" * 40 if group == "bad key" else None  # a key no user has
    answers = await all_equal(calls, case_data, ADMIN_CASES[group], key=key)
    if group == "bad key":
        assert [a["error"] for a in answers] == ["Invalid API KEY"] * len(answers)
    elif group == "gists":  # only failures: a gist that was made could not be compared twice
        assert all(a["error"] is not None for a in answers)
    else:
        assert any(a["error"] is None for a in answers) and any(a["error"] is not None for a in answers)
    errors = [a["error"] for a in answers if a["error"] is not None]
    assert DENIED not in errors  # the admin is never refused


@pytest.mark.parametrize("group", list(USER_CASES))
async def test_non_admin_calls_equal_rhodecode17(calls, case_data, rhodecode17, group):
    answers = await all_equal(calls, case_data, USER_CASES[group], key=rhodecode17.user_key)
    if group == "denied":
        assert [a["error"] for a in answers] == [DENIED] * len(answers)
        assert {m for m, _ in USER_CASES[group]} == ADMIN_ONLY
    else:
        assert any(a["error"] is None for a in answers) and any(a["error"] is not None for a in answers)


async def test_reads_have_the_expected_content(calls, data, remote, rhodecode17):
    """The differential reads above compare like with like; make sure they read real data."""
    nodes = await calls.same("get_repo_nodes", {"repoid": data["repo"], "revision": "tip", "root_path": ""})
    assert nodes["result"] == [{"name": "README", "type": "file"}]
    repo = (await calls.same("get_repo", {"repoid": data["repo"]}))["result"]
    assert repo["repo_name"] == data["repo"] and repo["clone_uri"] == remote["url"]
    assert repo["last_changeset"]["raw_id"] == remote["node"]
    assert {(m.get("username") or m.get("group_name"), m["type"], m["permission"]) for m in repo["members"]} >= {
        (data["user"], "user", "repository.write"), (data["group"], "users_group", "repository.read")}
    group = (await calls.same("get_users_group", {"usersgroupid": data["group"]}))["result"]
    assert [m["username"] for m in group["members"]] == [data["user"]]
    user = (await calls.same("get_user", {"userid": data["user"]}))["result"]
    assert (user["firstname"], user["lastname"], user["email"]) == ("Every", "Method", f"{data['user']}@example.com")
    locks = (await calls.same("get_locks", {}))["result"]
    assert data["locked"] in [r["repo_name"] for r in locks]
    lock = (await calls.same("lock", {"repoid": data["locked"]}))["result"]
    assert lock["locked"] is True and lock["locked_by"] == data["user"] and float(lock["locked_since"]) > 0
    ip = (await calls.same("show_ip", {"userid": data["user"]}))["result"]
    assert set(ip) == {"ip_addr_server", "user_ips"}
    cache = await calls.same("invalidate_cache", {"repoid": data["repo"]})
    assert cache["result"] == f"Caches of repository `{data['repo']}` was invalidated"
    pulled = await calls.same("pull", {"repoid": data["repo"]})
    assert pulled["result"] == f"Pulled from `{data['repo']}`"
    no_pull = await calls.same("pull", {"repoid": data["empty"]})
    assert no_pull["error"] == f"Unable to pull changes from `{data['empty']}`"
    # RhodeCode 1.7.2's own update_repo fails on every call; the repository is unchanged
    failed = await calls.same("update_repo", {"repoid": data["repo"], "description": "never"})
    assert failed["error"] == f"failed to update repo `{data['repo']}`"
    assert (await calls.same("get_repo", {"repoid": data["repo"]}))["result"]["description"] == repo["description"]
    missing = await calls.same("get_repo_nodes", {"repoid": data["repo"], "revision": "tip"})
    assert missing["error"] == "Missing non optional `root_path` arg in JSON DATA"
    unknown = await calls.same("get_repo", {"repoid": "no-such-repo"})
    assert unknown["error"] == "repository `no-such-repo` does not exist"
    denied = await calls.same("get_users", {}, key=rhodecode17.user_key)
    assert denied == {"id": 7, "result": None, "error": DENIED}
    # the doc spelling is no method of the 1.7.2 server itself; rcgate sends the method it stands for
    raw = await calls.rpc.direct("add_user_users_group", {"usersgroupid": data["group"], "userid": data["user"]})
    assert raw == {"id": 1, "result": None, "error": "No such method: add_user_users_group"}
    alias = await calls.same("add_user_users_group", {"usersgroupid": data["group"], "userid": data["user"]})
    assert alias["result"] == {"success": False, "msg": "User is already in that group"}


async def test_envelope_variants_equal_rhodecode17(calls, rhodecode17):
    """What 1.7.2 makes of odd envelopes (args not an object, ids of other types, missing fields, private or
    unknown method names), sent as the same raw body through rcgate and directly."""
    key = rhodecode17.admin_key
    bodies = [
        {"id": 1, "api_key": key, "method": "get_user", "args": None},
        {"id": 2, "api_key": key, "method": "get_user", "args": ["x"]},
        {"id": 3, "api_key": key, "method": "get_user", "args": "x"},
        {"id": "four", "api_key": key, "method": "get_user", "args": {}},
        {"id": None, "api_key": key, "method": "get_user", "args": {}},
        {"id": 6, "api_key": key, "method": "get_user"},
        {"id": 7, "method": "get_user", "args": {}},
        {"id": 8, "api_key": key, "method": "no_such_method", "args": {}},
        {"id": 9, "api_key": key, "method": "_find_method", "args": {}},
        {"id": 10, "api_key": key, "method": "get_server_info", "args": {}},  # a modern method 1.x never had
    ]
    answers = []
    for body in bodies:
        through = await calls.rpc.post(f"/{RC1}/_admin/api", json.dumps(body).encode())
        assert through == await calls.rpc.direct_raw(body), body
        answers.append(through)
    assert [a["result"]["username"] for a in answers[:5]] == [rhodecode17.admin_username] * 5
    assert [a["id"] for a in answers[:5]] == [1, 2, 3, "four", None]
    assert [a["error"] for a in answers[5:]] == [
        "Incorrect JSON query missing 'args'", "Incorrect JSON query missing 'api_key'",
        "No such method: no_such_method", "Method not allowed", "No such method: get_server_info"]


async def test_older_spellings_are_renamed_for_the_server(calls, data):
    """Not as sent, by design (gateway/app.py: "older spellings renamed"): a RhodeCode 1.3 caller's
    `repo_name` reaches 1.7.2 as `repoid`, which 1.7.2 itself would not accept."""
    args = {"repo_name": data["repo"], "revision": "tip", "root_path": ""}
    direct = await calls.direct("get_repo_nodes", args)
    assert direct["error"] == "Missing non optional `repoid` arg in JSON DATA"
    through = await calls.gw("get_repo_nodes", args)
    assert through == await calls.direct("get_repo_nodes", {"repoid": data["repo"], "revision": "tip",
                                                            "root_path": ""})
    assert through["result"] == [{"name": "README", "type": "file"}]


# ----------------------------------------------------------------------------------------- writes
async def test_user_lifecycle_equals_rhodecode17(calls):
    async def steps(call, names):
        names["u"] = u = unique("xu")
        names["v"] = v = unique("xv")
        names["r"] = r = unique("xowned")
        return [
            await call("create_user", {"username": u, "email": f"{u}@example.com", "password": "Secr3tPass",
                                       "firstname": "Ann", "lastname": "Lee", "active": True, "admin": False}),
            await call("create_user", {"username": v, "email": f"{u}@example.com"}),  # email taken
            await call("create_user", {"username": u, "email": f"{v}@example.com"}),  # name taken
            await call("update_user", {"userid": u, "username": v, "email": f"{v}@example.com", "admin": True,
                                       "firstname": "Bo", "lastname": "Ng", "active": False, "password": "N3wSecret"}),
            await call("get_user", {"userid": v}),
            await call("get_user", {"userid": u}),  # the old name
            await call("create_repo", {"repo_name": r, "owner": v}),
            await call("delete_user", {"userid": v}),  # still owns a repository
            await call("delete_repo", {"repoid": r}),
            await call("delete_user", {"userid": v}),
            await call("delete_user", {"userid": v}),  # gone
        ]

    answers = await calls.twin(steps)
    created = answers[0]["result"]
    assert created["msg"].startswith("created new user `xu-") and created["user"]["firstname"] == "Ann"
    assert answers[1]["error"].startswith("email `xu-") and answers[2]["error"].endswith("already exist")
    updated = answers[3]["result"]["user"]
    assert (updated["admin"], updated["active"], updated["lastname"]) == (True, False, "Ng")
    assert answers[4]["result"]["username"].startswith("xv-") and answers[5]["error"].endswith("does not exist")
    assert answers[7]["error"] == f"failed to delete ID:{updated['user_id']} {updated['username']}"
    assert answers[9]["result"] == {"msg": f"deleted user ID:{updated['user_id']} {updated['username']}",
                                    "user": None}
    assert answers[10]["error"] == f"user `{updated['username']}` does not exist"


async def test_users_group_lifecycle_equals_rhodecode17(calls, data):
    user = data["user"]

    async def steps(call, names):
        names["g"] = g = unique("xug")
        names["r"] = r = unique("xugrepo")
        return [
            await call("create_users_group", {"group_name": g, "owner": user, "active": False}),
            await call("create_users_group", {"group_name": g}),  # taken
            await call("add_user_users_group", {"usersgroupid": g, "userid": user}),  # the doc spelling
            await call("add_user_to_users_group", {"usersgroupid": g, "userid": user}),  # already in
            await call("get_users_group", {"usersgroupid": g}),
            await call("remove_user_from_users_group", {"usersgroupid": g, "userid": user}),
            await call("remove_user_from_users_group", {"usersgroupid": g, "userid": user}),  # not any more
            await call("add_user_to_users_group", {"usersgroupid": g, "userid": user}),
            await call("create_repo", {"repo_name": r}),
            await call("grant_users_group_permission", {"repoid": r, "usersgroupid": g, "perm": "repository.write"}),
            await call("grant_users_group_permission", {"repoid": r, "usersgroupid": g, "perm": "repository.admin"}),
            await call("get_repo", {"repoid": r}),
            await call("revoke_users_group_permission", {"repoid": r, "usersgroupid": g}),
            await call("get_repo", {"repoid": r}),
            await call("delete_repo", {"repoid": r}),
        ]

    answers = await calls.twin(steps)
    assert answers[0]["result"]["msg"].startswith("created new user group `xug-")
    assert answers[0]["result"]["users_group"]["active"] is False
    assert answers[1]["error"].endswith("already exist")
    assert answers[2]["result"]["success"] is True and answers[2]["result"]["msg"].startswith(f"added member `{user}`")
    assert [answers[i]["result"]["success"] for i in (3, 5, 6, 7)] == [False, True, False, True]
    assert [m["username"] for m in answers[4]["result"]["members"]] == [user]
    members = {m.get("group_name"): m["permission"] for m in answers[11]["result"]["members"]}
    assert members[answers[0]["result"]["users_group"]["group_name"]] == "repository.admin"
    assert all(m["type"] == "user" for m in answers[13]["result"]["members"])


async def test_repository_lifecycle_equals_rhodecode17(calls, data, remote):
    user, group = data["user"], data["group"]

    async def steps(call, names):
        names["r"] = r = unique("xr")
        names["f"] = f = unique("xfork")
        names["p"] = p = unique("xparent")
        names["i"] = leaf = unique("xinside")
        inside = f"{p}/{leaf}"
        return [
            await call("create_repo", {"repo_name": r, "repo_type": "hg", "description": "d", "private": True,
                                       "clone_uri": remote["url"], "landing_rev": "tip", "enable_statistics": True,
                                       "enable_locking": True, "enable_downloads": True, "owner": user}),
            await call("create_repo", {"repo_name": inside, "repo_type": "hg"}),  # makes the repository group
            await call("create_repo", {"repo_name": r}),  # taken
            await call("get_repo", {"repoid": r}),
            await call("get_repo", {"repoid": inside}),
            await call("update_repo", {"repoid": r, "name": unique("never"), "description": "new"}),
            await call("fork_repo", {"repoid": r, "fork_name": f, "owner": user, "description": "fork",
                                     "copy_permissions": True, "private": False, "landing_rev": "tip"}),
            await call("fork_repo", {"repoid": r, "fork_name": f}),  # taken by a fork
            await call("get_repo", {"repoid": f}),
            await call("grant_user_permission", {"repoid": f, "userid": user, "perm": "repository.admin"}),
            await call("grant_user_permission", {"repoid": f, "userid": user, "perm": "repository.read"}),  # update
            await call("grant_users_group_permission",
                       {"repoid": f, "usersgroupid": group, "perm": "repository.write"}),
            await call("get_repo", {"repoid": f}),
            await call("revoke_user_permission", {"repoid": f, "userid": user}),
            await call("revoke_users_group_permission", {"repoid": f, "usersgroupid": group}),
            await call("get_repo_nodes", {"repoid": f, "revision": "tip", "root_path": ""}),
            await call("get_repo_nodes", {"repoid": inside, "revision": "tip", "root_path": ""}),
            await call("delete_repo", {"repoid": r}),  # still has a fork
            await call("delete_repo", {"repoid": r, "forks": "detach"}),
            await call("get_repo", {"repoid": f}),
            await call("delete_repo", {"repoid": f}),
            await call("delete_repo", {"repoid": inside}),
            await call("get_repo", {"repoid": f}),
            # a git repository in a new repository group: 1.7.2 makes no folder for it and fails
            await call("create_repo", {"repo_name": f"{names.setdefault('gp', unique('xgp'))}/"
                                                    f"{names.setdefault('git', unique('xgit'))}", "repo_type": "git"}),
        ]

    answers = await calls.twin(steps)
    created = answers[0]["result"]
    assert created["msg"].startswith("Created new repository `xr-") and created["repo"]["private"] is True
    assert created["repo"]["owner"] == user and created["repo"]["clone_uri"] == remote["url"]
    assert answers[2]["error"].endswith("already exist")
    got = answers[3]["result"]  # every argument arrived
    assert (got["description"], got["landing_rev"], got["enable_statistics"], got["enable_locking"],
            got["enable_downloads"]) == ("d", "tip", True, True, True)
    assert answers[5]["error"].startswith("failed to update repo `xr-")  # 1.7.2's own bug
    assert answers[6]["result"]["success"] is True and answers[7]["error"].startswith("fork `xfork-")
    assert answers[8]["result"]["fork_of"] == created["repo"]["repo_name"]
    assert {(m.get("username") or m.get("group_name"), m["permission"]) for m in answers[12]["result"]["members"]} >= {
        (user, "repository.read"), (group, "repository.write")}
    assert answers[15]["result"] == [{"name": "README", "type": "file"}]
    assert answers[17]["error"] is not None  # attached forks
    assert answers[18]["result"]["msg"].endswith("Detached 1 forks") and answers[19]["result"]["fork_of"] is None
    assert answers[22]["error"].endswith("does not exist")


async def test_non_admin_repository_lifecycle_equals_rhodecode17(calls, rhodecode17):
    key = rhodecode17.user_key

    async def steps(call, names):
        names["r"] = r = unique("xnr")
        names["f"] = f = unique("xnf")
        return [
            await call("create_repo", {"repo_name": r, "description": "by a non-admin"}, key=key),
            await call("get_repo", {"repoid": r}, key=key),
            await call("fork_repo", {"repoid": r, "fork_name": f}, key=key),
            await call("invalidate_cache", {"repoid": f}, key=key),
            await call("lock", {"repoid": r, "locked": True}, key=key),
            await call("lock", {"repoid": r}, key=key),
            await call("lock", {"repoid": r, "locked": False}, key=key),
            await call("delete_repo", {"repoid": f}, key=key),
            await call("delete_repo", {"repoid": r}, key=key),
        ]

    answers = await calls.twin(steps)
    assert answers[0]["result"]["repo"]["owner"] == rhodecode17.user_username
    assert answers[4]["result"]["locked_by"] == rhodecode17.user_username and answers[5]["result"]["locked"] is True
    assert answers[8]["result"]["success"] is True


async def test_lock_lifecycle_equals_rhodecode17(calls, data):
    user = data["user"]

    async def steps(call, names):
        names["r"] = r = unique("xl")
        await call("create_repo", {"repo_name": r, "enable_locking": True})
        answers = [
            await call("lock", {"repoid": r}),
            await call("lock", {"repoid": r, "locked": True}),
            await call("lock", {"repoid": r}),
            await call("get_repo", {"repoid": r}),
            await call("get_locks", {}),
            await call("lock", {"repoid": r, "locked": "true", "userid": user}),  # str2bool; someone else
            await call("get_locks", {"userid": user}),
            await call("lock", {"repoid": r, "locked": False}),
            await call("get_locks", {"userid": user}),
            await call("lock", {"repoid": r}),
        ]
        await call("delete_repo", {"repoid": r})
        return answers

    answers = await calls.twin(steps)
    assert answers[0]["result"]["locked"] is False and answers[0]["result"]["msg"].endswith("not locked.")
    assert answers[1]["result"]["locked"] is True and isinstance(answers[1]["result"]["locked_since"], float)
    # the query reads the time back from the database: 1.7.2 answers it as Python 2's str() of the float
    assert abs(float(answers[2]["result"]["locked_since"]) - answers[1]["result"]["locked_since"]) < 0.01
    assert answers[3]["result"]["locked_by"]["username"] == calls.server.admin_username
    locked_repo = answers[3]["result"]["repo_name"]
    assert locked_repo in [r["repo_name"] for r in answers[4]["result"]]
    assert answers[5]["result"]["locked_by"] == user
    assert locked_repo in [r["repo_name"] for r in answers[6]["result"]]
    assert locked_repo not in [r["repo_name"] for r in answers[8]["result"]]
    assert answers[9]["result"]["locked"] is False


async def test_gist_lifecycle_equals_rhodecode17(calls, data, rhodecode17):
    async def steps(call, names):
        files = {"one.py": {"content": "print(1)\n", "lexer": "python"}, "two.txt": {"content": "2\n"}}
        return [
            await call("create_gist", {"files": files, "owner": data["user"], "gist_type": "private",
                                       "lifetime": 60, "description": "twin"}),
            await call("create_gist", {"files": {"pub.txt": {"content": "public\n", "lexer": None}}}),
            await call("create_gist", {"files": {"mine.txt": {"content": "mine\n"}}, "lifetime": 5},
                       key=rhodecode17.user_key),
        ]

    answers = await calls.twin(steps)
    private, public, users = (a["result"]["gist"] for a in answers)
    assert all(a["result"]["msg"] == "created new gist" for a in answers)
    assert private["type"] == "private" and private["description"] == "twin" and private["expires"] != -1
    assert public["type"] == "public" and public["expires"] == -1 and public["access_id"] == str(public["gist_id"])
    for gist in (private, public, users):
        assert gist["url"] == f"{rhodecode17.url}/_admin/gists/{gist['access_id']}"
    assert users["expires"] != -1


async def test_pull_of_new_changes_equals_rhodecode17(calls, hg17, tmp_path):
    """Each side: a clone of its own remote, a new commit on that remote, `pull`: the new commit arrives.
    The remotes' commits have fixed dates, so both sides hold the same changesets."""
    nodes: dict[str, list[str]] = {}

    async def steps(call, names):
        names["r"] = r = unique("xpull")
        remote = tmp_path / r
        first = new_hg_repo(hg17, remote, {"a.txt": "a\n"})
        with served(hg17, remote) as url:
            created = await call("create_repo", {"repo_name": r, "repo_type": "hg", "clone_uri": url})
            (remote / "b.txt").write_text("b\n")
            second = commit(hg17, remote, "more")
            nodes[r] = [first, second]
            await call("invalidate_cache", {"repoid": r})  # 1.7.2 updates last_changeset only then (or on pull)
            before = await call("get_repo", {"repoid": r})
            pulled = await call("pull", {"repoid": r})
            again = await call("pull", {"repoid": r})
            after = await call("get_repo_nodes", {"repoid": r, "revision": "tip", "root_path": ""})
            repo = await call("get_repo", {"repoid": r})
        gone = await call("pull", {"repoid": r})  # the remote is not served any more
        await call("delete_repo", {"repoid": r})
        names["url"] = url
        return [created, before, pulled, again, after, repo, gone]

    answers = await calls.twin(steps)
    (first, second), = [v for k, v in nodes.items() if answers[0]["result"]["repo"]["repo_name"] == k]
    assert len({tuple(v) for v in nodes.values()}) == 1  # both sides pulled the same changesets
    assert answers[1]["result"]["last_changeset"]["raw_id"] == first
    assert answers[2]["result"] == f"Pulled from `{answers[0]['result']['repo']['repo_name']}`"
    assert answers[4]["result"] == [{"name": "a.txt", "type": "file"}, {"name": "b.txt", "type": "file"}]
    assert answers[5]["result"]["last_changeset"]["raw_id"] == second != first
    assert answers[6]["error"].startswith("Unable to pull changes from `xpull-")


async def test_rescan_repos_equals_rhodecode17(calls, rhodecode17):
    """Repositories put on disk behind the server's back are added; removed ones are cleaned up."""
    binary, home = hg_binary(rhodecode17), rc17_home(rhodecode17)
    repos = home / "repos" if home else None
    if binary is None or repos is None or not repos.is_dir():  # an external server: nothing to put on disk
        answer = await calls.same("rescan_repos", {})
        assert answer["result"] == {"added": [], "removed": []}
        pytest.skip("the server's repository folder is unknown (RCGATE_RHODECODE17_HOME) or there is no hg: "
                    "only an empty rescan was compared")

    async def steps(call, names):
        await calls.direct("rescan_repos", {})  # anything left on disk by others is taken in first
        names["d"] = name = unique("ondisk")
        hg(binary, "init", repos / name)
        added = await call("rescan_repos", {})
        again = await call("rescan_repos", {"remove_obsolete": False})
        present = await call("get_repo", {"repoid": name})
        shutil.rmtree(repos / name)
        kept = await call("rescan_repos", {})
        removed = await call("rescan_repos", {"remove_obsolete": True})
        return [added, again, present, kept, removed, await call("get_repo", {"repoid": name})]

    answers = await calls.twin(steps)
    name = answers[2]["result"]["repo_name"]
    assert answers[0]["result"] == {"added": [name], "removed": []}
    assert answers[1]["result"] == {"added": [], "removed": []}
    assert answers[3]["result"] == {"added": [], "removed": []}
    assert answers[4]["result"] == {"added": [], "removed": [name]}
    assert answers[5]["error"] == f"repository `{name}` does not exist"


# ------------------------------------------------------------------------- values arrive intact
TRICKY = {"firstname": "A+B %41 & Zoë", "lastname": "x%2By + z %zz 100%", "local": "a+b%41&c"}


async def test_values_with_plus_and_percent_arrive_intact(calls, rhodecode17):
    """1.x URL-decodes the whole body before parsing it: through rcgate every `+`, `%` and `%41` is stored
    as sent; the very same body sent without escaping is stored decoded (`+` a space, `%41` an `A`)."""
    stored = {}
    for side, call in (("rcgate", calls.gw), ("raw", calls.direct)):
        name = unique(f"plus{side}")
        sent = {"username": name, "email": f"{name}.{TRICKY['local']}@example.com",
                "firstname": TRICKY["firstname"], "lastname": TRICKY["lastname"]}
        answer = await call("create_user", {**sent, "password": "Secr3tPass"})
        assert answer["error"] is None, answer
        got = direct_ok(rhodecode17, "get_user", {"userid": name})  # the lookup value has no `+` / `%`
        stored[side] = (sent, {k: got[k] for k in ("username", "email", "firstname", "lastname")}, answer)
        direct_ok(rhodecode17, "delete_user", {"userid": name})

    sent, got, answer = stored["rcgate"]
    assert got == sent  # exactly as sent
    assert {k: answer["result"]["user"][k] for k in got} == sent  # and so answered
    sent, got, _ = stored["raw"]
    decoded = {k: urllib.parse.unquote_plus(v) for k, v in sent.items()}
    decoded["email"] = decoded["email"].lower()  # 1.7.2 stores an email in lower case
    assert got == decoded != sent  # what the server does to a raw body
    assert got["firstname"] == "A B A & Zoë" and "+" not in got["email"]


def _login(server, username: str, password: str) -> bool:
    """A login on the server's own web form (/_admin/login): True when it redirects (success)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": username, "password": password, "remember": "False"}).encode()
    try:
        with opener.open(f"{server.url}/_admin/login", form, timeout=60) as res:
            return False if res.status == 200 else pytest.fail(f"login answered HTTP {res.status}")
    except urllib.error.HTTPError as exc:
        assert exc.code == 302, exc.code
        return True


async def test_password_with_plus_and_percent_arrives_intact(calls, rhodecode17):
    """The password a user gets through rcgate is the one sent: the server's login form accepts exactly
    it; the same body sent without escaping leaves the user a URL-decoded password instead."""
    password = "Pa+ss %41w&rd%"
    decoded = urllib.parse.unquote_plus(password)
    assert decoded != password
    through, raw, updated = unique("pwgw"), unique("pwraw"), unique("pwupd")
    assert (await calls.gw("create_user", {"username": through, "email": f"{through}@example.com",
                                           "password": password}))["error"] is None
    assert (await calls.direct("create_user", {"username": raw, "email": f"{raw}@example.com",
                                               "password": password}))["error"] is None
    assert (await calls.gw("create_user", {"username": updated, "email": f"{updated}@example.com",
                                           "password": "Plain1Pass"}))["error"] is None
    assert (await calls.gw("update_user", {"userid": updated, "password": password}))["error"] is None
    try:
        assert _login(rhodecode17, through, password) is True
        assert _login(rhodecode17, through, decoded) is False
        assert _login(rhodecode17, updated, password) is True
        assert _login(rhodecode17, updated, "Plain1Pass") is False
        assert _login(rhodecode17, raw, password) is False  # without escaping the server stored another one
        assert _login(rhodecode17, raw, decoded) is True
    finally:
        for name in (through, raw, updated):
            direct_ok(rhodecode17, "delete_user", {"userid": name})


# ------------------------------------------------------------------------------------ completeness
def test_every_rhodecode17_method_was_exercised(request):
    """Last in this module: every method of the rhodecode1 list went through rcgate to RhodeCode 1.7.2."""
    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    assert EXERCISED == documented(RC1), {"missing": sorted(documented(RC1) - EXERCISED),
                                          "not documented": sorted(EXERCISED - documented(RC1))}
    assert len(documented(RC1)) == 29
    # every method got an error answer, and a result wherever 1.7.2 can give one (its update_repo never does)
    assert FAILED == documented(RC1)
    assert SUCCEEDED == documented(RC1) - {"update_repo"}, sorted(documented(RC1) - SUCCEEDED)
