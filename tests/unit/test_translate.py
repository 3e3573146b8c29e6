"""`rcgate translate`: offline dry runs of calls and answers through the real mapping files."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gateway import translate
from gateway.cli import main

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "mappings"
KEY = "0123456789abcdef-secret"


@pytest.fixture(scope="module")
def mappings():
    return translate.load(MAPPINGS)


def request(method: str, **args) -> dict:
    return {"id": 7, "api_key": KEY, "method": method, "args": args}


def where(result: dict) -> list[str]:
    return [s["where"] for s in result["explain"]]


# --------------------------------------------------------------------------- requests


def test_rhodecode1_get_users_group(mappings):
    r = translate.translate_request(
        json.dumps(request("get_users_group", usersgroupid="devs")), dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert r["ok"] and r["error"] is None
    assert r["canonical"] == {"method": "get_user_group", "args": {"usergroupid": "devs"}}
    assert r["backend_call"] == {"id": 1, "api_key": "<redacted>", "method": "get_user_group", "args": {"usergroupid": "devs"}}


def test_rhodecode1_call_to_a_rhodecode_backend_sends_auth_token(mappings):
    r = translate.translate_request(
        request("get_users_group", usersgroupid="devs"), dialect="rhodecode1", backend="rhodecode", mappings=mappings
    )
    assert r["backend_call"]["auth_token"] == "<redacted>"
    assert KEY not in json.dumps(r)


def test_alias_is_renamed_and_explained(mappings):
    r = translate.translate_request(
        request("get_users_group", group_name="devs"), dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert r["canonical"]["args"] == {"usergroupid": "devs"}
    steps = {s["rule"]: s for s in r["explain"]}
    assert steps["alias"]["where"] == f"{MAPPINGS}/rhodecode1.yaml: methods.get_users_group.aliases.group_name"


def test_method_alias_and_argument_aliases(mappings):
    r = translate.translate_request(
        request("add_user_users_group", group_name="devs", username="bob"), dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert r["canonical"] == {"method": "add_user_to_user_group", "args": {"usergroupid": "devs", "userid": "bob"}}
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.add_user_users_group.alias_of" in where(r)


def test_explain_names_the_declaring_file_and_key(mappings):
    r = translate.translate_request(
        request("get_users_group", usersgroupid="devs"), dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    w = where(r)
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.get_users_group.canonical" in w
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.get_users_group.args.usersgroupid" in w
    assert f"{MAPPINGS}/kallithea.yaml: methods.get_user_group" in w
    texts = " | ".join(s["text"] for s in r["explain"])
    assert "`usersgroupid` -> canonical `usergroupid`" in texts
    assert "backend method `get_user_group`" in texts


def test_converter_and_backend_rename_are_explained(mappings):
    r = translate.translate_request(
        request("create_repo", repo_name="r", landing_rev="tip"), dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert r["backend_call"]["args"] == {"repo_name": "r", "landing_rev": "rev:tip"}
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.create_repo.values.landing_rev" in where(r)
    r = translate.translate_request(request("pull", repoid="r", remote_uri="u"), dialect="rhodecode", backend="kallithea", mappings=mappings)
    assert r["backend_call"]["args"] == {"repoid": "r", "clone_uri": "u"}
    assert f"{MAPPINGS}/kallithea.yaml: methods.pull.args.clone_uri" in where(r)


def test_unknown_method_is_the_callers_error(mappings):
    r = translate.translate_request(request("get_userz"), dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert not r["ok"] and r["canonical"] is None
    assert r["error"]["code"] == "unknown_method"
    assert r["error"]["body"] == {"id": 7, "result": None, "error": "No such method: get_userz"}
    assert r["error"]["raw"] == '{"error":"No such method: get_userz","id":7,"result":null}'  # 1.7.2's order


def test_missing_argument_uses_the_callers_name(mappings):
    r = translate.translate_request(request("get_users_group"), dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert r["error"]["body"]["error"] == "Missing non optional `usersgroupid` arg in JSON DATA"


def test_unsupported_on_the_backend(mappings):
    r = translate.translate_request(request("strip", repoid="r", revision="a", branch="b"), dialect="rhodecode",
                                    backend="kallithea", mappings=mappings)
    assert r["canonical"] == {"method": "strip", "args": {"repoid": "r", "revision": "a", "branch": "b"}}
    assert r["error"]["code"] == "unsupported" and "no API method to strip" in r["error"]["text"]
    assert f"{MAPPINGS}/kallithea.yaml: methods.strip.unsupported" in where(r)


def test_a_composed_call_lists_every_backend_call(mappings):
    r = translate.translate_request(request("lock", repoid="r"), dialect="rhodecode1", backend="kallithea",
                                    mappings=mappings)  # Kallithea has no locking: the state is read with get_repo
    assert r["ok"] and [c["method"] for c in r["backend_calls"]] == ["get_repo"]
    assert f"{MAPPINGS}/canonical.yaml: composed.lock" in where(r)
    refused = translate.translate_request(request("lock", repoid="r", locked=True), dialect="rhodecode1",
                                          backend="kallithea", mappings=mappings)
    assert refused["error"]["code"] == "unsupported_arg" and refused["error"]["body"]["error"] == (
        "Argument `locked` of `lock` is not supported by the server behind this gateway")
    nested = translate.translate_request(request("create_repo", repo_name="a/b/r", repo_type="hg"),
                                         dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert [(c["method"], c["args"]) for c in nested["backend_calls"]] == [
        ("create_repo_group", {"group_name": "a"}), ("create_repo_group", {"group_name": "b", "parent": "a"}),
        ("create_repo", {"repo_name": "a/b/r", "repo_type": "hg"})]


def test_absent_argument_with_a_non_default_value_is_refused(mappings):
    r = translate.translate_request(request("get_repo", repoid="r", cache=False), dialect="rhodecode", backend="kallithea", mappings=mappings)
    assert r["error"]["code"] == "unsupported_arg"
    r = translate.translate_request(request("get_repo", repoid="r", cache=True), dialect="rhodecode", backend="kallithea", mappings=mappings)
    assert r["ok"] and r["backend_call"]["args"] == {"repoid": "r"}


def test_bad_json_and_key_never_shown(mappings):
    body = '{"id": 1, "api_key": "' + KEY + '", "method": '
    r = translate.translate_request(body, dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert r["error"]["code"] == "parse_error"
    assert KEY not in json.dumps(r)


def test_auto_detection(mappings):
    r = translate.translate_request(request("get_users_group", usersgroupid="g"), dialect="auto", backend="kallithea", mappings=mappings)
    assert r["dialect"] == "rhodecode1" and r["ok"]


# --------------------------------------------------------------------------- answers


def test_response_create_users_group(mappings):
    answer = {
        "id": 1,
        "error": None,
        "result": {
            "msg": "created new user group `devs`",
            "user_group": {
                "users_group_id": 3, "group_name": "devs", "group_description": "", "active": True, "owner": "admin",
                "members": [{"user_id": 2, "username": "bob", "extern_name": "internal", "extern_type": "internal"}],
            },
        },
    }
    r = translate.translate_response(
        json.dumps(answer), method="create_users_group", dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert r["ok"]
    assert r["canonical_result"]["user_group"]["users"][0]["username"] == "bob"
    assert r["result"] == {  # RhodeCode 1.7 answers the new group without its members
        "msg": "created new user group `devs`",
        "users_group": {"users_group_id": 3, "group_name": "devs", "active": True},
    }
    w = where(r)
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.create_users_group.result.rename.users_group" in w
    assert f"{MAPPINGS}/kallithea.yaml: objects.user_group.rename.members" in w
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.create_users_group.result.within.users_group.drop" in w
    got = translate.translate_response(json.dumps({"id": 1, "error": None, "result": answer["result"]["user_group"]}),
                                       method="get_users_group", dialect="rhodecode1", backend="kallithea",
                                       mappings=mappings)
    assert got["result"]["members"] == [{"user_id": 2, "username": "bob", "ldap_dn": None,  # 1.7 sent them all
                                         "api_key": None, "last_login": None, "ip_addresses": None}]
    assert f"{MAPPINGS}/rhodecode1.yaml: objects.user.values.ldap_dn" in where(got)


def test_response_pull_bare_string(mappings):
    r = translate.translate_response('"Pulled from `r`"', method="pull", dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert r["ok"] and r["result"] == "Pulled from `r`"
    # a modern answer becomes the bare 1.x string, worded as 1.x did
    answer = {"id": 1, "result": {"msg": "Pulled from url `https://h/x` on repo `r`", "repository": "r"}, "error": None}
    r = translate.translate_response(answer, method="pull", dialect="rhodecode1", backend="rhodecode", mappings=mappings)
    assert r["canonical_result"]["msg"] == "Pulled from url `https://h/x` on repo `r`"
    assert r["result"] == "Pulled from `r`"
    w = where(r)
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.pull.result.from_field" in w
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.pull.result.values.msg" in w


def test_response_error_is_reworded(mappings):
    r = translate.translate_response(
        {"id": 1, "result": None, "error": "Invalid API key"}, method="get_user", dialect="rhodecode1", backend="kallithea", mappings=mappings
    )
    assert not r["ok"] and r["error"]["text"] == "Invalid API KEY"


def test_response_fetch_is_not_performed_offline(mappings):
    answer = {"id": 1, "result": {"msg": "Created new repository `r`", "success": True}, "error": None}
    r = translate.translate_response(answer, method="create_repo", dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert r["result"] == {"msg": "Created new repository `r`", "repo": None}
    r = translate.translate_response(
        answer, method="create_repo", dialect="rhodecode1", backend="kallithea", mappings=mappings,
        fetched={"get_repo": {"repo_name": "r", "landing_rev": ["rev", "tip"]}},
    )
    # 1.7's repository object, completed where Kallithea has no locking
    assert r["result"]["repo"] == {"repo_name": "r", "landing_rev": "tip", "enable_locking": False, "locked_by": None,
                                   "locked_date": None}


def test_response_fetch_per_item_is_explained_and_fills_each_member(mappings):
    answer = {"id": 1, "error": None, "result": {"repo_name": "r", "members": [
        {"name": "bob", "type": "user", "permission": "repository.read"},
        {"name": "devs", "type": "user_group", "permission": "repository.write"}]}}
    r = translate.translate_response(
        answer, method="get_repo", dialect="rhodecode1", backend="kallithea", mappings=mappings,
        fetched={"get_user": {"user_id": 5, "username": "bob", "permissions": {"global": []}},
                 "get_user_group": {"users_group_id": 9, "group_name": "devs", "active": True, "members": []}})
    bob, devs = r["result"]["members"]
    assert bob == {"user_id": 5, "username": "bob", "type": "user", "permission": "repository.read",
                   "api_key": None, "ldap_dn": None, "last_login": None, "ip_addresses": None}
    assert devs == {"users_group_id": 9, "group_name": "devs", "active": True, "type": "users_group",
                    "permission": "repository.write"}
    texts = [s["text"] for s in r["explain"] if s["where"].endswith(("methods.get_repo.result.fetch[0]",
                                                                     "methods.get_repo.result.fetch[1]"))]
    assert any("1 backend call(s) get_user(userid=<the item's `name`>), at most 50" in t for t in texts), texts


def test_response_not_json_is_backend_unavailable(mappings):
    r = translate.translate_response(b"<html>", method="get_user", dialect="rhodecode1", backend="kallithea", mappings=mappings)
    assert r["error"]["code"] == "backend_unavailable"


# --------------------------------------------------------------------------- command line


def run_cli(monkeypatch, capsys, stdin: str, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = main(["translate", "--mappings", str(MAPPINGS), *argv])
    return code, capsys.readouterr().out


def test_cli_request_with_explain(monkeypatch, capsys):
    code, out = run_cli(
        monkeypatch, capsys, json.dumps(request("get_users_group", usersgroupid="devs")),
        "--from", "rhodecode1", "--backend", "kallithea", "--explain",
    )
    assert code == 0
    assert "canonical call:" in out and "backend call (kallithea):" in out
    assert '"api_key": "<redacted>"' in out and KEY not in out
    assert f"{MAPPINGS}/rhodecode1.yaml: methods.get_users_group.args.usersgroupid" in out


def test_cli_error_exit_1(monkeypatch, capsys):
    code, out = run_cli(monkeypatch, capsys, json.dumps(request("nope")), "--from", "kallithea", "--backend", "kallithea")
    assert code == 1
    assert '{"id":7,"result":null,"error":"No such method: nope"}' in out


def test_cli_response(monkeypatch, capsys, tmp_path):
    answer = tmp_path / "answer.json"
    answer.write_text('"Pulled from `r`"')
    code = main(["translate", str(answer), "--mappings", str(MAPPINGS), "--from", "rhodecode1", "--backend", "kallithea",
                 "--response", "--method", "pull"])
    out = capsys.readouterr().out
    assert code == 0 and "caller's result (rhodecode1 pull):" in out


def test_cli_response_needs_method(monkeypatch, capsys):
    code, _ = run_cli(monkeypatch, capsys, '"x"', "--from", "rhodecode1", "--backend", "kallithea", "--response")
    assert code == 2
