"""Composed methods: a method the backend lacks, answered with methods it has (canonical.yaml `composed:`),
and calls a server made itself first (`before:`), each checked on the servers themselves.

Kallithea callers in front of a modern backend (the 4.22 stand-in) use get_changesets, get_pullrequest,
comment_pullrequest and edit_reviewers; modern callers in front of the real Kallithea use its pull request
and changeset methods and its missing locks; RhodeCode 1.x callers create a repository in groups that do
not exist yet, and modern callers a nested group, on a server that does not create parents.
"""
from __future__ import annotations

import json

import aiohttp
import pytest
import yaml

from gateway.app import create_app
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings
from tests import recorded422, shapes

from .conftest import REPO_ROOT, Rpc, _loads, gateway_config, unique
from .test_every_method_kallithea import data, direct_sync, documented  # noqa: F401

pytestmark = pytest.mark.kallithea

MAPPINGS = compile_mappings(load_mappings(REPO_ROOT / "mappings"))
# Kallithea 0.7.0's own pull request object (kallithea/model/db.py PullRequest.__json__)
KALLITHEA_PR = {"pull_request_id", "url", "reviewers", "revisions", "owner", "title", "description", "org_repo_url",
                "org_ref_parts", "other_ref_parts", "status", "comments", "statuses", "created_on", "updated_on"}


@pytest.fixture
async def modern_backend(rhodecode_standin, aiohttp_client, tmp_path) -> Rpc:
    app = create_app(gateway_config(rhodecode_standin.url, tmp_path / "audit.jsonl", backend_dialect="rhodecode"))
    return Rpc(await aiohttp_client(app), rhodecode_standin, tmp_path / "audit.jsonl")


async def standin_direct(standin, method: str, args: dict) -> dict:
    body = {"id": 1, "auth_token": standin.admin_token, "method": method, "args": args}
    async with aiohttp.ClientSession() as s, s.post(standin.api_url, data=json.dumps(body).encode()) as r:
        return _loads(await r.read())


def sent(standin) -> list[tuple[str, dict]]:
    return [(r.body["method"], r.body["args"]) for r in standin.received]


# ------------------------------------------------------------------ Kallithea callers, modern backend


async def test_get_changesets_from_get_repo_changesets_with_kallitheas_filters(modern_backend):
    rc = modern_backend
    commits = (await standin_direct(rc.kallithea, "get_repo_changesets", {"repoid": "demo-hg", "start_rev": "",
                                                                        "limit": 100}))["result"]
    everything = await rc.ok("get_changesets", {"repoid": "demo-hg"}, dialect="kallithea")
    assert [c["raw_id"] for c in everything] == [c["raw_id"] for c in commits]  # oldest first, as Kallithea
    assert all(set(c) == {"short_id", "raw_id", "revision", "message", "date", "author"} for c in everything)
    newest = await rc.ok("get_changesets", {"repoid": "demo-hg", "max_revisions": 1}, dialect="kallithea")
    assert [c["raw_id"] for c in newest] == [commits[-1]["raw_id"]]  # Kallithea: max_revisions keeps the newest
    backwards = await rc.ok("get_changesets", {"repoid": "demo-hg", "reverse": True}, dialect="kallithea")
    assert [c["raw_id"] for c in backwards] == [c["raw_id"] for c in commits][::-1]
    upto = await rc.ok("get_changesets", {"repoid": "demo-hg", "end": commits[1]["raw_id"]}, dialect="kallithea")
    assert [c["raw_id"] for c in upto] == [c["raw_id"] for c in commits[:2]]
    assert sent(rc.kallithea)[-1] == ("get_repo_changesets", {"repoid": "demo-hg", "start_rev": "", "limit": 100000,
                                                              "details": "basic"})
    # the file lists: the commits with their diffs (only then: they cost the server a diff per commit)
    listed = await rc.ok("get_changesets", {"repoid": "demo-hg", "with_file_list": True}, dialect="kallithea")
    assert sent(rc.kallithea)[-1][1]["details"] == "extended"
    extended = (await standin_direct(rc.kallithea, "get_repo_changesets", {"repoid": "demo-hg", "start_rev": "",
                                                                         "limit": 100, "details": "extended"}))["result"]
    for mine, theirs in zip(listed, extended, strict=True):
        assert set(mine) == {"short_id", "raw_id", "revision", "message", "date", "author", "added", "changed", "removed"}
        assert sorted(mine["added"] + mine["changed"] + mine["removed"]) == sorted(d["filename"] for d in theirs["diff"])
        assert mine["added"] == [d["filename"] for d in theirs["diff"] if d["op"] == "A"]
    assert any(c["added"] for c in listed)


async def test_get_pullrequest_from_the_pull_request_and_its_comments(modern_backend):
    rc = modern_backend
    pr = await rc.ok("get_pullrequest", {"pullrequest_id": 1}, dialect="kallithea")
    assert set(pr) == KALLITHEA_PR
    modern = (await standin_direct(rc.kallithea, "get_pull_request", {"pullrequestid": 1}))["result"]
    assert pr["revisions"] == modern["commit_ids"] and pr["owner"] == modern["author"]["username"]
    assert pr["other_ref_parts"] == ["branch", "master", modern["target"]["reference"]["commit_id"]]
    assert [r["username"] for r in pr["reviewers"]] == [r["user"]["username"] for r in modern["reviewers"]]
    comments = (await standin_direct(rc.kallithea, "get_pull_request_comments", {"pullrequestid": 1}))["result"]
    assert [c["comment_id"] for c in pr["comments"]] == [c["comment_id"] for c in comments]
    assert [m for m, _ in sent(rc.kallithea)[-2:]] == ["get_pull_request", "get_pull_request_comments"]
    assert (await rc.gw("get_pullrequest", {"pullrequest_id": 999}, dialect="kallithea"))["error"] == (
        "pull request `999` does not exist")


async def test_comment_and_close_with_comment_pullrequest(modern_backend):
    rc = modern_backend
    made = await standin_direct(rc.kallithea, "create_pull_request", {
        "source_repo": "demo-pr", "target_repo": "demo-pr", "source_ref": "branch:feature",
        "target_ref": "branch:master"})
    pr_id = made["result"]["pull_request_id"]
    assert await rc.ok("comment_pullrequest", {"pull_request_id": pr_id, "comment_msg": "looks good",
                                               "status": "approved"}, dialect="kallithea") is True
    comments = (await standin_direct(rc.kallithea, "get_pull_request_comments", {"pullrequestid": pr_id}))["result"]
    assert "looks good" in [c["comment_text"] for c in comments]
    assert await rc.ok("comment_pullrequest", {"pull_request_id": pr_id, "comment_msg": "closing", "close_pr": True},
                       dialect="kallithea") is True
    assert sent(rc.kallithea)[-1] == ("close_pull_request", {"pullrequestid": pr_id, "message": "closing"})
    assert (await standin_direct(rc.kallithea, "get_pull_request", {"pullrequestid": pr_id}))["result"]["status"] == (
        "closed")


async def test_edit_reviewers_with_update_pull_request(modern_backend):
    rc = modern_backend
    made = await standin_direct(rc.kallithea, "create_pull_request", {
        "source_repo": "demo-pr", "target_repo": "demo-pr", "source_ref": "branch:feature",
        "target_ref": "branch:master", "reviewers": [{"username": "admin"}]})
    pr_id = made["result"]["pull_request_id"]
    answer = await rc.ok("edit_reviewers", {"pull_request_id": pr_id, "add": ["regular_user", "admin"],
                                            "remove": []}, dialect="kallithea")
    assert answer == {"added": ["regular_user"], "already_present": ["admin"], "removed": []}
    now = (await standin_direct(rc.kallithea, "get_pull_request", {"pullrequestid": pr_id}))["result"]
    assert {r["user"]["username"] for r in now["reviewers"]} == {"admin", "regular_user"}
    answer = await rc.ok("edit_reviewers", {"pull_request_id": pr_id, "remove": "admin"}, dialect="kallithea")
    assert answer == {"added": [], "already_present": [], "removed": ["admin"]}
    now = (await standin_direct(rc.kallithea, "get_pull_request", {"pullrequestid": pr_id}))["result"]
    assert [r["user"]["username"] for r in now["reviewers"]] == ["regular_user"]


def test_no_kallithea_method_is_refused_in_front_of_a_modern_backend():
    modern, kallithea = MAPPINGS.dialects["rhodecode"], MAPPINGS.dialects["kallithea"]
    refused = [m for m in documented("kallithea")
               if (o := modern.outbound.get(kallithea.inbound[m].canonical)) is None or o.unsupported]
    assert refused == []


# ------------------------------------------------------------------ modern callers, Kallithea backend


async def test_modern_pull_request_methods_reach_kallitheas(rpc, data):
    answer = await rpc.gw("get_pull_request", {"pullrequestid": 424242}, dialect="rhodecode", key_field="auth_token")
    assert answer["error"] == "pull request `424242` does not exist"  # Kallithea's get_pullrequest answered it
    assert await rpc.ok("get_pull_requests", {"repoid": data["repo"]}, dialect="rhodecode", key_field="auth_token") == []
    for method, args in (("comment_pull_request", {"pullrequestid": 424242, "message": "x"}),
                         ("close_pull_request", {"pullrequestid": 424242}),
                         ("update_pull_request", {"pullrequestid": 424242, "reviewers": [{"username": "x"}]})):
        answer = await rpc.gw(method, args, dialect="rhodecode", key_field="auth_token")
        assert answer["error"] == "pull request `424242` does not exist", (method, answer)
    refused = await rpc.gw("update_pull_request", {"pullrequestid": 1, "title": "new"}, dialect="rhodecode",
                           key_field="auth_token")
    assert refused["error"] == ("Argument `title` of `update_pull_request` is not supported by the server behind "
                                "this gateway")


async def test_get_repo_changesets_from_kallitheas_get_changesets(rpc, data):
    commits = await rpc.ok("get_repo_changesets", {"repoid": data["repo"], "start_rev": data["raw_id"], "limit": 5},
                           dialect="rhodecode", key_field="auth_token")
    own = await rpc.direct_ok("get_changesets", {"repoid": data["repo"], "start": data["raw_id"]})
    assert [c["raw_id"] for c in commits] == [c["raw_id"] for c in own][:5]
    assert shapes.foreign(commits, recorded422.results("get_repo_changesets")) == []
    assert await rpc.ok("get_repo_changesets", {"repoid": data["repo"], "start_rev": data["raw_id"], "limit": 0},
                        dialect="rhodecode", key_field="auth_token") == []


async def test_locks_on_a_server_without_locking(rpc, data):
    state = await rpc.ok("lock", {"repoid": data["repo"]}, dialect="rhodecode", key_field="auth_token")
    assert state == {"locked": False, "locked_since": None, "lock_reason": None, "locked_by": None,
                     "repo": data["repo"], "lock_state_changed": False, "msg": f"Repo `{data['repo']}` not locked."}
    assert shapes.foreign(state, recorded422.results("lock")) == []
    assert await rpc.ok("get_user_locks", {}, dialect="rhodecode", key_field="auth_token") == []
    assert await rpc.ok("get_locks", {}, dialect="rhodecode", key_field="auth_token") == []
    assert (await rpc.gw("get_user_locks", {"userid": "no-such-user-x"}, dialect="rhodecode",
                         key_field="auth_token"))["error"] == "user `no-such-user-x` does not exist"
    refused = await rpc.gw("lock", {"repoid": data["repo"], "locked": True}, dialect="rhodecode", key_field="auth_token")
    assert refused["error"] == "Argument `locked` of `lock` is not supported by the server behind this gateway"
    gone = await rpc.gw("lock", {"repoid": "no-such-repo-x"}, dialect="rhodecode", key_field="auth_token")
    assert gone["error"] == "repository `no-such-repo-x` does not exist"


def test_at_most_13_of_seed_000s_methods_are_refused_in_front_of_kallithea():
    """Those left have no counterpart in Kallithea 0.7's API at all (no method strips, merges or creates a pull
    request, comments on a changeset, sets extra fields or user-group permissions, or manages a license)."""
    seed_000 = set(yaml.safe_load((REPO_ROOT / "tests" / "reference" / "seed000-methods.yaml").read_text()))
    modern, kallithea = MAPPINGS.dialects["rhodecode"], MAPPINGS.dialects["kallithea"]
    refused = sorted(m for m in seed_000 if (o := kallithea.outbound.get(modern.inbound[m].canonical)) is None
                     or o.unsupported)
    assert len(seed_000) == 64
    assert refused == ["add_field_to_repo", "changeset_comment", "comment_commit", "create_pull_request",
                       "get_license_info", "grant_user_group_permission_to_user_group",
                       "grant_user_permission_to_user_group", "merge_pull_request", "remove_field_from_repo",
                       "revoke_user_group_permission_from_user_group", "revoke_user_permission_from_user_group",
                       "set_license_key", "strip"]


# ------------------------------------------------------------------ parents created first


async def test_a_nested_group_gets_its_missing_parents_on_kallithea(rpc, kallithea):
    top = unique("ptop")
    path = f"{top}/mid/leaf"
    made = await rpc.ok("create_repo_group", {"group_name": path}, dialect="rhodecode", key_field="auth_token")
    assert made["repo_group"]["group_name"] == path and made["repo_group"]["parent_group"] == f"{top}/mid"
    for group in (top, f"{top}/mid", path):
        assert direct_sync(kallithea, "get_repo_group", {"repogroupid": group})["group_name"] == group
    again = await rpc.ok("create_repo_group", {"group_name": f"{top}/mid/other"}, dialect="rhodecode",
                         key_field="auth_token")  # the parents exist now: that is no failure
    assert again["repo_group"]["parent_group"] == f"{top}/mid"


async def test_a_1x_create_repo_makes_the_groups_of_its_path_like_1x_did(rpc, kallithea):
    top = unique("p1x")
    made = await rpc.ok("create_repo", {"repo_name": f"{top}/sub/r", "repo_type": "hg"}, dialect="rhodecode1")
    assert made["repo"]["repo_name"] == f"{top}/sub/r"
    assert direct_sync(kallithea, "get_repo_group", {"repogroupid": f"{top}/sub"})["parent_group"] == top
    # the same call from a Kallithea script fails, as on Kallithea itself
    answer = await rpc.gw("create_repo", {"repo_name": f"{unique('p1k')}/r", "repo_type": "hg"}, dialect="kallithea")
    assert answer["error"].startswith("repo group `") and answer["error"].endswith("` not found")


async def test_a_1x_create_repo_in_new_groups_on_a_modern_backend(modern_backend):
    rc = modern_backend
    made = await rc.ok("create_repo", {"repo_name": "new1/new2/r", "repo_type": "git"}, dialect="rhodecode1")
    assert made["msg"] == "Created new repository `new1/new2/r`"
    assert [m for m, _ in sent(rc.kallithea)[:5]] == ["get_repo_group", "create_repo_group", "get_repo_group",
                                                      "create_repo_group", "create_repo"]
    assert (await standin_direct(rc.kallithea, "get_repo_group", {"repogroupid": "new1/new2"}))["error"] is None
