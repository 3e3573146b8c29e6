"""The converters mappings/kallithea.yaml names (appended to gateway/mapping/converters.py)."""
from __future__ import annotations

from gateway.mapping.converters import CONVERTERS


def test_kallithea_author_object_to_string_and_back():
    c = CONVERTERS["kallithea_author"]
    assert c.up({"name": "Joe Doe", "email": "joe@example.com"}) == "Joe Doe <joe@example.com>"
    assert c.down("Joe Doe <joe@example.com>") == {"name": "Joe Doe", "email": "joe@example.com"}
    assert c.down(c.up({"name": "Joe", "email": "j@x"})) == {"name": "Joe", "email": "j@x"}


def test_kallithea_author_without_email():
    c = CONVERTERS["kallithea_author"]
    # Kallithea 0.7's placeholder changeset for an unknown hash
    assert c.up({"name": "root@localhost", "email": ""}) == "root@localhost"
    assert c.down("root@localhost") == {"name": "root@localhost", "email": ""}
    assert c.up({"name": "", "email": "j@x"}) == "<j@x>"


def test_kallithea_author_leaves_other_values_alone():
    c = CONVERTERS["kallithea_author"]
    assert c.up("Joe <j@x>") == "Joe <j@x>"  # get_changesets already answers a string
    assert c.up({"name": "x"}) == {"name": "x"}
    assert c.up(None) is None and c.down(None) is None
    assert c.down({"name": "Joe", "email": "j@x"}) == {"name": "Joe", "email": "j@x"}


def test_kallithea_pull_msg_drops_the_url_of_rhodecode_4_18():
    c = CONVERTERS["pull_msg_repo_only"]
    assert c.down("Pulled from url `https://h/x` on repo `grp/r`") == "Pulled from `grp/r`"
    assert c.down("Pulled from `r`") == "Pulled from `r`"
    assert c.up("Pulled from `r`") == "Pulled from `r`"
    assert c.down(None) is None


def test_kallithea_repo_group_msg_both_ways():
    c = CONVERTERS["kallithea_repo_group_msg"]
    assert c.up("created new repo group `a/b`") == "Created new repo group `a/b`"
    assert c.down("Created new repo group `a/b`") == "created new repo group `a/b`"
    assert c.down(c.up("created new repo group `g`")) == "created new repo group `g`"
    assert c.up("updated repository group ID:1 g") == "updated repository group ID:1 g"
    assert c.down(None) is None
