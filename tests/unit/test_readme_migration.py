"""The migration example config of the README is a working config: it loads, `rcgate check --config`
finds nothing wrong with it, and its routes send calls where its comments say."""
from __future__ import annotations

import os
import re
from pathlib import Path

from gateway.check_routes import check_routes
from gateway.config import load_config
from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings
from gateway.routing import Router

REPO = Path(__file__).resolve().parents[2]


def example(tmp_path: Path) -> Path:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Migration: several servers at once", 1)[1]
    text = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    text = text.replace("mappings: /opt/rcgate/mappings", f"mappings: {REPO / 'mappings'}")
    text = text.replace("path: /var/log/rcgate/audit.jsonl", f"path: {tmp_path / 'audit.jsonl'}")
    (tmp_path / "credentials").mkdir()
    creds = tmp_path / "credentials" / "new.yaml"
    creds.write_text("keys:\n  " + "a" * 64 + ": new-key\n")
    os.chmod(creds, 0o600)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_example_loads_and_checks_clean(tmp_path):
    config = load_config(example(tmp_path))
    assert [(b.name, b.dialect) for b in config.backend_list()] == [("old", "rhodecode1"), ("new", "kallithea")]
    mappings = compile_mappings(load_mappings(config.mappings))
    assert check_routes(config, mappings) == []


def test_the_example_routes_as_its_comments_say(tmp_path):
    config = load_config(example(tmp_path))
    canonical = compile_mappings(load_mappings(config.mappings)).canonical
    router = Router(config.route_list(), config.callers, canonical, config.numeric_repo_ids)

    def backend(method, args, fp=None, dialect="rhodecode1"):
        return router.choose(dialect, method, method, fp, lambda: args).backend

    assert backend("get_repo", {"repoid": "infra"}) == "new"
    assert backend("delete_repo", {"repoid": "tools/deep/er"}) == "new"
    assert backend("get_repo", {"repoid": "web/shop"}) == "new"          # wave 3 reads
    assert backend("update_repo", {"repoid": "web/shop"}) == "old"       # ... not its writes yet
    assert backend("create_repo", {"repo_name": "anything"}, fp="3f2a9b1c0d4e") == "new"  # CI
    assert backend("create_repo", {"repo_name": "anything"}) == "old"
    assert backend("get_repo", {"repoid": 42}) == "old"                  # numeric_repo_ids: old
    assert router.candidates("kallithea", "get_repos", None) == ("new", "old")
