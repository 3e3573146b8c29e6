"""RhodeCode 1.x callers in front of the real Kallithea 0.7.0, compared with the real RhodeCode 1.7.2.

Every RhodeCode 1.x method goes through rcgate (backend: Kallithea) and, on twin objects, straight to
RhodeCode 1.7.2, as in test_legacy_callers_on_422.py: the same outcome (errors word for word, names
swapped), and at every depth the same keys with values of the same kind, both ways (nothing 1.7.2 would
not send, nothing it sends missing). The repository walked has a user and a users group as members, so
that `get_repo`'s members are compared as the whole user and users-group objects 1.7 answered. The
methods Kallithea 0.7 cannot serve would be refused with the reason, in 1.x words (there are none:
`lock` and `get_locks` are composed, as nothing is ever locked on Kallithea).
"""
from __future__ import annotations

import pytest

from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings

from .conftest import REPO_ROOT, unique
from .test_legacy_callers_on_422 import RC1_STEPS, gateway_side, post_sync, server_side, walk

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]


def refused_by_kallithea() -> set[str]:
    dialects = compile_mappings(load_mappings(REPO_ROOT / "mappings")).dialects
    rc1, kallithea = dialects["rhodecode1"], dialects["kallithea"]
    return {m for m, _, *_ in RC1_STEPS
            if (o := kallithea.outbound.get(rc1.inbound[m].canonical)) is None or o.unsupported}


async def test_rhodecode1_callers_see_17s_shapes_from_kallithea(kallithea, rhodecode17, aiohttp_client, tmp_path,
                                                                hg_remote):
    through = await gateway_side(aiohttp_client, kallithea, tmp_path, "rhodecode1", backend_dialect="kallithea",
                                 key=kallithea.admin_key)
    own = server_side(rhodecode17)
    for side in (through, own):
        side.names.update(u=unique("ku"), g=unique("kg"), r=unique("kr"), f=unique("kf"), user=unique("ku1"),
                          group=unique("kg1"), repo=unique("kwalk"), mirror=unique("km"))
        side.names["u_email"] = f"{side.names['u']}@example.com"
    o, t = own.names, through.names

    def on_17(m: str, a: dict) -> None:
        answer = post_sync(rhodecode17.api_url, {"id": 1, "api_key": rhodecode17.admin_key, "method": m, "args": a})
        assert answer["error"] is None, (m, a, answer)

    def on_kallithea(m: str, a: dict) -> None:
        answer = post_sync(kallithea.api_url, {"id": 1, "api_key": kallithea.admin_key, "method": m, "args": a})
        assert answer["error"] is None, (m, a, answer)

    # the same objects on both: a user in a users group, a repository with a file where both are members
    for m, a in (("create_user", {"username": o["user"], "email": f"{o['user']}@example.com", "password": "Pass1234"}),
                 ("create_users_group", {"group_name": o["group"]}),
                 ("add_user_to_users_group", {"usersgroupid": o["group"], "userid": o["user"]}),
                 ("create_repo", {"repo_name": o["repo"], "repo_type": "hg", "owner": "admin", "clone_uri": hg_remote}),
                 ("create_repo", {"repo_name": o["mirror"], "repo_type": "hg", "owner": "admin", "clone_uri": hg_remote}),
                 ("grant_user_permission", {"repoid": o["repo"], "userid": o["user"], "perm": "repository.write"}),
                 ("grant_users_group_permission", {"repoid": o["repo"], "usersgroupid": o["group"],
                                                   "perm": "repository.read"})):
        on_17(m, a)
    for m, a in (("create_user", {"username": t["user"], "email": f"{t['user']}@example.com", "password": "Pass1234"}),
                 ("create_user_group", {"group_name": t["group"]}),
                 ("add_user_to_user_group", {"usergroupid": t["group"], "userid": t["user"]}),
                 ("create_repo", {"repo_name": t["repo"], "repo_type": "hg", "clone_uri": hg_remote}),
                 ("create_repo", {"repo_name": t["mirror"], "repo_type": "hg", "clone_uri": hg_remote}),
                 ("grant_user_permission", {"repoid": t["repo"], "userid": t["user"], "perm": "repository.write"}),
                 ("grant_user_group_permission", {"repoid": t["repo"], "usergroupid": t["group"],
                                                  "perm": "repository.read"})):
        on_kallithea(m, a)

    refused = refused_by_kallithea()  # none today: Kallithea's missing locks are composed (nothing is locked)
    for method in sorted(refused):
        answer = await through.send(method, through.fill(next(a for m, a, *_ in RC1_STEPS if m == method)))
        assert answer["result"] is None and "is not supported by the server behind this gateway" in answer["error"]

    members = (await through.send("get_repo", {"repoid": t["repo"]}))["result"]["members"]
    assert {m["type"] for m in members} >= {"user", "users_group"}, members  # both kinds are compared below
    problems = await walk([s for s in RC1_STEPS if s[0] not in refused], through, own)
    assert problems == [], "\n" + "\n".join(problems)
