"""Kallithea and modern RhodeCode callers in front of a real RhodeCode 1.7.2: their own shapes, from
1.7.2's answers read up and written down again.

- Kallithea callers, every Kallithea method: the answer through rcgate (RhodeCode 1.7.2 behind it) is
  compared with the real Kallithea's own answer to the same call on twin objects: the same outcome
  (result or error, errors word for word), and no key or kind of value Kallithea would not send, at
  any depth. Methods 1.7.2 cannot serve are refused with the reason from mappings/rhodecode1.yaml.
- Modern callers, every modern method: a result holds no key that a real RhodeCode CE 4.22 did not
  send for that method (its recorded answers), or refused with the reason.

Keys a 1.7.2 backend cannot know (a user group's description, a repository's url) are absent here.
"""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml

from gateway.app import create_app
from tests import recorded422, shapes

from .conftest import REPO_ROOT, DialectCalls, Rpc, gateway_config, unique
from .test_every_method_kallithea import data, direct_sync, documented  # noqa: F401

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

CANNOT_SERVE = yaml.safe_load((REPO_ROOT / "mappings" / "rhodecode1.yaml").read_text())["cannot_serve"]
KALLITHEA_METHODS = yaml.safe_load((REPO_ROOT / "mappings" / "kallithea.yaml").read_text())["methods"]
REFUSAL = "Method `{method}` is not supported by the server behind this gateway: {reason}"
EXERCISED: dict[str, set[str]] = {"kallithea": set(), "rhodecode": set()}


def rc1_direct(server, method: str, args: dict | None = None) -> Any:
    body = json.dumps({"id": 1, "api_key": server.admin_key, "method": method, "args": args or {}}).encode()
    req = urllib.request.Request(server.api_url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        answer = json.load(res)
    assert answer["error"] is None, (method, answer)
    return answer["result"]


@pytest.fixture(scope="module")
def rc1_data(rhodecode17, hg_remote) -> dict[str, Any]:
    """On RhodeCode 1.7.2: a user in a users group, a repository cloned from `hg_remote`, a gist."""
    d = {"user": unique("ou"), "group": unique("og"), "repo": unique("oclone")}
    rc1_direct(rhodecode17, "create_user", {"username": d["user"], "email": f"{d['user']}@example.com",
                                            "password": "Secr3tPass"})
    rc1_direct(rhodecode17, "create_users_group", {"group_name": d["group"]})
    rc1_direct(rhodecode17, "add_user_to_users_group", {"usersgroupid": d["group"], "userid": d["user"]})
    rc1_direct(rhodecode17, "create_repo", {"repo_name": d["repo"], "repo_type": "hg", "owner": "admin",
                                            "clone_uri": hg_remote})
    return d


@pytest.fixture
async def old(rhodecode17, aiohttp_client, tmp_path) -> Rpc:
    app = create_app(gateway_config(rhodecode17.url, tmp_path / "audit.jsonl", backend_dialect="rhodecode1"))
    return Rpc(await aiohttp_client(app), rhodecode17, tmp_path / "audit.jsonl")


def fill(args: dict, names: dict[str, Any]) -> dict:
    return {k: names[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in args.items()}


# ------------------------------------------------------------------------------ Kallithea callers
# (method, args): `$x` is the object x of each side's data; writes use names made for the test.
KALLITHEA_READS = [
    ("get_ip", {}), ("get_ip", {"userid": "$user"}), ("show_ip", {"userid": "$user"}),
    ("get_user", {}), ("get_user", {"userid": "$user"}), ("get_users", {}),
    ("get_user_group", {"usergroupid": "$group"}), ("get_user_groups", {}),
    ("get_repo", {"repoid": "$repo"}), ("get_repos", {}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "files"}),
    ("invalidate_cache", {"repoid": "$repo"}), ("pull", {"repoid": "$repo"}), ("rescan_repos", {}),
    ("get_repo", {"repoid": "no-such-repo"}), ("get_user", {"userid": "no-such-user"}),
    ("get_user_group", {"usergroupid": "no-such-group"}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "bad"}),
]


@pytest.mark.parametrize("method, args", KALLITHEA_READS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(KALLITHEA_READS)])
async def test_kallithea_reads_have_kallitheas_shapes(old, rpc, data, rc1_data, method, args):
    EXERCISED["kallithea"].add(method)
    through = await old.gw(method, fill(args, rc1_data), dialect="kallithea", key=old.kallithea.admin_key)
    own = await rpc.direct(method, fill(args, data))
    assert_like_kallitheas_own(method, through, own)


def assert_like_kallitheas_own(method: str, through: dict, own: dict) -> None:
    assert set(through) == {"id", "result", "error"}
    if own["error"] is not None:
        assert through["error"] is not None and through["result"] is None, (method, through, own)
        if method not in ("get_ip", "show_ip"):  # 1.7.2's message names its own argument rules
            assert through["error"] == own["error"].replace("all,dirs,files", "all,dirs,files"), (through, own)
        return
    assert through["error"] is None, (method, through, own)
    assert shapes.foreign(through["result"], [own["result"]]) == [], (method, through["result"], own["result"])
    assert shapes.missing(through["result"], own["result"]) == [], (method, through["result"], own["result"])
    if isinstance(own["result"], dict) and "msg" in own["result"]:
        assert set(through["result"]) == set(own["result"]), (method, through["result"], own["result"])


async def test_kallithea_writes_have_kallitheas_shapes(old, rpc, data, rc1_data):
    """The same steps on each side, on objects made for the test; every answer compared as above."""
    sides = {"through": {}, "own": {}}
    for side in sides:
        sides[side] = {"u": unique("wu"), "g": unique("wg"), "r": unique("wr"), "f": unique("wf"),
                       "user": (rc1_data if side == "through" else data)["user"]}
    steps = [
        ("create_user", {"username": "$u", "email": "$u", "password": "Secr3tPass", "firstname": "W"}),
        ("update_user", {"userid": "$u", "lastname": "Kallithea"}),
        ("create_user_group", {"group_name": "$g"}),
        ("add_user_to_user_group", {"usergroupid": "$g", "userid": "$u"}),
        ("add_user_to_user_group", {"usergroupid": "$g", "userid": "$u"}),  # already a member
        ("remove_user_from_user_group", {"usergroupid": "$g", "userid": "$u"}),
        ("create_repo", {"repo_name": "$r", "repo_type": "hg", "description": "w"}),
        ("create_repo", {"repo_name": "$r", "repo_type": "hg"}),  # already exists
        ("fork_repo", {"repoid": "$r", "fork_name": "$f"}),
        ("grant_user_permission", {"repoid": "$r", "userid": "$user", "perm": "repository.write"}),
        ("revoke_user_permission", {"repoid": "$r", "userid": "$user"}),
        ("grant_user_group_permission", {"repoid": "$r", "usergroupid": "$g", "perm": "repository.read"}),
        ("revoke_user_group_permission", {"repoid": "$r", "usergroupid": "$g"}),
        ("delete_repo", {"repoid": "$r", "forks": "detach"}),
        ("delete_repo", {"repoid": "$f"}),
        ("create_gist", {"files": {"a.txt": {"content": "x\n"}}, "description": "w", "gist_type": "public"}),
        ("delete_user", {"userid": "$u"}),
    ]
    for method, args in steps:
        EXERCISED["kallithea"].add(method)
        answers = {}
        for side, names in sides.items():
            values = {k: (f"{v}@example.com" if k == "email" else v) for k, v in fill(args, names).items()}
            answers[side] = (await old.gw(method, values, dialect="kallithea", key=old.kallithea.admin_key)
                             if side == "through" else await rpc.direct(method, values))
        if method == "add_user_to_user_group" and answers["own"]["result"] and not answers["own"]["result"]["success"]:
            assert answers["through"]["result"] == {"success": False, "msg": "User is already in that group"}
            continue
        through, own = answers["through"], answers["own"]
        if own["error"] is not None:  # names differ per side: compare the texts with the names swapped
            mine = sides["through"]
            theirs = sides["own"]
            text = own["error"]
            for k in mine:
                text = text.replace(str(theirs[k]), str(mine[k]))
            assert through == {"id": 1, "result": None, "error": text}, (method, through, own)
            continue
        assert_like_kallitheas_own(method, through, own)


async def test_kallitheas_update_repo_meets_the_old_servers_own_failure(old, rc1_data):
    EXERCISED["kallithea"].add("update_repo")
    answer = await old.gw("update_repo", {"repoid": rc1_data["repo"], "description": "x"}, dialect="kallithea",
                          key=old.kallithea.admin_key)
    assert answer == {"id": 1, "result": None, "error": f"failed to update repo `{rc1_data['repo']}`"}


def _kallithea_canonical(method: str) -> str:
    return KALLITHEA_METHODS[method].get("canonical", method)


@pytest.mark.parametrize("method", sorted(m for m in documented("kallithea") if _kallithea_canonical(m) in CANNOT_SERVE))
async def test_what_the_old_server_cannot_do_is_refused_to_kallithea_callers(old, method):
    EXERCISED["kallithea"].add(method)
    answer = await old.gw(method, {}, dialect="kallithea", key=old.kallithea.admin_key)
    assert answer["result"] is None
    assert answer["error"] == REFUSAL.format(method=method, reason=CANNOT_SERVE[_kallithea_canonical(method)]), answer


# ------------------------------------------------------------------------------ modern callers
MODERN_CALLS = [
    ("get_ip", {"userid": "$user"}), ("show_ip", {"userid": "$user"}), ("get_user", {}),
    ("get_user", {"userid": "$user"}), ("get_users", {}), ("get_user_group", {"usergroupid": "$group"}),
    ("get_user_groups", {}), ("get_repo", {"repoid": "$repo"}), ("get_repos", {}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
    ("invalidate_cache", {"repoid": "$repo"}), ("pull", {"repoid": "$repo"}), ("rescan_repos", {}),
    ("lock", {"repoid": "$repo"}), ("get_locks", {}), ("get_user_locks", {}),
]


@pytest.mark.parametrize("method, args", MODERN_CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(MODERN_CALLS)])
async def test_modern_reads_hold_only_what_422_sends(old, rc1_data, method, args):
    EXERCISED["rhodecode"].add(method)
    answer = await old.gw(method, fill(args, rc1_data), dialect="rhodecode", key=old.kallithea.admin_key,
                          key_field="auth_token")
    assert answer["error"] is None, (method, answer)
    assert shapes.foreign(answer["result"], recorded422.results(method)) == [], (method, answer["result"])
    assert shapes.missing_from(answer["result"], recorded422.results(method)) == [], (method, answer["result"])


async def test_modern_writes_hold_only_what_422_sends(old, rc1_data):
    u, g, r, f = unique("mu"), unique("mg"), unique("mr"), unique("mf")
    steps = [
        ("create_user", {"username": u, "email": f"{u}@example.com", "password": "Secr3tPass"}),
        ("update_user", {"userid": u, "firstname": "Modern"}),
        ("create_user_group", {"group_name": g}),
        ("add_user_to_user_group", {"usergroupid": g, "userid": u}),
        ("remove_user_from_user_group", {"usergroupid": g, "userid": u}),
        ("create_repo", {"repo_name": r, "repo_type": "hg"}),
        ("fork_repo", {"repoid": r, "fork_name": f}),
        ("grant_user_permission", {"repoid": r, "userid": u, "perm": "repository.read"}),
        ("revoke_user_permission", {"repoid": r, "userid": u}),
        ("grant_user_group_permission", {"repoid": r, "usergroupid": g, "perm": "repository.read"}),
        ("revoke_user_group_permission", {"repoid": r, "usergroupid": g}),
        ("delete_repo", {"repoid": r, "forks": "delete"}),
        ("create_gist", {"files": {"a.txt": {"content": "x\n"}}}),
        ("delete_user", {"userid": u}),
    ]
    for method, args in steps:
        EXERCISED["rhodecode"].add(method)
        answer = await old.gw(method, args, dialect="rhodecode", key=old.kallithea.admin_key, key_field="auth_token")
        assert answer["error"] is None, (method, args, answer)
        assert shapes.foreign(answer["result"], recorded422.results(method)) == [], (method, answer["result"])
        assert shapes.missing_from(answer["result"], recorded422.results(method)) == [], (method, answer["result"])
    EXERCISED["rhodecode"].add("update_repo")
    failed = await old.gw("update_repo", {"repoid": rc1_data["repo"], "description": "x"}, dialect="rhodecode",
                          key=old.kallithea.admin_key, key_field="auth_token")
    assert failed["error"] == f"failed to update repo `{rc1_data['repo']}`"  # 1.7.2's own failure


@pytest.mark.parametrize("method", sorted(m for m in documented("rhodecode") if m in CANNOT_SERVE))
async def test_what_the_old_server_cannot_do_is_refused_to_modern_callers(old, method):
    EXERCISED["rhodecode"].add(method)
    answer = await old.gw(method, {}, dialect="rhodecode", key=old.kallithea.admin_key, key_field="auth_token")
    assert answer["result"] is None
    assert answer["error"] == REFUSAL.format(method=method, reason=CANNOT_SERVE[method]), answer


def test_every_method_of_both_dialects_was_exercised(request):
    from .test_every_method_kallithea import whole_module_ran

    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    for dialect in ("kallithea", "rhodecode"):
        assert EXERCISED[dialect] == documented(dialect), (dialect, sorted(documented(dialect) - EXERCISED[dialect]))
