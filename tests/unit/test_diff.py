"""The shadow diff's comparison (gateway/diff.py) with the compare rules of mappings/canonical.yaml."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.diff import MISSING, Comparer, Outcome
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import MappingError, load_mappings
from gateway.shadow import finish, judge
from gateway.shadow_report import pattern, summarize

SPEC = compile_mappings(load_mappings(Path(__file__).resolve().parents[2] / "mappings")).spec.canonical
COMPARER = Comparer.of(SPEC)


def user(name: str, **extra) -> dict:
    return {"user_id": 7, "username": name, "email": f"{name}@x", "active": True, "last_login": "2013-01-01",
            "emails": [f"{name}@x", "b@x"], **extra}


def diff(a, b, shape):
    return COMPARER.compare(Outcome(a), Outcome(b), shape)


def test_instance_fields_are_not_compared():
    assert diff(user("ann"), {**user("ann"), "user_id": 99, "last_login": None}, "user") == []


def test_a_data_field_is_reported_at_its_path():
    assert diff(user("ann"), user("ann", email="new@x"), "user") == [("$.email", "ann@x", "new@x")]


def test_lists_of_a_keyed_type_are_sets_by_their_key():
    a = {"users_group_id": 1, "group_name": "devs", "users": [user("ann"), user("bob")]}
    b = {"users_group_id": 2, "group_name": "devs", "users": [user("bob"), {**user("ann"), "active": False}]}
    assert diff(a, b, "user_group") == [("$.users[username=ann].active", True, False)]
    c = {**a, "users": [user("ann")]}
    assert diff(a, c, "user_group") == [("$.users[username=bob]", user("bob"), MISSING)]


def test_permissions_are_keyed_by_type_and_name():
    a = {"repo_name": "r", "permissions": [{"type": "user", "name": "x", "permission": "repository.read"},
                                           {"type": "user_group", "name": "x", "permission": "repository.write"}]}
    b = {"repo_name": "r", "permissions": list(reversed(a["permissions"]))}
    assert diff(a, b, "repo") == []


def test_unordered_lists_and_ordered_ones():
    assert diff(user("ann"), {**user("ann"), "emails": ["b@x", "ann@x"]}, "user") == []
    assert diff({"x": [1, 2]}, {"x": [2, 1]}, None) == [("$.x[0]", 1, 2), ("$.x[1]", 2, 1)]


def test_a_field_only_one_side_has_is_not_compared():
    assert diff({"repo_name": "r", "enable_locking": False}, {"repo_name": "r"}, "repo") == []


def test_a_top_level_list_of_users_is_a_set():
    assert diff([user("ann"), user("bob")], [user("bob"), user("ann")], "user") == []
    assert diff([user("ann")], [], "user") == [("$[username=ann]", user("ann"), MISSING)]


def test_errors_compare_by_kind():
    assert COMPARER.compare(Outcome("text a", "invalid_key"), Outcome("text b", "invalid_key"), "user") == []
    [(path, a, b)] = COMPARER.compare(Outcome(user("ann")), Outcome("no such user", "backend_error"), "user")
    assert path == "$" and a == {"result": user("ann")} and b == {"error": "backend_error"}


def test_numbers_and_booleans_are_not_confused():
    assert diff({"x": 1}, {"x": 1.0}, None) == []
    assert diff({"x": 1}, {"x": True}, None) == [("$.x", 1, True)]


def test_noise_is_what_the_primary_itself_answers_differently():
    first, second = Outcome({"a": 1, "stamp": 1}), Outcome({"a": 1, "stamp": 2})
    shadow = Outcome({"a": 2, "stamp": 3})

    async def again():
        return second

    real, noise = asyncio.run(judge(COMPARER, None, first, shadow, again))
    assert real == [("$.a", 1, 2)] and noise == {"$.stamp"}
    line = finish({}, real, noise)
    assert line == {"outcome": "different", "differences": [{"path": "$.a", "primary": 1, "shadow": 2}],
                    "noise": ["$.stamp"]}
    real, noise = asyncio.run(judge(COMPARER, None, first, first, again))
    assert (real, noise) == ([], set())  # equal: the primary is not asked again


def test_report_groups_keyed_paths():
    assert pattern("$.users[username=ann].email") == "$.users[*].email"
    lines = [{"method": "get_user_group", "outcome": "different", "request_id": "r1",
              "differences": [{"path": "$.users[username=ann].email", "primary": "a", "shadow": "b"},
                              {"path": "$.users[username=bob].email", "primary": "c", "shadow": "d"}]},
             {"method": "get_user_group", "outcome": "equal"}, {"method": "get_user_group", "outcome": "failed"}]
    s = summarize(lines)["get_user_group"]
    assert (s.compared, s.equal, s.different, s.failed) == (2, 1, 1, 1)
    assert s.paths["$.users[*].email"]["count"] == 1  # one call differed there (in two items)
    assert s.diff_rate == 0.5


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("  objects:\n    user:\n      key: username", "  objects:\n    usr:\n      key: username"),
     "compare.objects.usr: unknown object type `usr`"),
    (lambda t: t.replace("    get_ip: the server's own address", "    get_ipp: the server's own address"),
     "compare.not_compared.get_ipp: `get_ipp` is no method of this file"),
])
def test_compare_rules_name_what_exists(tmp_path, change, message):
    import shutil

    src = Path(__file__).resolve().parents[2] / "mappings"
    shutil.copytree(src, tmp_path / "m")
    path = tmp_path / "m" / "canonical.yaml"
    text = path.read_text()
    assert change(text) != text
    path.write_text(change(text))
    with pytest.raises(MappingError) as info:
        load_mappings(tmp_path / "m")
    assert message in str(info.value)
