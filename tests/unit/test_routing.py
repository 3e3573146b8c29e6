"""Routes (gateway/routing.py) and their config (gateway/config.py), on the real canonical API."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.audit import key_fingerprint
from gateway.config import ConfigError, RouteConfig, load_config
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings
from gateway.routing import NumericRepoId, Router

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
CANONICAL = compile_mappings(load_mappings(MAPPINGS)).canonical
CI_KEY = "ci-bot-key-0123456789"
CI = key_fingerprint(CI_KEY)


def router(*routes: dict, numeric: str = "follow") -> Router:
    return Router(tuple(RouteConfig(index=i, **r) for i, r in enumerate(routes)), {"ci": (CI,)}, CANONICAL, numeric)


def pick(r: Router, method: str, args: dict | None = None, *, dialect: str = "kallithea", fp: str | None = None,
         raw: str | None = None) -> str:
    return r.choose(dialect, method, raw or method, fp, lambda: dict(args or {})).backend


WAVES = router({"repo": ("infra/*", "tools"), "backend": "new"},
               {"method": ("write",), "dialect": ("rhodecode1",), "backend": "old"},
               {"caller": ("ci",), "method": ("get_user*",), "backend": "new"},
               {"backend": "old"})


def test_first_matching_rule_wins_and_the_last_is_the_default():
    assert pick(WAVES, "get_repo", {"repoid": "infra/web"}) == "new"
    assert pick(WAVES, "get_repo", {"repoid": "tools"}) == "new"
    assert pick(WAVES, "get_repo", {"repoid": "toolsX"}) == "old"  # a glob matches the whole name
    assert pick(WAVES, "get_repo", {"repoid": "other"}) == "old"


def test_a_repository_rule_matches_whatever_argument_names_the_repository():
    assert pick(WAVES, "create_repo", {"repo_name": "infra/new"}) == "new"  # `repo: repo_name`
    assert pick(WAVES, "create_pull_request", {"target_repo": "infra/a", "source_repo": "x"}) == "new"
    assert pick(WAVES, "create_repo_group", {"group_name": "infra/sub"}) == "new"  # groups too
    assert pick(WAVES, "get_user", {"userid": "infra/x"}) == "old"  # a user is no repository


def test_read_and_write_come_from_canonical_kind():
    assert CANONICAL["delete_user"].kind == "write" and CANONICAL["get_users"].kind == "read"
    assert pick(WAVES, "delete_user", {"userid": "u"}, dialect="rhodecode1") == "old"
    assert pick(WAVES, "delete_user", {"userid": "u"}, dialect="kallithea") == "old"  # default
    r = router({"method": ("read",), "backend": "replica"}, {"backend": "primary"})
    assert pick(r, "get_users") == "replica" and pick(r, "create_user") == "primary"


def test_callers_are_matched_by_their_key_fingerprint():
    assert pick(WAVES, "get_users", fp=CI) == "new"
    assert pick(WAVES, "get_users", fp=key_fingerprint("someone else")) == "old"
    assert pick(WAVES, "get_users", fp=None) == "old"


def test_a_forwarded_method_matches_only_names_and_globs_as_spelled():
    r = router({"method": ("get_method",), "backend": "modern"}, {"method": ("read",), "backend": "replica"},
               {"backend": "primary"})
    assert r.choose("rhodecode", None, "get_method", None, dict).backend == "modern"
    assert r.choose("rhodecode", None, "get_repo_store", None, dict).backend == "primary"  # no kind known


@pytest.mark.parametrize("repoid", [7, "7"])
def test_numeric_ids_follow_the_rules_without_a_repository_condition(repoid):
    assert pick(WAVES, "get_repo", {"repoid": repoid}) == "old"
    with pytest.raises(NumericRepoId):
        pick(router({"repo": ("infra/*",), "backend": "new"}, {"backend": "old"}, numeric="refuse"), "get_repo",
             {"repoid": repoid})
    pinned = router({"repo": ("infra/*",), "backend": "new"}, {"backend": "old"}, numeric="new")
    assert pick(pinned, "get_repo", {"repoid": repoid}) == "new"


def test_the_canonical_call_is_read_only_when_a_rule_looks_at_repositories():
    asked = []
    r = router({"method": ("write",), "backend": "old"}, {"backend": "new"})
    r.choose("kallithea", "get_repo", "get_repo", None, lambda: asked.append(1) or {})
    assert asked == []
    WAVES.choose("kallithea", "get_repo", "get_repo", None, lambda: asked.append(1) or {"repoid": "x"})
    assert asked == [1]


def test_listings_ask_every_backend_a_rule_may_send_them_to():
    assert WAVES.candidates("kallithea", "get_repos", None) == ("new", "old")
    assert WAVES.candidates("kallithea", "get_repo_groups", CI) == ("new", "old")
    assert router({"method": ("get_repos",), "backend": "b"}, {"backend": "a"}).candidates(
        "kallithea", "get_repos", None) == ("b",)
    assert WAVES.choose_for_name("kallithea", "get_repos", None, "infra/x") == "new"
    assert WAVES.choose_for_name("kallithea", "get_repos", None, "web") == "old"


def test_routing_many_rules_is_remembered_per_decision():
    rules = [{"repo": (f"wave{i}/*",), "backend": f"b{i % 3}"} for i in range(50)] + [{"backend": "old"}]
    r = router(*rules)
    assert pick(r, "get_repo", {"repoid": "wave49/x"}) == "b1"
    assert pick(r, "get_repo", {"repoid": "wave49/x"}) == "b1"  # from the cache
    assert pick(r, "get_repo", {"repoid": "nowhere"}) == "old"


# ----------------------------------------------------------------------------------- config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


BRIDGE = """\
backends:
  old: {url: "http://127.0.0.1:5001", dialect: rhodecode1}
  new: {url: "http://127.0.0.1:5002", dialect: kallithea, credentials: creds/new.yaml, unmapped: refuse}
callers:
  ci: [0123456789ab]
routes:
  - {repo: "infra/*", backend: new}
  - {caller: ci, method: [read, create_repo], backend: new}
  - {backend: old}
"""


def test_a_bridge_config_loads(tmp_path):
    config = load_config(write(tmp_path, BRIDGE))
    assert [(b.name, b.dialect) for b in config.backend_list()] == [("old", "rhodecode1"), ("new", "kallithea")]
    assert config.backend_list()[1].credentials == tmp_path / "creds" / "new.yaml"  # relative to the file
    assert config.backend_list()[1].unmapped == "refuse"
    assert config.route_list()[1] == RouteConfig("new", ("read", "create_repo"), None, ("ci",), None, 1)


def test_one_backend_stays_a_backend_named_default(tmp_path):
    config = load_config(write(tmp_path, "backend: {url: 'http://127.0.0.1:5000', dialect: rhodecode1}\n"))
    assert [(b.name, b.dialect) for b in config.backend_list()] == [("default", "rhodecode1")]
    assert config.route_list() == (RouteConfig("default"),)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("backend: old}", "backend: gone}"), "no backend named `gone`"),
    (lambda t: t.replace("caller: ci,", "caller: bots,"), "no caller group named `bots`"),
    (lambda t: t.replace("  - {backend: old}\n", ""), "the last route is the default"),
    (lambda t: t.split("routes:")[0], "several backends need routes"),
    (lambda t: t.replace("[0123456789ab]", "[xyz]"), "key fingerprints"),
    (lambda t: t + "backend: {url: 'http://x:1'}\n", "not both"),
    (lambda t: t + "numeric_repo_ids: somewhere\n", "numeric_repo_ids"),
    (lambda t: t.replace("dialect: rhodecode1", "dialect: svn"), "backends"),
    (lambda t: t + "pinned_versions: {bots: rhodecode1@1.3}\n", "pinned_versions.bots: no caller group named `bots`"),
    (lambda t: t.replace("{backend: old}", "{backend: old, shadow: newer}") + "shadow_log: d.jsonl\n",
     "routes[2].shadow: no backend named `newer`"),
    (lambda t: t.replace("{backend: old}", "{backend: old, shadow: old}") + "shadow_log: d.jsonl\n",
     "routes[2].shadow: `old` is this route's own backend"),
    (lambda t: t.replace("{backend: old}", "{backend: old, shadow: new}"), "routes[2].shadow: shadowed reads need `shadow_log:`"),
    (lambda t: t.replace("{backend: old}", "{backend: old, shadow_sample: 0.1}"), "routes[2].shadow_sample: a sample of what?"),
    (lambda t: t.replace("{backend: old}", "{backend: old, shadow: new, shadow_sample: 2}"), "shadow_sample"),
    (lambda t: t + "shadow_max_in_flight: 0\n", "shadow_max_in_flight"),
])
def test_config_mistakes_are_named(tmp_path, change, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, change(BRIDGE)))
    assert message in str(info.value), str(info.value)


def test_backend_flags_apply_only_to_a_single_backend(tmp_path):
    config = load_config(write(tmp_path, BRIDGE))
    with pytest.raises(ConfigError) as info:
        config.override(backend_url="http://elsewhere:1")
    assert "--backend-url" in str(info.value)


@pytest.mark.parametrize("pinned, message", [
    ("rhodecode1@9.9", "pinned_versions.ci: `rhodecode1@9.9` is no dialect version (the mapping files have: "
                       "rhodecode1@1.3)"),
    ("kallithea", "pinned_versions.ci: `kallithea` is no dialect version"),
])
def test_a_pin_names_a_version_the_mapping_files_declare(tmp_path, pinned, message):
    from gateway.app import build_snapshot

    config = load_config(write(tmp_path, BRIDGE + f"pinned_versions: {{ci: '{pinned}'}}\n"))
    with pytest.raises(ConfigError) as info:
        build_snapshot(config.override(mappings=MAPPINGS))
    assert message in str(info.value)


def test_a_pin_loads(tmp_path):
    config = load_config(write(tmp_path, BRIDGE + "pinned_versions: {ci: rhodecode1@1.3}\n"))
    assert config.pinned_versions == {"ci": "rhodecode1@1.3"}


def test_a_route_carries_its_shadow(tmp_path):
    text = BRIDGE.replace("{backend: old}", "{backend: old, shadow: new, shadow_sample: 0.25}") + "shadow_log: d.jsonl\n"
    config = load_config(write(tmp_path, text))
    assert config.shadow_log == tmp_path / "d.jsonl" and config.shadow_max_in_flight == 16 and not config.noise_check
    r = Router(config.route_list(), config.callers, CANONICAL)
    route = r.choose("kallithea", "get_user", "get_user", None, dict)
    assert (route.backend, route.shadow, route.shadow_sample) == ("old", "new", 0.25)
    assert r.choose("kallithea", "get_repo", "get_repo", None, lambda: {"repoid": "infra/x"}).shadow is None


def test_each_worker_writes_its_own_diff_log(tmp_path):
    from gateway.server import _per_worker

    config = load_config(write(tmp_path, BRIDGE.replace("{backend: old}", "{backend: old, shadow: new}")
                               + "shadow_log: logs/diff.jsonl\naudit: {path: logs/audit.jsonl}\n"))
    two = _per_worker(config, 2)
    assert two.shadow_log == tmp_path / "logs" / "diff.w2.jsonl" and two.audit_path.endswith("audit.w2.jsonl")
