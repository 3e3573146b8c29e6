"""Kallithea and RhodeCode 1.x callers in front of a modern RhodeCode (the 4.22 stand-in): every method
of both dialects, walked against the real servers those callers were written for.

The backend is tests/standin/rhodecode/, a TEST STAND-IN that answers as the recorded RhodeCode CE 4.22
did (tests/standin/test_replay_recordings.py keeps it so). Each caller dialect's every method is sent
through rcgate, and the same steps go straight to that dialect's own real server (Kallithea 0.7.0,
RhodeCode 1.7.2) on twin objects. Each pair of answers must have the same outcome (errors word for
word, names swapped), the same top-level keys for wrapper results ({msg, ...}), nothing at any depth
that the caller's own server would not send (a key, or a value of another kind), and every key it sends. Methods the modern
server cannot serve are refused with the reason the mapping files give.
"""
from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp
import pytest
import yaml

from gateway.app import create_app
from tests import shapes

from .conftest import REPO_ROOT, _loads, gateway_config, unique
from .test_every_method_kallithea import documented, whole_module_ran

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

RULES = {d: yaml.safe_load((REPO_ROOT / "mappings" / f"{d}.yaml").read_text()) for d in ("kallithea", "rhodecode1",
                                                                                        "rhodecode")}
EXERCISED: dict[str, set[str]] = {"kallithea": set(), "rhodecode1": set()}
FILES = {"walk.txt": {"content": "walk\n", "lexer": None}}


@dataclass
class Side:
    """One place a step is sent: through rcgate to the stand-in, or straight to the caller's own server."""

    send: Callable[[str, dict], Awaitable[dict]]
    names: dict[str, Any] = field(default_factory=dict)

    def fill(self, args: dict) -> dict:
        def one(v: Any) -> Any:  # "$a" is name a; "$a/$b" the path of b inside a; "x/$b" b inside x
            if not isinstance(v, str) or "$" not in v:
                return v
            parts = [self.names[p[1:]] if p.startswith("$") else p for p in v.split("/")]
            return parts[0] if len(parts) == 1 else "/".join(str(p) for p in parts)
        return {k: one(v) for k, v in args.items()}


def post_sync(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.load(res)


def server_side(server, key_field: str = "api_key") -> Side:
    async def send(method: str, args: dict) -> dict:
        body = {"id": 1, key_field: server.admin_key, "method": method, "args": args}
        async with aiohttp.ClientSession() as s, s.post(server.api_url, data=json.dumps(body).encode(),
                                                        headers={"Content-Type": "application/json"}) as r:
            return _loads(await r.read())
    return Side(send)


async def gateway_side(aiohttp_client, standin, tmp_path, dialect: str, backend_dialect: str = "rhodecode",
                       key: str | None = None) -> Side:
    """rcgate in front of `standin` (any server with a `url`), spoken to in `dialect`."""
    client = await aiohttp_client(create_app(gateway_config(standin.url, tmp_path / "audit.jsonl",
                                                            backend_dialect=backend_dialect)))

    async def send(method: str, args: dict) -> dict:
        EXERCISED.setdefault(dialect, set()).add(method)
        body = {"id": 1, "api_key": key or standin.admin_token, "method": method, "args": args}
        r = await client.post(f"/{dialect}/_admin/api", data=json.dumps(body).encode(),
                              headers={"Content-Type": "text/plain"})
        assert r.status == 200
        return _loads(await r.read())
    return Side(send)


async def standin_direct(standin, method: str, args: dict) -> Any:
    body = {"id": 1, "auth_token": standin.admin_token, "method": method, "args": args}
    async with aiohttp.ClientSession() as s, s.post(standin.api_url, data=json.dumps(body).encode()) as r:
        answer = json.loads(await r.read())
    assert answer["error"] is None, (method, args, answer)
    return answer["result"]


def compare(method: str, args: dict, through: dict, own: dict, sides: tuple[Side, Side]) -> list[str]:
    """What a script of this dialect would notice between the two answers (empty: nothing)."""
    where = f"{method}({json.dumps(args)[:80]})"
    if set(through) != {"id", "result", "error"}:
        return [f"{where}: envelope {sorted(through)}"]
    if own["error"] is not None:
        text = own["error"]
        for k, v in sides[1].names.items():
            if isinstance(v, str) and k in sides[0].names and len(v) > 3:
                text = text.replace(v, str(sides[0].names[k]))
        if through["error"] != text or through["result"] is not None:
            return [f"{where}: error {through['error']!r}, its own server says {text!r}"]
        return []
    if through["error"] is not None:
        return [f"{where}: error {through['error']!r}, its own server answers {json.dumps(own['result'])[:200]}"]
    out = [f"{where}: {p}" for p in shapes.foreign(through["result"], [own["result"]])]
    out += [f"{where}: lacks {p}" for p in shapes.missing(through["result"], own["result"])]
    mine, theirs = through["result"], own["result"]
    if isinstance(theirs, dict) and ("msg" in theirs or "success" in theirs) and isinstance(mine, dict):
        if set(mine) != set(theirs):
            out.append(f"{where}: keys {sorted(mine)}, its own server {sorted(theirs)}")
    if type(mine) is not type(theirs) and not (theirs is None or mine is None):
        out.append(f"{where}: a {type(mine).__name__}, its own server a {type(theirs).__name__}")
    return out


async def walk(steps: list[tuple], through: Side, own: Side) -> list[str]:
    """Each step is (method, args) or (method, args, how): `how` is the method name the caller's own server
    has for it, or a check of the answer where that server cannot answer itself."""
    problems: list[str] = []
    for method, args, *how in steps:
        answer = await through.send(method, through.fill(args))
        if how and callable(how[0]):
            problems += [f"{method}: {p}" for p in how[0](answer)]
            continue
        reference = await own.send(how[0] if how else method, own.fill(args))
        problems += compare(method, args, answer, reference, (through, own))
    return problems


def rc1_update_repo(answer: dict) -> list[str]:
    """RhodeCode 1.7.2's own update_repo fails on every call (a bug of that server); its code answers
    {msg: "updated repo ID:<id> <name>", repository: <repo>} (FACTS.md 6)."""
    result = answer["result"]
    if answer["error"] is not None or set(result) != {"msg", "repository"} or not result["msg"].startswith(
            "updated repo ID:"):
        return [f"not 1.x's update_repo answer: {answer}"]
    return [f"repository.{p}" for p in sorted(set(result["repository"]) - RC1_REPO)]


RC1_REPO = {"repo_id", "repo_name", "repo_type", "clone_uri", "private", "created_on", "description", "landing_rev",
            "owner", "fork_of", "enable_statistics", "enable_locking", "enable_downloads", "last_changeset",
            "locked_by", "locked_date"}  # RhodeCode 1.6 - 1.7.2 (FACTS.md 5.3)


def refused_methods(dialect: str) -> list[str]:
    """This dialect's methods that a modern backend cannot serve, itself or composed of its methods."""
    from gateway.mapping.engine import compile_mappings
    from gateway.mapping.loader import load_mappings

    dialects = compile_mappings(load_mappings(REPO_ROOT / "mappings")).dialects
    modern, mine = dialects["rhodecode"], dialects[dialect]
    return sorted(m for m in documented(dialect) if (o := modern.outbound.get(mine.inbound[m].canonical)) is None
                  or o.unsupported)


# --------------------------------------------------------------------------------- Kallithea

KALLITHEA_STEPS = [
    ("get_ip", {}), ("get_ip", {"userid": "$user"}), ("show_ip", {"userid": "$user"}), ("get_server_info", {}),
    ("test", {"args": {"a": [1, "x"]}}),
    ("get_user", {}), ("get_user", {"userid": "$user"}), ("get_user", {"userid": "no-such-user"}), ("get_users", {}),
    ("get_user_group", {"usergroupid": "$group"}), ("get_user_groups", {}),
    ("get_user_group", {"usergroupid": "no-such-group"}),
    ("get_repo", {"repoid": "$repo"}), ("get_repo", {"repoid": "no-such-repo"}), ("get_repos", {}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "files"}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "bogus"}),
    ("get_changeset", {"repoid": "$repo", "raw_id": "$raw_id"}),
    ("get_changesets", {"repoid": "$repo"}), ("get_changesets", {"repoid": "$repo", "max_revisions": 1}),
    ("get_changesets", {"repoid": "$repo", "with_file_list": True}),
    ("get_pullrequest", {"pullrequest_id": 424242}),
    ("comment_pullrequest", {"pull_request_id": 424242, "comment_msg": "walk"}),
    ("edit_reviewers", {"pull_request_id": 424242, "add": ["$user"]}),
    ("invalidate_cache", {"repoid": "$repo"}), ("pull", {"repoid": "$mirror"}), ("rescan_repos", {}),
    ("get_repo_group", {"repogroupid": "$repo_group"}), ("get_repo_groups", {}),
    ("get_gist", {"gistid": "$gist"}), ("get_gists", {}),
    # writes, on objects made here
    ("create_user", {"username": "$u", "email": "$u_email", "password": "Secr3tPass", "firstname": "Walk"}),
    ("create_user", {"username": "$u", "email": "$u_email"}),  # already exists
    ("update_user", {"userid": "$u", "lastname": "Kallithea", "active": True}),
    ("create_user_group", {"group_name": "$g", "description": "walk", "active": True}),
    ("update_user_group", {"usergroupid": "$g", "description": "walked"}),
    ("add_user_to_user_group", {"usergroupid": "$g", "userid": "$u"}),
    ("add_user_to_user_group", {"usergroupid": "$g", "userid": "$u"}),
    ("remove_user_from_user_group", {"usergroupid": "$g", "userid": "$u"}),
    ("create_repo_group", {"group_name": "$rg", "description": "walk"}),
    ("create_repo_group", {"group_name": "$rg_child", "parent": "$rg"}),
    ("update_repo_group", {"repogroupid": "$rg/$rg_child", "description": "walked"}),
    ("grant_user_permission_to_repo_group", {"repogroupid": "$rg", "userid": "$u", "perm": "group.read"}),
    ("revoke_user_permission_from_repo_group", {"repogroupid": "$rg", "userid": "$u"}),
    ("grant_user_group_permission_to_repo_group", {"repogroupid": "$rg", "usergroupid": "$g",
                                                   "perm": "group.write", "apply_to_children": "all"}),
    ("revoke_user_group_permission_from_repo_group", {"repogroupid": "$rg", "usergroupid": "$g"}),
    ("create_repo", {"repo_name": "$rg/$r", "repo_type": "hg", "description": "walk"}),
    ("create_repo", {"repo_name": "$rg/$r", "repo_type": "hg"}),  # already exists
    ("create_repo", {"repo_name": "no-such-group/$r", "repo_type": "hg"}),
    ("update_repo", {"repoid": "$rg/$r", "description": "walked", "private": False}),
    ("fork_repo", {"repoid": "$rg/$r", "fork_name": "$f"}),
    ("grant_user_permission", {"repoid": "$rg/$r", "userid": "$u", "perm": "repository.write"}),
    ("grant_user_permission", {"repoid": "$rg/$r", "userid": "$u", "perm": "repository.bogus"}),
    ("revoke_user_permission", {"repoid": "$rg/$r", "userid": "$u"}),
    ("grant_user_group_permission", {"repoid": "$rg/$r", "usergroupid": "$g", "perm": "repository.read"}),
    ("revoke_user_group_permission", {"repoid": "$rg/$r", "usergroupid": "$g"}),
    ("delete_repo", {"repoid": "$rg/$r", "forks": "detach"}),
    ("delete_repo", {"repoid": "$f"}),
    ("delete_repo_group", {"repogroupid": "$rg/$rg_child"}),
    ("delete_repo_group", {"repogroupid": "$rg"}),
    ("create_gist", {"files": FILES, "description": "walk", "gist_type": "public", "lifetime": "60"}),
    ("delete_gist", {"gistid": "$gist"}),
    ("delete_gist", {"gistid": "$gist"}),  # gone
    ("delete_user_group", {"usergroupid": "$g"}),
    ("delete_user", {"userid": "$u"}),
]


def kallithea_side_names(side: Side) -> None:
    side.names.update(u=unique("wu"), g=unique("wg"), r=unique("wr"), f=unique("wf"), rg=unique("wrg"),
                      rg_child=unique("wc"))
    side.names["u_email"] = f"{side.names['u']}@example.com"


async def test_kallithea_callers_see_kallitheas_shapes_from_a_modern_backend(rhodecode_standin, kallithea,
                                                                             aiohttp_client, tmp_path, hg_remote):
    standin = rhodecode_standin
    through = await gateway_side(aiohttp_client, standin, tmp_path, "kallithea")
    own = server_side(kallithea)
    for side in (through, own):
        kallithea_side_names(side)
        side.names.update(user=unique("eu"), group=unique("eg"), repo_group=unique("erg"), mirror=unique("em"))
    # the same objects on both: a user in a user group, a repository with files, a mirror, a group, a gist
    repo = unique("ewalk")
    post = lambda m, a: post_sync(kallithea.api_url, {"id": 1, "api_key": kallithea.admin_key, "method": m,  # noqa
                                                      "args": a})
    own.names.update(repo=repo, gist=None)
    for m, a in (("create_user", {"username": own.names["user"], "email": f"{own.names['user']}@example.com"}),
                 ("create_user_group", {"group_name": own.names["group"]}),
                 ("add_user_to_user_group", {"usergroupid": own.names["group"], "userid": own.names["user"]}),
                 ("create_repo", {"repo_name": repo, "repo_type": "hg", "clone_uri": hg_remote}),
                 ("create_repo", {"repo_name": own.names["mirror"], "repo_type": "hg", "clone_uri": hg_remote}),
                 ("create_repo_group", {"group_name": own.names["repo_group"]})):
        assert post(m, a)["error"] is None, (m, a)
    own.names["gist"] = post("create_gist", {"files": FILES, "gist_type": "private"})["result"]["gist"]["access_id"]
    own.names["raw_id"] = post("get_changesets", {"repoid": repo})["result"][0]["raw_id"]
    t = through.names
    await standin_direct(standin, "create_user", {"username": t["user"], "email": f"{t['user']}@example.com"})
    await standin_direct(standin, "create_user_group", {"group_name": t["group"]})
    await standin_direct(standin, "add_user_to_user_group", {"usergroupid": t["group"], "userid": t["user"]})
    await standin_direct(standin, "create_repo", {"repo_name": t["mirror"], "repo_type": "hg",
                                                  "clone_uri": f"{standin.url}/demo-hg"})
    await standin_direct(standin, "create_repo_group", {"group_name": t["repo_group"]})
    t["repo"] = "demo-hg"  # a recorded repository with files and commits
    t["raw_id"] = (await standin_direct(standin, "get_repo", {"repoid": "demo-hg"}))["last_changeset"]["raw_id"]
    t["gist"] = (await standin_direct(standin, "create_gist", {"files": FILES, "gist_type": "private"}))[
        "gist"]["access_id"]
    problems = await walk(KALLITHEA_STEPS, through, own)
    assert problems == [], "\n" + "\n".join(problems)


def test_no_method_of_either_dialect_is_refused_by_a_modern_backend():
    assert refused_methods("kallithea") == [] and refused_methods("rhodecode1") == []


# --------------------------------------------------------------------------------- RhodeCode 1.x

RC1_STEPS = [
    ("show_ip", {"userid": "$user"}), ("get_user", {}), ("get_user", {"userid": "$user"}),
    ("get_user", {"userid": "no-such-user"}), ("get_users", {}),
    ("get_users_group", {"usersgroupid": "$group"}), ("get_users_groups", {}),
    ("get_users_group", {"usersgroupid": "no-such-group"}),
    ("get_repo", {"repoid": "$repo"}), ("get_repo", {"repoid": "no-such-repo"}), ("get_repos", {}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": ""}),
    ("get_repo_nodes", {"repoid": "$repo", "revision": "tip", "root_path": "", "ret_type": "dirs"}),
    ("invalidate_cache", {"repoid": "$repo"}), ("pull", {"repoid": "$mirror"}), ("rescan_repos", {}),
    ("lock", {"repoid": "$mirror"}), ("get_locks", {}),
    ("create_user", {"username": "$u", "email": "$u_email", "password": "Secr3tPass", "firstname": "Walk"}),
    ("update_user", {"userid": "$u", "lastname": "Old"}),
    ("create_users_group", {"group_name": "$g"}),
    ("add_user_to_users_group", {"usersgroupid": "$g", "userid": "$u"}),
    ("add_user_users_group", {"usersgroupid": "$g", "userid": "$u"}, "add_user_to_users_group"),  # the docs' name
    ("remove_user_from_users_group", {"usersgroupid": "$g", "userid": "$u"}),
    ("create_repo", {"repo_name": "$r", "repo_type": "hg", "owner": "admin", "description": "walk"}),
    ("update_repo", {"repoid": "$r", "description": "walked"}, rc1_update_repo),
    ("fork_repo", {"repoid": "$r", "fork_name": "$f"}),
    ("grant_user_permission", {"repoid": "$r", "userid": "$u", "perm": "repository.write"}),
    ("revoke_user_permission", {"repoid": "$r", "userid": "$u"}),
    ("grant_users_group_permission", {"repoid": "$r", "usersgroupid": "$g", "perm": "repository.read"}),
    ("revoke_users_group_permission", {"repoid": "$r", "usersgroupid": "$g"}),
    ("delete_repo", {"repoid": "$r", "forks": "detach"}),
    ("delete_repo", {"repoid": "$f"}),
    ("create_gist", {"files": FILES, "description": "walk", "lifetime": "60"}),
    ("delete_user", {"userid": "$u"}),
]


async def test_rhodecode1_callers_see_17s_shapes_from_a_modern_backend(rhodecode_standin, rhodecode17, aiohttp_client,
                                                                       tmp_path, hg_remote):
    standin = rhodecode_standin
    through = await gateway_side(aiohttp_client, standin, tmp_path, "rhodecode1")
    own = server_side(rhodecode17)
    for side in (through, own):
        side.names.update(u=unique("ou"), g=unique("og"), r=unique("or"), f=unique("of"), user=unique("ou1"),
                          group=unique("og1"), mirror=unique("om"))
        side.names["u_email"] = f"{side.names['u']}@example.com"
    o = own.names
    post = lambda m, a: post_sync(rhodecode17.api_url, {"id": 1, "api_key": rhodecode17.admin_key,  # noqa: E731
                                                        "method": m, "args": a})
    o["repo"] = unique("owalk")
    for m, a in (("create_user", {"username": o["user"], "email": f"{o['user']}@example.com", "password": "Pass1234"}),
                 ("create_users_group", {"group_name": o["group"]}),
                 ("add_user_to_users_group", {"usersgroupid": o["group"], "userid": o["user"]}),
                 ("create_repo", {"repo_name": o["repo"], "repo_type": "hg", "owner": "admin", "clone_uri": hg_remote}),
                 ("create_repo", {"repo_name": o["mirror"], "repo_type": "hg", "owner": "admin",
                                  "clone_uri": hg_remote})):
        assert post(m, a)["error"] is None, (m, a)
    t = through.names
    await standin_direct(standin, "create_user", {"username": t["user"], "email": f"{t['user']}@example.com"})
    await standin_direct(standin, "create_user_group", {"group_name": t["group"]})
    await standin_direct(standin, "add_user_to_user_group", {"usergroupid": t["group"], "userid": t["user"]})
    await standin_direct(standin, "create_repo", {"repo_name": t["mirror"], "repo_type": "hg",
                                                  "clone_uri": f"{standin.url}/demo-hg"})
    t["repo"] = "demo-hg"
    problems = await walk(RC1_STEPS, through, own)
    assert problems == [], "\n" + "\n".join(problems)


# --------------------------------------------------------------------------------- completeness


def test_every_method_of_both_dialects_was_walked(request):
    if not whole_module_ran(request, __name__):
        pytest.skip("only part of the module was selected")
    for dialect in EXERCISED:
        assert EXERCISED[dialect] == documented(dialect), (dialect, sorted(documented(dialect) - EXERCISED[dialect]))
