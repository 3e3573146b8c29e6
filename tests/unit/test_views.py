"""The reverse proxy's decisions (gateway/views.py), without a server: which paths are the API, which
repository a view is about, what is a write, where a key is read and sent, which headers pass."""
from __future__ import annotations

from pathlib import Path

import pytest
from multidict import CIMultiDict

from gateway import views
from gateway.mapping.loader import load_mappings

SPEC = load_mappings(Path(__file__).resolve().parents[2] / "mappings")
AFTER = frozenset(SPEC.canonical["views"]["after_repo"])
RULES = {name: views.compile_view_rules(d["views"], AFTER) for name, d in SPEC.dialects.items() if "views" in d}


@pytest.mark.parametrize("path", ["/_admin/api", "//_admin/api", "/_admin/api/", "/_admin%2Fapi", "/_ADMIN/Api",
                                  "/x/../_admin/api", "/./_admin/./api", "/%255Fadmin/api", "/kallithea/_admin/api"])
def test_every_spelling_of_the_api_is_the_api(path):
    assert views.is_api_path(path)


@pytest.mark.parametrize("path", ["/_admin/apix", "/repo/raw/tip/_admin", "/_admin/api/x", "/_admin", "/"])
def test_other_paths_are_not(path):
    assert not views.is_api_path(path)


def test_the_api_prefix_names_a_dialect_or_nothing():
    assert views.api_prefix("//_admin/api") is None
    assert views.api_prefix("/kallithea//_admin/api/") == "kallithea"
    assert views.api_prefix("/a/b/_admin/api") == "a/b"


@pytest.mark.parametrize("path, repo", [
    ("/infra/tools/raw/tip/setup.py", "infra/tools"),
    ("/infra/tools", "infra/tools"),                      # hg: /repo?cmd=...
    ("/infra/tools.git/info/refs", "infra/tools"),
    ("/web/app/git-upload-pack", "web/app"),
    ("/r/feed/rss", "r"), ("/r/feed-atom", "r"), ("/r/changeset-diff/abc", "r"),
    ("/group/r%20x/archive/tip.zip", "group/r x"),
    ("/_admin/journal/rss", None), ("/", None),
])
def test_the_repository_of_a_path(path, repo):
    assert views.repository_of(path, AFTER) == repo


@pytest.mark.parametrize("method, path, query, write", [
    ("GET", "/r/raw/tip/f", [], False),
    ("GET", "/r", [("cmd", "capabilities")], False),
    ("POST", "/r", [("cmd", "unbundle")], True),
    ("POST", "/r", [("cmd", "pushkey")], True),
    ("POST", "/r", [("cmd", "batch")], False),
    ("GET", "/r/info/refs", [("service", "git-upload-pack")], False),
    ("GET", "/r/info/refs", [("service", "git-receive-pack")], True),   # a push begins with it
    ("POST", "/r/git-upload-pack", [], False),
    ("POST", "/r/git-receive-pack", [], True),
    ("POST", "/r/settings", [], True),
])
def test_what_is_a_write(method, path, query, write):
    assert views.is_write(method, path, query) is write


def test_a_key_is_taken_from_wherever_a_dialect_gives_it():
    q = [("x", "1"), ("api_key", "K1")]
    assert views.take_key(q, CIMultiDict()) == ("K1", [("x", "1")])
    assert views.take_key([("auth_token", "K2")], CIMultiDict()) == ("K2", [])
    assert views.take_key([], CIMultiDict({"Authorization": "Bearer K3"})) == ("K3", [])
    assert views.take_key([], CIMultiDict({"X-Rc-Auth-Token": "K4"})) == ("K4", [])
    assert views.take_key([], CIMultiDict({"Authorization": "Basic dTpw"})) == (None, [])


def test_the_key_goes_where_the_backend_reads_it():
    q, h = views.with_key([("x", "1")], CIMultiDict(), "NEW", RULES["kallithea"])
    assert q == [("x", "1"), ("api_key", "NEW")] and not h
    q, _ = views.with_key([], CIMultiDict(), "NEW", RULES["rhodecode"])
    assert q == [("auth_token", "NEW")]
    header = views.compile_view_rules({"key": {"header": "Authorization"}})
    _, h = views.with_key([], CIMultiDict(), "NEW", header)
    assert h["Authorization"] == "Bearer NEW"


def test_hop_by_hop_headers_and_keys_stay_here_basic_auth_passes():
    incoming = CIMultiDict([("Host", "evil"), ("Connection", "keep-alive, X-Private"), ("X-Private", "p"),
                            ("Keep-Alive", "5"), ("Transfer-Encoding", "chunked"), ("Accept", "*/*"),
                            ("X-Rc-Auth-Token", "K"), ("Authorization", "Basic dTpw"), ("Content-Length", "3")])
    out = views.forward_headers(incoming, key_sent=False)
    assert dict(out) == {"Accept": "*/*", "Authorization": "Basic dTpw"}
    bearer = views.forward_headers(CIMultiDict({"Authorization": "Bearer K"}), key_sent=True)
    assert "Authorization" not in bearer


def test_a_location_on_the_backend_points_at_rcgate():
    out = views.answer_headers(CIMultiDict([("Location", "http://old:5000/_admin/login?came_from=/r"),
                                            ("Content-Length", "9"), ("Set-Cookie", "a=1")]),
                               "http://old:5000", "http://gw.example")
    assert out["Location"] == "http://gw.example/_admin/login?came_from=/r" and out["Set-Cookie"] == "a=1"
    assert "Content-Length" not in out  # set again from the stream


def test_feed_paths_are_renamed_between_dialects():
    spellings = tuple(RULES.values())
    assert views.canonical_path("/g/r/feed/rss", spellings) == "/g/r/feed-rss"
    assert RULES["kallithea"].from_canonical("g/r/feed-rss") == "g/r/feed/rss"
    assert RULES["rhodecode"].from_canonical("g/r/feed-rss") == "g/r/feed-rss"
    assert views.canonical_path("/g/r/raw/tip/feed/rss", spellings) == "/g/r/raw/tip/feed/rss"  # a file there


def test_the_backend_base_drops_the_apis_credentials():
    assert views.backend_base("http://svc:secret@127.0.0.1:5000/prefix/") == "http://127.0.0.1:5000/prefix"


def test_query_values_that_look_secret_are_redacted_for_the_audit_log():
    assert views.shown("/r/x", [("password", "p"), ("a", "b")], frozenset({"password"})) == \
        "/r/x?password=%3Credacted%3E&a=b"
