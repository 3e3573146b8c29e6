"""The converters mappings/rhodecode1.yaml names (appended to gateway/mapping/converters.py)."""
from __future__ import annotations

import pytest

from gateway.mapping.converters import CONVERTERS


def test_pull_msg_drops_the_url_of_rhodecode_4_18():
    c = CONVERTERS["pull_msg_repo_only"]
    assert c.down("Pulled from url `https://h/x` on repo `grp/r`") == "Pulled from `grp/r`"
    assert c.down("Pulled from `r`") == "Pulled from `r`"  # RC4 4.0 - 4.10 and Kallithea already say it so


def test_pull_msg_up_is_identity():
    assert CONVERTERS["pull_msg_repo_only"].up("Pulled from `r`") == "Pulled from `r`"


def test_cache_msg_both_ways():
    c = CONVERTERS["rc1_cache_msg"]
    assert c.down("Cache for repository `r` was invalidated") == "Caches of repository `r` was invalidated"
    assert c.up("Caches of repository `r` was invalidated") == "Cache for repository `r` was invalidated"
    assert c.up(c.down("Cache for repository `7` was invalidated")) == "Cache for repository `7` was invalidated"


def test_ldap_dn_of_a_builtin_account_is_null():
    c = CONVERTERS["rc1_ldap_dn"]
    for name in ("rhodecode", "internal", ""):
        assert c.down(name) is None
    assert c.down("cn=bob,dc=example,dc=com") == "cn=bob,dc=example,dc=com"
    assert c.up("cn=bob") == "cn=bob"
    assert c.up(None) is None


@pytest.mark.parametrize("name", ["pull_msg_repo_only", "rc1_cache_msg", "rc1_ldap_dn"])
@pytest.mark.parametrize("value", [None, 1, ["a"], {"msg": "x"}, "some other text", "Pulled from url `u`"])
def test_unrecognised_values_pass_unchanged(name, value):
    c = CONVERTERS[name]
    assert c.up(value) == value
    assert c.down(value) == value


def test_rc13_members_are_13s_member_shapes():
    c = CONVERTERS["rc13_members"]
    user = {"name": "john", "type": "user", "permission": "repository.write",
            "user": {"id": 2, "username": "john", "firstname": "John", "lastname": "Doe", "email": "j@x",
                     "active": True, "admin": False, "ldap_dn": "uid=john", "last_login": None}}
    group = {"name": "devs", "type": "users_group", "permission": "repository.read",
             "user_group": {"id": 3, "group_name": "devs", "active": True}}
    assert c.down([user, group]) == [
        {"type": "user", "id": 2, "username": "john", "firstname": "John", "lastname": "Doe", "email": "j@x",
         "active": True, "admin": False, "ldap": "uid=john", "permission": "repository.write"},
        {"type": "users_group", "id": 3, "name": "devs", "active": True, "permission": "repository.read"},
    ]
    # a member whose record was not read: every 1.3 field, null
    assert c.down([{"name": "devs", "type": "users_group", "permission": "repository.read"}]) == [
        {"type": "users_group", "id": None, "name": "devs", "active": None, "permission": "repository.read"}]
    assert c.up(c.down([user, group])) == [{"name": "john", "type": "user", "permission": "repository.write"},
                                           {"name": "devs", "type": "users_group", "permission": "repository.read"}]


def test_object_id_is_the_objects_id():
    c = CONVERTERS["object_id"]
    assert c.down({"id": 5, "username": "john"}) == 5
    assert c.up(5) == {"id": 5}
    assert c.down(None) is None


def test_every_converter_is_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "mappings" / "README.md").read_text()
    assert [n for n in CONVERTERS if f"| `{n}` |" not in readme] == []
