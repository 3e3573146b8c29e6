"""Every documented Kallithea method, differentially: through rcgate (kallithea dialect) the answer
equals the answer of the real Kallithea 0.7.0 called directly (after JSON parsing), on the same data.

- reads (and refused calls, which change nothing): the same call twice, answers compared exactly;
- writes: the same steps on twin objects (`twin`), answers compared after `normalised` (names
  mapped, ids and timestamps blanked);
- pull requests: Kallithea 0.7 has no API method to create one, so get_pullrequest,
  comment_pullrequest and edit_reviewers are compared on their error answers (a non-existent id,
  and edit_reviewers without add/remove).

Every call goes through `Calls`, which records the method; the last test checks that the recorded
set is exactly the kallithea list of mappings/documented.yaml. The helpers here are also used by
test_every_method_rhodecode1.py and test_every_method_rhodecode.py.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import normalised, unique

pytestmark = pytest.mark.kallithea

K = "kallithea"
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = yaml.safe_load((REPO_ROOT / "mappings" / "documented.yaml").read_text())
EXERCISED: set[str] = set()  # kallithea methods sent through rcgate by this module


# ------------------------------------------------------------------------------------ helpers
def documented(dialect: str) -> set[str]:
    return set(DOCUMENTED[dialect]["methods"])


def whole_module_ran(request, module_name: str) -> bool:
    """True when every test function of the module was selected in this session (no -k / node ids)."""
    module = sys.modules[module_name]
    ran = {item.originalname for item in request.session.items if getattr(item, "module", None) is module}
    defined = {name for name in vars(module) if name.startswith("test_")}
    return defined <= ran


def direct_sync(kallithea, method: str, args: dict | None = None, key: str | None = None) -> dict:
    """One call straight to Kallithea, outside any event loop (for module-scoped data)."""
    body = json.dumps({"id": 1, "api_key": key or kallithea.admin_key, "method": method, "args": args or {}})
    req = urllib.request.Request(kallithea.api_url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        answer = json.load(res)
    assert answer["error"] is None, (method, answer)
    return answer["result"]


def hg_binary(kallithea) -> Path | None:
    hg = Path(kallithea.venv) / "bin" / "hg" if kallithea.venv else None
    return hg if hg and hg.exists() else None


def norm(value: Any, names: dict[str, str]) -> Any:
    """`normalised`, and a gist's `expires` blanked unless it is -1 (never): it is now + lifetime."""
    value = normalised(value, names)

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: "<expires>" if k == "expires" and isinstance(x, (int, float)) and x != -1 else walk(x)
                    for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


class Calls:
    """The same call through rcgate (kallithea dialect) and straight on Kallithea; records the method."""

    def __init__(self, rpc):
        self.rpc = rpc

    async def gw(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        EXERCISED.add(method)
        return await self.rpc.gw(method, args, dialect=K, key=key, id=id)

    async def direct(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 1) -> dict:
        return await self.rpc.direct(method, args, key=key, id=id)

    async def same(self, method: str, args: Any = None, *, key: str | None = None, id: Any = 7) -> dict:
        """A call that changes nothing: both answers must be identical."""
        through = await self.gw(method, args, key=key, id=id)
        direct = await self.direct(method, args, key=key, id=id)
        assert through == direct, (method, args)
        return through

    async def twin(self, steps) -> list[dict]:
        """Run `steps(call, names)` through rcgate and straight on Kallithea, on twin names."""
        mine: dict[str, str] = {}
        theirs: dict[str, str] = {}
        answers_gw = await steps(lambda m, a, **kw: self.gw(m, a, **kw), mine)
        answers_direct = await steps(lambda m, a, **kw: self.direct(m, a, **kw), theirs)
        mapping = {theirs[k]: mine[k] for k in theirs}
        # longest first: a name that contains another twin name is replaced whole
        mapping = dict(sorted(mapping.items(), key=lambda kv: -len(kv[0])))
        assert [norm(a, {}) for a in answers_gw] == [norm(a, mapping) for a in answers_direct]
        return answers_gw


@pytest.fixture
def calls(rpc) -> Calls:
    return Calls(rpc)


@pytest.fixture(scope="module")
def data(kallithea, hg_remote) -> dict[str, Any]:
    """Objects made once, straight on Kallithea: a user, a user group with that user, a repository
    cloned from `hg_remote` (so it has a file and a changeset), an empty repository, a repository
    group holding a repository, and a private gist of the admin and of the non-admin user."""
    d: dict[str, Any] = {"user": unique("eu"), "group": unique("eg"), "repo": unique("eclone"),
                         "empty": unique("eempty"), "repo_group": unique("erg")}
    direct_sync(kallithea, "create_user", {"username": d["user"], "email": f"{d['user']}@example.com",
                                           "password": "Secr3tPass"})
    direct_sync(kallithea, "create_user_group", {"group_name": d["group"]})
    direct_sync(kallithea, "add_user_to_user_group", {"usergroupid": d["group"], "userid": d["user"]})
    direct_sync(kallithea, "create_repo", {"repo_name": d["repo"], "repo_type": "hg", "clone_uri": hg_remote})
    direct_sync(kallithea, "create_repo", {"repo_name": d["empty"], "repo_type": "hg"})
    direct_sync(kallithea, "create_repo_group", {"group_name": d["repo_group"], "description": "every method"})
    d["grouped_repo"] = f"{d['repo_group']}/{unique('einside')}"
    direct_sync(kallithea, "create_repo", {"repo_name": d["grouped_repo"], "repo_type": "git"})
    direct_sync(kallithea, "grant_user_permission_to_repo_group",
                {"repogroupid": d["repo_group"], "userid": d["user"], "perm": "group.write"})
    direct_sync(kallithea, "grant_user_group_permission_to_repo_group",
                {"repogroupid": d["repo_group"], "usergroupid": d["group"], "perm": "group.read"})
    changesets = direct_sync(kallithea, "get_changesets", {"repoid": d["repo"]})
    assert len(changesets) == 1, changesets  # hg_remote has one commit, adding README
    d["raw_id"] = changesets[0]["raw_id"]
    files = {"every.txt": {"content": "every method\n", "lexer": None}}
    d["gist"] = direct_sync(kallithea, "create_gist", {"files": files, "gist_type": "private",
                                                      "description": "admin's"})["gist"]["access_id"]
    d["user_gist"] = direct_sync(kallithea, "create_gist", {"files": files, "gist_type": "private"},
                                 key=kallithea.user_key)["gist"]["access_id"]
    d["user_id"] = direct_sync(kallithea, "get_user", {}, key=kallithea.user_key)["user_id"]
    d["group_id"] = direct_sync(kallithea, "get_user_group", {"usergroupid": d["group"]})["users_group_id"]
    d["repo_id"] = direct_sync(kallithea, "get_repo", {"repoid": d["repo"]})["repo_id"]
    d["repo_group_id"] = direct_sync(kallithea, "get_repo_group", {"repogroupid": d["repo_group"]})["group_id"]
    return d


def fill(args: dict, data: dict) -> dict:
    """`$name` values are taken from `data`."""
    return {k: data[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}


# ------------------------------------------------------------------------------ reads, as the admin
NO_SUCH_PR = 999999  # Kallithea 0.7 has no API method to create a pull request: compare the errors

# Calls that change nothing (reads, and writes Kallithea refuses), grouped to keep the number of
# gateway start-ups low; every case is checked and all mismatches are reported together.
ADMIN_CASES: dict[str, list[tuple[str, dict]]] = {
    "server": [
        ("get_ip", {}),
        ("get_ip", {"userid": "$user"}),
        ("show_ip", {}),
        ("show_ip", {"userid": "$user"}),
        ("get_server_info", {}),
        ("test", {"args": {"echo": [1, "two", None, {"three": 3.5}]}}),
        ("test", {"args": "a string"}),
        ("test", {}),  # missing `args`
        ("invalidate_cache", {"repoid": "$repo"}),
        ("invalidate_cache", {"repoid": "no-such-repo"}),
        ("invalidate_cache", {"repoid": "$repo", "delete_keys": True}),  # RhodeCode 4.x only: unknown here
        ("rescan_repos", {"remove_obsolete": False, "bogus": 1}),  # unknown argument
        ("pull", {"repoid": "$empty"}),  # no clone_uri: Kallithea's own failure text
        ("pull", {"repoid": "no-such-repo"}),
    ],
    "users": [
        ("get_user", {"userid": "$user"}),
        ("get_user", {"userid": "$user_id"}),
        ("get_user", {"userid": None}),  # explicit null: the caller, as omitted
        ("get_user_group", {"usergroupid": "$group_id"}),  # by number
        ("get_user_group", {"usergroupid": None}),  # present (null passes), no such group
        ("get_users", {}),
        ("get_user_group", {"usergroupid": "$group"}),
        ("get_user_groups", {}),
        ("create_user", {"username": "$user", "email": "other@example.com"}),  # taken
        ("update_user", {"userid": "no-such-user", "lastname": "x"}),
        ("delete_user", {"userid": "no-such-user"}),
        ("create_user_group", {"group_name": "$group"}),  # taken
        ("update_user_group", {"usergroupid": "no-such-group", "description": "x"}),
        ("delete_user_group", {"usergroupid": "no-such-group"}),
        ("add_user_to_user_group", {"usergroupid": "$group", "userid": "no-such-user"}),
        ("remove_user_from_user_group", {"usergroupid": "no-such-group", "userid": "$user"}),
    ],
    "repositories": [
        ("get_repo", {"repoid": "$repo"}),
        ("get_repo", {"repoid": "$repo", "with_revision_names": True, "with_pullrequests": True}),
        ("get_repo", {"repoid": "$grouped_repo"}),
        ("get_repo", {"repoid": "$repo_id"}),  # by number
        ("get_repo", {"repoid": None}),
        ("get_repo", {"repoid": "$repo", "with_revision_names": None}),
        ("get_repos", {}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "$raw_id", "root_path": "", "ret_type": "files"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "dirs"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "bogus"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "no/such/dir"}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip"}),  # missing root_path
        ("get_repo_nodes", {"repoid": "$repo", "bogus": 1}),  # missing and unknown arguments at once
        ("get_changesets", {"repoid": "$repo"}),
        ("get_changesets", {"repoid": "$repo", "with_file_list": True, "reverse": True, "max_revisions": 1}),
        ("get_changesets", {"repoid": "$repo", "start_date": "2000-01-01T00:00:00", "branch_name": "default"}),
        ("get_changesets", {"repoid": "$empty"}),  # "Repository is empty"
        ("get_changesets", {"repoid": "no-such-repo"}),
        ("get_changesets", {"repoid": "$repo", "start": None, "end": None, "max_revisions": None}),
        ("get_changeset", {"repoid": "$repo", "raw_id": "$raw_id"}),
        ("get_changeset", {"repoid": "$repo", "raw_id": "$raw_id", "with_reviews": True}),
        ("get_changeset", {"repoid": "$repo", "raw_id": "tip"}),
        ("get_changeset", {"repoid": "$repo", "raw_id": "deadbeef"}),
        ("create_repo", {"repo_name": "$repo"}),  # taken
        ("update_repo", {"repoid": "no-such-repo", "description": "x"}),
        ("update_repo", {"repoid": "$repo", "group": "no-such-group"}),
        ("update_repo", {"repoid": "$repo", "enable_locking": True}),  # removed in Kallithea 0.5: unknown here
        ("fork_repo", {"repoid": "$repo", "fork_name": "$empty"}),  # taken
        ("delete_repo", {"repoid": "no-such-repo"}),
        ("grant_user_permission", {"repoid": "$repo", "userid": "$user", "perm": "group.read"}),
        ("revoke_user_permission", {"repoid": "$repo", "userid": "no-such-user"}),
        ("grant_user_group_permission", {"repoid": "$repo", "usergroupid": "no-such-group", "perm": "repository.read"}),
        ("revoke_user_group_permission", {"repoid": "no-such-repo", "usergroupid": "$group"}),
    ],
    "repo groups": [
        ("get_repo_group", {"repogroupid": "$repo_group"}),
        ("get_repo_group", {"repogroupid": "no-such-group"}),
        ("get_repo_group", {"repogroupid": "$repo_group_id"}),  # by number
        ("get_repo_groups", {}),
        ("create_repo_group", {"group_name": "$repo_group"}),  # taken
        ("update_repo_group", {"repogroupid": "no-such-group", "description": "x"}),
        ("delete_repo_group", {"repogroupid": "no-such-group"}),
        ("grant_user_permission_to_repo_group", {"repogroupid": "$repo_group", "userid": "$user",
                                                 "perm": "repository.read"}),  # not a group. permission
        ("revoke_user_permission_from_repo_group", {"repogroupid": "$repo_group", "userid": "no-such-user"}),
        ("grant_user_group_permission_to_repo_group", {"repogroupid": "no-such-group", "usergroupid": "$group",
                                                       "perm": "group.read"}),
        ("revoke_user_group_permission_from_repo_group", {"repogroupid": "$repo_group",
                                                          "usergroupid": "no-such-group"}),
    ],
    "gists": [
        ("get_gist", {"gistid": "$gist"}),
        ("get_gist", {"gistid": "$user_gist"}),
        ("get_gist", {"gistid": "no-such-gist"}),
        ("get_gist", {"gistid": "$gist", "content": True}),  # the RhodeCode 4.x argument: unknown here
        ("get_gists", {}),
        ("get_gists", {"userid": "$user_id"}),
        ("get_gists", {"userid": "no-such-user"}),
        ("get_gists", {"userid": None}),
        ("create_gist", {"files": {"a.txt": {"content": "x"}}, "owner": "no-such-user"}),  # refused
        ("delete_gist", {"gistid": "no-such-gist"}),
    ],
    "pull requests": [
        ("get_pullrequest", {"pullrequest_id": NO_SUCH_PR}),
        ("get_pullrequest", {}),
        ("comment_pullrequest", {"pull_request_id": NO_SUCH_PR, "comment_msg": "hello", "status": "approved"}),
        ("comment_pullrequest", {"pull_request_id": NO_SUCH_PR, "close_pr": True}),
        ("edit_reviewers", {"pull_request_id": NO_SUCH_PR, "add": ["$user"]}),
        ("edit_reviewers", {"pull_request_id": NO_SUCH_PR, "remove": "$user"}),
        ("edit_reviewers", {"pull_request_id": NO_SUCH_PR}),  # neither add nor remove
    ],
}

# As the non-admin user: reads, and writes Kallithea refuses to a non-admin (nothing changes).
USER_CASES: dict[str, list[tuple[str, dict]]] = {
    "reads": [
        ("get_ip", {}),  # admin only
        ("show_ip", {}),
        ("get_server_info", {}),
        ("test", {"args": 1}),
        ("get_user", {}),
        ("get_user", {"userid": "$user"}),
        ("get_users", {}),
        ("get_user_group", {"usergroupid": "$group"}),
        ("get_user_groups", {}),
        ("get_repo", {"repoid": "$repo"}),
        ("get_repos", {}),
        ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
        ("get_changesets", {"repoid": "$repo"}),
        ("get_changeset", {"repoid": "$repo", "raw_id": "$raw_id"}),
        ("get_repo_group", {"repogroupid": "$repo_group"}),
        ("get_repo_groups", {}),
        ("get_gist", {"gistid": "$user_gist"}),
        ("get_gist", {"gistid": "$gist"}),  # someone else's
        ("get_gists", {}),
        ("get_gists", {"userid": "$user_id"}),
        ("get_gists", {"userid": "$user"}),  # a name is not the caller's id: refused
        ("invalidate_cache", {"repoid": "$repo"}),
        ("get_pullrequest", {"pullrequest_id": NO_SUCH_PR}),
        ("comment_pullrequest", {"pull_request_id": NO_SUCH_PR, "comment_msg": "x"}),
        ("edit_reviewers", {"pull_request_id": NO_SUCH_PR, "add": "$user"}),
    ],
    "refused writes": [
        ("rescan_repos", {}),
        ("pull", {"repoid": "$repo"}),
        ("create_user", {"username": "x", "email": "x@example.com"}),
        ("update_user", {"userid": "$user", "lastname": "x"}),
        ("delete_user", {"userid": "$user"}),
        ("update_user_group", {"usergroupid": "$group", "description": "x"}),
        ("delete_user_group", {"usergroupid": "$group"}),
        ("add_user_to_user_group", {"usergroupid": "$group", "userid": "$user"}),
        ("remove_user_from_user_group", {"usergroupid": "$group", "userid": "$user"}),
        ("update_repo", {"repoid": "$repo", "description": "x"}),
        ("update_repo", {"repoid": "$repo", "owner": "$user"}),
        ("delete_repo", {"repoid": "$repo"}),
        ("fork_repo", {"repoid": "$repo", "fork_name": "$repo"}),  # the name is taken
        ("create_repo", {"repo_name": "$repo"}),  # the name is taken
        ("grant_user_permission", {"repoid": "$repo", "userid": "$user", "perm": "repository.admin"}),
        ("revoke_user_permission", {"repoid": "$repo", "userid": "$user"}),
        ("grant_user_group_permission", {"repoid": "$repo", "usergroupid": "$group", "perm": "repository.admin"}),
        ("revoke_user_group_permission", {"repoid": "$repo", "usergroupid": "$group"}),
        ("create_repo_group", {"group_name": "never-made"}),
        ("update_repo_group", {"repogroupid": "$repo_group", "description": "x"}),
        ("delete_repo_group", {"repogroupid": "$repo_group"}),
        ("grant_user_permission_to_repo_group", {"repogroupid": "$repo_group", "userid": "$user",
                                                 "perm": "group.admin"}),
        ("revoke_user_permission_from_repo_group", {"repogroupid": "$repo_group", "userid": "$user"}),
        ("grant_user_group_permission_to_repo_group", {"repogroupid": "$repo_group", "usergroupid": "$group",
                                                       "perm": "group.admin"}),
        ("revoke_user_group_permission_from_repo_group", {"repogroupid": "$repo_group", "usergroupid": "$group"}),
        ("delete_gist", {"gistid": "$gist"}),  # someone else's
        ("create_gist", {"files": {"a": {"content": "x"}}, "owner": "no-such-user"}),
    ],
}


async def all_equal(calls: Calls, data: dict, cases: list[tuple[str, dict]], key: str | None = None) -> list[dict]:
    """Each case through rcgate and direct; every mismatch reported at once."""
    answers, mismatches = [], []
    for i, (method, args) in enumerate(cases):
        args = fill(args, data)
        through = await calls.gw(method, args, key=key, id=i)
        direct = await calls.direct(method, args, key=key, id=i)
        if through != direct:
            mismatches.append({"call": (method, args), "rcgate": through, "kallithea": direct})
        answers.append(through)
    assert mismatches == []
    assert all(set(a) == {"id", "result", "error"} for a in answers)
    return answers


@pytest.mark.parametrize("group", list(ADMIN_CASES))
async def test_admin_reads_and_refusals_equal_kallithea(calls, data, group):
    answers = await all_equal(calls, data, ADMIN_CASES[group])
    assert [a["id"] for a in answers] == list(range(len(answers)))
    if group == "pull requests":  # no pull request can exist: every answer is an error
        assert all(a["error"] is not None for a in answers)
    else:
        assert any(a["error"] is None for a in answers) and any(a["error"] is not None for a in answers)


@pytest.mark.parametrize("group", list(USER_CASES))
async def test_non_admin_calls_equal_kallithea(calls, data, rpc, group):
    answers = await all_equal(calls, data, USER_CASES[group], key=rpc.kallithea.user_key)
    if group == "refused writes":  # nothing of it was allowed
        assert all(a["error"] is not None for a in answers), [a for a in answers if a["error"] is None]


# An argument sent under the *canonical* name of an argument this dialect renames is unknown to it:
# Kallithea's get_changeset takes `raw_id` (kallithea.yaml: args {raw_id: revision}), so a Kallithea
# caller sending `revision` gets Kallithea's own "Missing non optional `raw_id` arg in JSON DATA".
async def test_canonical_name_of_a_renamed_argument_is_unknown_to_kallithea_callers(calls, data):
    await calls.same("get_changeset", {"repoid": data["repo"], "revision": data["raw_id"]})


async def test_reads_have_the_expected_content(calls, data):
    """The differential reads above compare like with like; make sure they read real data."""
    nodes = (await calls.same("get_repo_nodes", {"repoid": data["repo"], "revision": "tip", "root_path": ""}))
    assert nodes["result"] == [{"name": "README", "type": "file"}]
    changeset = (await calls.same("get_changeset", {"repoid": data["repo"], "raw_id": data["raw_id"]}))["result"]
    assert changeset["raw_id"] == data["raw_id"] and changeset["added"] == ["README"]
    assert changeset["author"] == {"name": "Test", "email": "test@example.com"}
    listed = (await calls.same("get_changesets", {"repoid": data["repo"], "with_file_list": True}))["result"]
    assert [c["raw_id"] for c in listed] == [data["raw_id"]] and listed[0]["author"] == "Test <test@example.com>"
    group = (await calls.same("get_repo_group", {"repogroupid": data["repo_group"]}))["result"]
    assert group["repositories"] == [data["grouped_repo"]]
    assert {(m["name"], m["type"], m["permission"]) for m in group["members"]} >= {
        (data["user"], "user", "group.write"), (data["group"], "user_group", "group.read")}
    gist = (await calls.same("get_gist", {"gistid": data["gist"]}))["result"]
    assert gist["access_id"] == data["gist"] and gist["type"] == "private" and gist["description"] == "admin's"
    echo = (await calls.same("test", {"args": {"x": [1, None]}}))["result"]
    assert echo == {"x": [1, None]}
    info = (await calls.same("get_server_info", {}))["result"]
    assert info["kallithea_version"] == "0.7.0" and ["kallithea", "0.7.0"] in info["modules"]
    ip = (await calls.same("show_ip", {}))["result"]
    assert set(ip) == {"server_ip_addr", "user_ips"}
    no_pr = await calls.same("get_pullrequest", {"pullrequest_id": NO_SUCH_PR})
    assert no_pr["error"] == f"pull request `{NO_SUCH_PR}` does not exist"
    no_pr = await calls.same("comment_pullrequest", {"pull_request_id": NO_SUCH_PR, "comment_msg": "x"})
    assert no_pr["error"] == f"pull request `{NO_SUCH_PR}` does not exist"
    no_pr = await calls.same("edit_reviewers", {"pull_request_id": NO_SUCH_PR, "add": data["user"]})
    assert no_pr["error"] == f"pull request `{NO_SUCH_PR}` does not exist"
    cache = (await calls.same("invalidate_cache", {"repoid": data["repo"]}))["result"]
    assert cache == {"msg": f"Cache for repository `{data['repo']}` was invalidated", "repository": data["repo"]}


async def test_non_admin_gist_lifecycle_equals_kallithea(calls, rpc):
    key = rpc.kallithea.user_key

    async def steps(call, names):
        made = await call("create_gist", {"files": {"n.txt": {"content": "mine\n", "lexer": None}},
                                          "gist_type": "private", "description": "non-admin"}, key=key)
        names["gist"] = access = made["result"]["gist"]["access_id"]
        return [made,
                await call("get_gist", {"gistid": access}, key=key),
                await call("delete_gist", {"gistid": access}, key=key),
                await call("get_gist", {"gistid": access}, key=key)]

    answers = await calls.twin(steps)
    assert answers[0]["result"]["msg"] == "created new gist"
    assert answers[3]["error"].endswith("does not exist")


# ----------------------------------------------------------------------------------------- writes
async def test_repo_group_lifecycle_equals_kallithea(calls, data):
    user, group = data["user"], data["group"]

    async def steps(call, names):
        names["g"] = g = unique("xrg")
        names["c"] = c = unique("xchild")
        names["r"] = r = unique("xrenamed")
        return [
            await call("create_repo_group", {"group_name": g, "description": "top", "owner": user}),
            await call("create_repo_group", {"group_name": c, "parent": g, "copy_permissions": True}),
            await call("create_repo_group", {"group_name": "x", "parent": "no-such-parent"}),
            await call("get_repo_group", {"repogroupid": g}),
            await call("get_repo_group", {"repogroupid": f"{g}/{c}"}),
            await call("update_repo_group", {"repogroupid": f"{g}/{c}", "description": "child", "owner": user}),
            await call("update_repo_group", {"repogroupid": f"{g}/{c}", "group_name": r}),
            await call("grant_user_permission_to_repo_group",
                       {"repogroupid": g, "userid": user, "perm": "group.write", "apply_to_children": "all"}),
            await call("grant_user_group_permission_to_repo_group",
                       {"repogroupid": g, "usergroupid": group, "perm": "group.admin", "apply_to_children": "groups"}),
            await call("get_repo_group", {"repogroupid": f"{g}/{r}"}),
            await call("revoke_user_permission_from_repo_group",
                       {"repogroupid": g, "userid": user, "apply_to_children": "repos"}),
            await call("revoke_user_group_permission_from_repo_group", {"repogroupid": g, "usergroupid": group}),
            await call("get_repo_group", {"repogroupid": g}),
            await call("delete_repo_group", {"repogroupid": f"{g}/{r}"}),
            await call("delete_repo_group", {"repogroupid": g}),
            await call("delete_repo_group", {"repogroupid": g}),  # gone
        ]

    answers = await calls.twin(steps)
    assert answers[0]["result"]["msg"].startswith("created new repo group `xrg-")
    assert answers[1]["result"]["repo_group"]["parent_group"] == answers[0]["result"]["repo_group"]["group_name"]
    assert answers[2]["error"] is not None
    assert answers[5]["result"]["repo_group"]["group_description"] == "child"
    assert answers[7]["result"]["msg"].startswith("Granted perm: `group.write` (recursive:all) for user: ")
    assert {m["name"] for m in answers[9]["result"]["members"]} >= {user, group}  # applied to children
    assert answers[13]["result"]["repo_group"] is None
    assert answers[15]["error"].endswith("does not exist")


def _without(value: Any, number: str) -> Any:
    """A public gist's number replaced, in its access_id, url and the delete message."""
    text = json.dumps(value)
    text = text.replace(f'"{number}"', '"<number>"').replace(f"/{number}\"", '/<number>"')
    return json.loads(text.replace(f"ID:{number}\"", 'ID:<number>"'))


async def test_gist_lifecycle_equals_kallithea(calls, data):
    async def steps(call, names):
        names["u"] = owner = unique("gu")
        await call("create_user", {"username": owner, "email": f"{owner}@example.com", "password": "Secr3tPass"})
        files = {"one.py": {"content": "print(1)\n", "lexer": "python"}, "two.txt": {"content": "2\n"}}
        private = await call("create_gist", {"files": files, "owner": owner, "gist_type": "private",
                                             "lifetime": 60, "description": "twin"})
        names["p"] = p = private["result"]["gist"]["access_id"]
        answers = [
            private,
            await call("get_gist", {"gistid": p}),
            await call("get_gists", {"userid": owner}),
            await call("delete_gist", {"gistid": p}),
            await call("delete_gist", {"gistid": p}),  # gone
            await call("get_gists", {"userid": owner}),
        ]
        # a public gist's access id is its number: compared without the names mapping
        public = await call("create_gist", {"files": {"pub.txt": {"content": "public\n"}}, "owner": owner})
        number = public["result"]["gist"]["access_id"]
        listed = await call("get_gists", {"userid": owner})
        deleted = await call("delete_gist", {"gistid": number})
        answers.append({"public": _without(norm(public, {}), number), "listed": _without(norm(listed, {}), number),
                        "deleted": _without(deleted, number)})
        return answers

    answers = await calls.twin(steps)
    created = answers[0]["result"]
    assert created["msg"] == "created new gist" and created["gist"]["type"] == "private"
    assert created["gist"]["expires"] != -1  # a lifetime of 60 minutes
    assert [g["access_id"] for g in answers[2]["result"]] == [created["gist"]["access_id"]]
    assert answers[3]["result"]["gist"] is None and answers[4]["error"].endswith("does not exist")
    assert answers[6]["public"]["result"]["gist"]["expires"] == -1
    assert answers[6]["public"]["result"]["gist"]["access_id"] == "<number>"
    assert len(answers[6]["listed"]["result"]) == 1 and answers[6]["deleted"]["result"]["gist"] is None


async def test_user_group_lifecycle_equals_kallithea(calls, data):
    admin = calls.rpc.kallithea.admin_username

    async def steps(call, names):
        names["g"] = g = unique("xug")
        names["n"] = n = unique("xugnew")
        names["r"] = r = unique("xugrepo")
        return [
            await call("create_user_group", {"group_name": g, "description": "first", "owner": data["user"],
                                             "active": False}),
            await call("create_user_group", {"group_name": g}),  # duplicate
            await call("add_user_to_user_group", {"usergroupid": g, "userid": data["user"]}),
            await call("update_user_group", {"usergroupid": g, "group_name": n, "description": "second",
                                             "active": True, "owner": admin}),
            await call("get_user_group", {"usergroupid": n}),
            await call("get_user_group", {"usergroupid": g}),  # the old name
            await call("create_repo", {"repo_name": r}),
            await call("grant_user_group_permission", {"repoid": r, "usergroupid": n, "perm": "repository.read"}),
            await call("delete_user_group", {"usergroupid": n}),  # still has a permission
            await call("revoke_user_group_permission", {"repoid": r, "usergroupid": n}),
            await call("remove_user_from_user_group", {"usergroupid": n, "userid": data["user"]}),
            await call("delete_user_group", {"usergroupid": n}),
            await call("delete_user_group", {"usergroupid": n}),  # gone
            await call("delete_repo", {"repoid": r}),
        ]

    answers = await calls.twin(steps)
    assert answers[3]["result"]["msg"].startswith("updated user group ID:")
    assert answers[4]["result"]["group_description"] == "second" and answers[4]["result"]["active"] is True
    assert answers[5]["error"].endswith("does not exist")  # the old name
    assert answers[8]["error"] is not None and answers[11]["result"]["user_group"] is None
    assert answers[12]["error"].endswith("does not exist")


async def test_user_lifecycle_equals_kallithea(calls):
    async def steps(call, names):
        names["u"] = u = unique("xu")
        names["v"] = v = unique("xv")
        return [
            await call("create_user", {"username": u, "email": f"{u}@example.com", "password": "Secr3tPass",
                                       "firstname": "Ann", "lastname": "Lee", "active": True, "admin": False,
                                       "extern_name": "", "extern_type": "internal"}),
            await call("create_user", {"username": v, "email": f"{u}@example.com"}),  # email taken
            await call("update_user", {"userid": u, "username": v, "email": f"{v}@example.com", "admin": True,
                                       "password": "N3wSecret"}),
            await call("get_user", {"userid": v}),
            await call("update_user", {"userid": "default", "lastname": "x"}),  # forbidden
            await call("delete_user", {"userid": v}),
            await call("delete_user", {"userid": v}),
        ]

    answers = await calls.twin(steps)
    assert answers[2]["result"]["user"]["admin"] is True
    assert answers[4]["error"] == "editing default user is forbidden"


async def test_repository_lifecycle_equals_kallithea(calls, data, hg_remote):
    user, group, admin = data["user"], data["group"], calls.rpc.kallithea.admin_username

    async def steps(call, names):
        names["r"] = r = unique("xr")
        names["n"] = n = unique("xrnew")
        names["f"] = f = unique("xfork")
        inside = f"{data['repo_group']}/{r}"
        return [
            await call("create_repo", {"repo_name": r, "repo_type": "hg", "description": "d", "private": True,
                                       "clone_uri": hg_remote, "landing_rev": "rev:tip", "enable_downloads": True,
                                       "copy_permissions": False, "owner": user}),
            await call("create_repo", {"repo_name": inside, "repo_type": "git"}),
            await call("create_repo", {"repo_name": f"no-such-group/{r}"}),
            await call("pull", {"repoid": r}),
            await call("pull", {"repoid": r, "clone_uri": hg_remote}),
            await call("update_repo", {"repoid": r, "name": n, "description": "new", "private": False,
                                       "landing_rev": "branch:default", "enable_statistics": True,
                                       "enable_downloads": False, "owner": admin}),
            await call("update_repo", {"repoid": n, "group": data["repo_group"]}),
            await call("get_repo", {"repoid": f"{data['repo_group']}/{n}"}),
            await call("fork_repo", {"repoid": f"{data['repo_group']}/{n}", "fork_name": f, "owner": user,
                                     "description": "fork", "copy_permissions": True, "private": False,
                                     "landing_rev": "rev:tip"}),
            await call("grant_user_permission", {"repoid": f, "userid": user, "perm": "repository.admin"}),
            await call("grant_user_permission", {"repoid": f, "userid": user, "perm": "repository.bogus"}),
            await call("grant_user_group_permission", {"repoid": f, "usergroupid": group, "perm": "repository.write"}),
            await call("get_repo", {"repoid": f}),
            await call("revoke_user_permission", {"repoid": f, "userid": user}),
            await call("revoke_user_group_permission", {"repoid": f, "usergroupid": group}),
            await call("get_repo_nodes", {"repoid": f, "revision": "tip", "root_path": ""}),
            await call("delete_repo", {"repoid": f"{data['repo_group']}/{n}", "forks": "delete"}),
            await call("delete_repo", {"repoid": inside}),
            await call("get_repo", {"repoid": f}),
        ]

    answers = await calls.twin(steps)
    assert answers[3]["result"]["msg"].startswith("Pulled from `xr-")
    assert answers[5]["result"]["repository"]["description"] == "new"
    assert answers[5]["result"]["repository"]["landing_rev"] == ["branch", "default"]
    assert answers[7]["result"]["repo_name"].startswith(data["repo_group"] + "/")
    assert answers[10]["error"] == "permission `repository.bogus` does not exist"
    assert answers[15]["result"] == [{"name": "README", "type": "file"}]
    assert answers[16]["result"]["msg"].endswith("Deleted 1 forks")
    assert answers[18]["error"].endswith("does not exist")


async def test_rescan_repos_equals_kallithea(calls, rpc):
    """Repositories put on disk behind Kallithea's back are added; removed ones are cleaned up."""
    kallithea = rpc.kallithea
    hg = hg_binary(kallithea)
    repos = Path(kallithea.home) / "repos" if kallithea.home else None
    if hg is None or repos is None or not repos.is_dir():  # an external server: nothing to put on disk
        answer = await calls.same("rescan_repos", {})
        assert answer["result"] == {"added": [], "removed": []}
        return

    async def steps(call, names):
        await calls.direct("rescan_repos", {})  # anything left on disk by others is taken in first
        names["d"] = name = unique("ondisk")
        subprocess.run([hg, "init", repos / name], check=True, env={"HGRCPATH": "", "PATH": "/usr/bin:/bin"})
        added = await call("rescan_repos", {})
        again = await call("rescan_repos", {"remove_obsolete": False})
        shutil.rmtree(repos / name)
        kept = await call("rescan_repos", {})
        present = await call("get_repo", {"repoid": name})
        removed = await call("rescan_repos", {"remove_obsolete": True})
        return [added, again, kept, present, removed, await call("get_repo", {"repoid": name})]

    answers = await calls.twin(steps)
    assert answers[0]["result"]["added"] == [answers[3]["result"]["repo_name"]]
    assert answers[1]["result"] == {"added": [], "removed": []}
    assert answers[4]["result"]["removed"] == [answers[3]["result"]["repo_name"]]
    assert answers[5]["error"].endswith("does not exist")


async def test_user_group_membership_equals_kallithea(calls, data):
    async def steps(call, names):
        names["g"] = g = unique("xm")
        return [
            await call("create_user_group", {"group_name": g}),
            await call("add_user_to_user_group", {"usergroupid": g, "userid": data["user"]}),
            await call("add_user_to_user_group", {"usergroupid": g, "userid": data["user"]}),
            await call("remove_user_from_user_group", {"usergroupid": g, "userid": data["user"]}),
            await call("remove_user_from_user_group", {"usergroupid": g, "userid": data["user"]}),
            await call("delete_user_group", {"usergroupid": g}),
        ]

    answers = await calls.twin(steps)
    assert [a["result"]["success"] for a in answers[1:5]] == [True, False, True, False]


# ------------------------------------------------------------------------------------ completeness
def test_every_documented_kallithea_method_was_exercised(request):
    """Last in this module: every method of the kallithea list went through rcgate to Kallithea."""
    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    assert EXERCISED == documented(K), {"missing": sorted(documented(K) - EXERCISED),
                                        "not documented": sorted(EXERCISED - documented(K))}
    assert len(documented(K)) == 48
