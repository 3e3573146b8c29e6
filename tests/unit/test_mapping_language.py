"""The rules of the mapping language, each shown on the real mapping files through `plan_call` and
the compiled result transforms (the gateway's own functions, no server)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway import envelope
from gateway.app import plan_call
from gateway.errors import RpcError
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import MappingError, load_mappings

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@pytest.fixture(scope="module")
def d():
    return compile_mappings(load_mappings(MAPPINGS)).dialects


def refused(fn, *args) -> RpcError:
    with pytest.raises(RpcError) as info:
        fn(*args)
    return info.value


# ------------------------------------------------------------------ same dialect on both sides


def test_same_dialect_keeps_every_argument_the_caller_sent(d):
    args = {"username": "u", "email": "u@example.com", "description": "kept", "not_in_any_file": 1}
    plan = plan_call(d["rhodecode"], d["rhodecode"], "create_user", args)
    assert plan.backend_method == "create_user" and plan.backend_args == args  # the server decides
    assert plan.outbound is None


def test_same_dialect_renames_older_spellings_only(d):
    plan = plan_call(d["rhodecode1"], d["rhodecode1"], "pull", {"repo_name": "r"})
    assert plan.backend_args == {"repoid": "r"}  # `repo_name` is 1.3's spelling of `repoid`


def test_a_modern_method_no_file_lists_is_forwarded_only_to_a_modern_backend(d):
    plan = plan_call(d["rhodecode"], d["rhodecode"], "get_method", {"pattern": "*"})
    assert (plan.backend_method, plan.backend_args, plan.canonical_method) == ("get_method", {"pattern": "*"}, None)
    assert refused(plan_call, d["rhodecode"], d["kallithea"], "get_method", {}).code == "unknown_method"
    assert refused(plan_call, d["kallithea"], d["kallithea"], "get_method", {}).code == "unknown_method"


def test_other_dialects_drop_nothing_silently(d):
    plan = plan_call(d["rhodecode"], d["kallithea"], "get_repos", {})
    assert plan.backend_args == {}
    error = refused(plan_call, d["rhodecode"], d["kallithea"], "get_repos", {"root": "infra"})
    assert (error.code, error.params["arg"]) == ("unsupported_arg", "root")  # never "every repository"


# ------------------------------------------------------------------ optional / required / always


def test_optional_lets_a_dialects_callers_omit_a_canonical_required_argument(d):
    plan = plan_call(d["kallithea"], d["rhodecode"], "create_repo", {"repo_name": "r"})
    assert plan.backend_args == {"repo_name": "r", "repo_type": "hg"}  # rhodecode.yaml `defaults`
    error = refused(plan_call, d["rhodecode"], d["kallithea"], "create_repo", {"repo_name": "r"})
    assert (error.code, error.params["arg"]) == ("missing_arg", "repo_type")  # 4.22 requires it


def test_always_serves_the_value_the_server_always_has_and_refuses_any_other(d):
    plan = plan_call(d["rhodecode"], d["kallithea"], "update_repo", {"repoid": "r", "enable_locking": False})
    assert plan.backend_args == {"repoid": "r"}
    error = refused(plan_call, d["rhodecode"], d["kallithea"], "update_repo", {"repoid": "r", "enable_locking": True})
    assert (error.code, error.params["arg"]) == ("unsupported_arg", "enable_locking")


def test_always_is_an_unknown_argument_from_that_dialects_callers(d):
    error = refused(plan_call, d["kallithea"], d["rhodecode"], "update_repo", {"repoid": "r", "enable_locking": False})
    assert error.code == "unknown_args"  # Kallithea 0.7 refuses arguments it does not take


def test_always_and_absent_together_is_refused_at_load(tmp_path):
    import shutil

    import yaml

    target = tmp_path / "m"
    shutil.copytree(MAPPINGS, target)
    path = target / "kallithea.yaml"
    data = yaml.safe_load(path.read_text())
    data["methods"]["update_repo"]["absent"].append("enable_locking")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(MappingError) as info:
        load_mappings(target)
    assert "methods.update_repo" in str(info.value) and "always" in str(info.value)


# ------------------------------------------------------------------ paths


def test_a_full_path_goes_to_kallithea_in_two_parts(d):
    plan = plan_call(d["rhodecode"], d["kallithea"], "create_repo_group", {"group_name": "infra/tools"})
    assert plan.backend_args == {"parent": "infra", "group_name": "tools"}
    top = plan_call(d["rhodecode"], d["kallithea"], "create_repo_group", {"group_name": "infra"})
    assert top.backend_args == {"group_name": "infra"}


def test_two_parts_from_a_kallithea_caller_become_one_path(d):
    plan = plan_call(d["kallithea"], d["rhodecode"], "create_repo_group", {"group_name": "tools", "parent": "infra"})
    assert plan.canonical_args == {"group_name": "infra/tools"} and plan.backend_args == {"group_name": "infra/tools"}


def test_a_part_left_out_is_taken_from_the_object_being_changed(d):
    moved = plan_call(d["kallithea"], d["rhodecode"], "update_repo", {"repoid": "old/repo", "group": "new"})
    assert moved.backend_args == {"repoid": "old/repo", "repo_name": "new/repo"}
    renamed = plan_call(d["kallithea"], d["rhodecode"], "update_repo", {"repoid": "old/repo", "name": "other"})
    assert renamed.backend_args == {"repoid": "old/repo", "repo_name": "old/other"}


def test_a_part_given_by_id_where_a_path_is_needed_is_refused(d):
    error = refused(plan_call, d["kallithea"], d["rhodecode"], "update_repo", {"repoid": 7, "group": "new"})
    assert (error.code, error.params["arg"]) == ("path_needs_name", "repoid")


def test_a_modern_40_callers_two_parts_reach_a_modern_server_as_one_path(d):
    plan = plan_call(d["rhodecode"], d["rhodecode"], "update_repo", {"repoid": "r", "name": "s", "group": "g"})
    assert plan.backend_args == {"repoid": "r", "repo_name": "g/s"}  # 4.22 dropped `name` and `group`


# ------------------------------------------------------------------ results: keep, same_as, cannot_serve


def test_keep_reduces_modern_node_items_to_the_callers_fields(d):
    items = [{"binary": False, "name": "README", "extension": "", "md5": "x", "type": "file", "size": 3}]
    assert d["kallithea"].inbound["get_repo_nodes"].result_down(items) == [{"name": "README", "type": "file"}]


def test_permissions_come_down_as_members_for_legacy_callers(d):
    repo = {"repo_name": "r", "permissions": [{"origin": "owner", "type": "user", "name": "a",
                                               "permission": "repository.admin"}]}
    down = d["kallithea"].inbound["get_repo"].result_down(repo)
    assert down == {"repo_name": "r", "members": [{"type": "user", "name": "a", "permission": "repository.admin"}]}


def test_same_as_serves_a_deprecated_name_with_its_twin(d):
    assert d["rhodecode1"].outbound["get_user_locks"].method == "get_locks"  # 1.7 has only get_locks


def test_cannot_serve_refuses_with_the_reason(d):
    error = refused(plan_call, d["rhodecode"], d["rhodecode1"], "get_repo_refs", {"repoid": "r"})
    assert error.code == "unsupported" and "does not list branches and tags" in error.params["reason"]


# ------------------------------------------------------------------ complete objects


def test_as_if_serves_a_callers_call_as_its_server_always_did(d):
    plan = plan_call(d["kallithea"], d["rhodecode"], "get_changeset", {"repoid": "r", "raw_id": "abc"})
    assert plan.backend_args == {"repoid": "r", "revision": "abc", "details": "extended"}
    # towards Kallithea it is `always`: what Kallithea does (and less) is served, more is refused
    for details in ("basic", "extended"):
        plan_call(d["rhodecode"], d["kallithea"], "get_repo_changeset", {"repoid": "r", "revision": "a", "details": details})
    error = refused(plan_call, d["rhodecode"], d["kallithea"], "get_repo_changeset",
                    {"repoid": "r", "revision": "a", "details": "full"})
    assert (error.code, error.params["arg"]) == ("unsupported_arg", "details")


def test_an_object_converter_turns_one_field_into_three_and_back(d):
    canonical = {"raw_id": "a", "message": "m", "branch": "default", "parents": [],
                 "diff": [{"filename": "new.txt", "op": "A"}, {"filename": "README", "op": "M"},
                          {"filename": "old.txt", "op": "D"}, {"filename": "two.txt", "op": "A"}]}
    down = d["kallithea"].inbound["get_changeset"].result_down(canonical)
    assert down == {"raw_id": "a", "message": "m", "added": ["new.txt", "two.txt"], "changed": ["README"],
                    "removed": ["old.txt"]}
    up = d["kallithea"].outbound["get_repo_changeset"].result_up({"raw_id": "a", "added": ["n"], "changed": [],
                                                                   "removed": ["o"]})
    assert [(e["filename"], e["op"]) for e in up["diff"]] == [("n", "A"), ("o", "D")]
    assert "added" not in up


def test_if_chooses_a_value_in_a_composed_call():
    from gateway.mapping.compose import Context, TemplateError, compile_template

    t = compile_template({"if": ["$with_file_list", "extended", "basic"]}, set(), "t")
    assert [t(Context({"with_file_list": v})) for v in (True, False)] == ["extended", "basic"]
    assert t(Context({})) == "basic"
    with pytest.raises(TemplateError):
        compile_template({"if": ["$a", "b"]}, set(), "t")


def test_fetch_per_item_chooses_its_items_and_stops_at_its_bound(d):
    fetch = d["rhodecode1"].inbound["get_repo"].fetches[0]
    members = [{"name": f"u{i}", "type": "user"} for i in range(60)] + [{"name": "g", "type": "user_group"}]
    items = fetch.items({"permissions": members})
    assert len(items) == fetch.at_most == 50 and all(i["type"] == "user" for i in items)
    assert fetch.fetched({"username": "u0", "permissions": {}}) == {"username": "u0"}  # `drop`


def test_a_users_ip_list_is_read_where_the_backend_lacks_it(d):
    fetch = d["rhodecode1"].inbound["get_user"].fetches[0]
    assert (fetch.into, fetch.method) == ("ip_addresses", "get_ip")
    assert fetch.fetched({"server_ip_addr": "1.2.3.4", "user_ips": [{"ip_addr": "10.0.0.1", "ip_range": []}]}) == [
        "10.0.0.1"]


# ------------------------------------------------------------------ envelope: empty keys, odd methods


def test_empty_key_is_a_bad_key_or_no_key_as_the_dialect_says(d):
    call = {"id": 1, "method": "get_user", "args": {}}
    assert refused(envelope.read_call, {**call, "api_key": ""}, d["kallithea"]).code == "invalid_key"
    assert refused(envelope.read_call, {**call, "api_key": None}, d["rhodecode1"]).code == "invalid_key"
    assert refused(envelope.read_call, {**call, "auth_token": ""}, d["rhodecode"]).code == "missing_key"
    assert refused(envelope.read_call, {**call, "auth_token": None}, d["rhodecode"]).code == "missing_key"
    # 4.x: `api_key or auth_token`, the first non-empty one
    assert envelope.read_call({**call, "api_key": "", "auth_token": "k"}, d["rhodecode"]).key == "k"


@pytest.mark.parametrize("method, pytype, pyrepr", [
    (None, "NoneType", "None"),
    (True, "bool", "True"),
    (5, "int", "5"),
    (2**70, "int", str(2**70)),
    (1.5, "float", "1.5"),
    (["get_user", 2**70, None, False], "list", "[u'get_user', 1180591620717411303424L, None, False]"),
    ({"a": "\u00fc"}, "dict", "{u'a': u'\\xfc'}"),
])
def test_a_method_that_is_no_string_is_quoted_as_the_servers_did(d, method, pytype, pyrepr):
    error = refused(envelope.read_call, {"id": 1, "api_key": "k", "method": method, "args": {}}, d["kallithea"])
    assert (error.code, error.params["pytype"], error.params["pyrepr"]) == ("method_not_string", pytype, pyrepr)
    assert d["kallithea"].errors.render(error.code, error.params) == f"'{pytype}' object has no attribute 'startswith'"
    assert d["rhodecode"].errors.render(error.code, error.params) == f"No such method: {pyrepr}. Similar methods: none"


def test_a_secret_inside_a_method_object_is_not_quoted_back(d):
    error = refused(envelope.read_call, {"id": 1, "api_key": "k", "method": {"api_key": "s3cret"}, "args": {}},
                    d["rhodecode"])
    assert "s3cret" not in error.params["pyrepr"]


def test_a_non_ascii_method_is_refused_in_the_words_of_a_python_2_server(d):
    error = refused(plan_call, d["rhodecode1"], d["kallithea"], "get_\u00fcser", {})
    assert error.code == "method_not_ascii"
    assert d["rhodecode1"].errors.render(error.code, error.params) == "Problem decoding unicode in requested method name."
    assert d["kallithea"].errors.render(error.code, error.params) == "No such method: get_\u00fcser"
    assert refused(plan_call, d["rhodecode1"], d["kallithea"], "get_usr", {}).code == "unknown_method"
    # and a modern backend's "No such method" still reads as one, whatever the similar names
    assert d["rhodecode"].errors.parse("No such method: x. Similar methods: none") == (
        "unknown_method", {"method": "x", "similar": "none"})


# ------------------------------------------------------------------ envelope: key order, falsy ids


def test_modern_answers_in_the_servers_key_order_and_bare_for_a_falsy_id(d):
    modern = d["rhodecode"]
    assert envelope.render(modern, 0, result={"a": 1}) == b'""'
    assert envelope.render(modern, 0, error="boom").startswith(b'{\n    "error": "boom",\n    "id": 0,')
    assert envelope.render(modern, 5, result=1, extra={"DEPRECATION_WARNING": "w"}) == (
        b'{\n    "error": null,\n    "DEPRECATION_WARNING": "w",\n    "id": 5,\n    "result": 1\n}')
    assert envelope.render(d["kallithea"], 0, result=1) == b'{"id":0,"result":1,"error":null}'
