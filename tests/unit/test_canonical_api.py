"""The canonical API is modern RhodeCode as a real RhodeCode CE 4.22 has it.

`tests/standin/recordings/rhodecode-4.22-api.md` lists every method the real 4.22 server
reports through its own `get_method`, with required and optional arguments and defaults.
`mappings/canonical.yaml` must have every public one with exactly those arguments, and
`mappings/documented.yaml` must count them for the modern dialect.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
API = REPO / "tests" / "standin" / "recordings" / "rhodecode-4.22-api.md"
INTERNAL = {"get_method", "get_repo_store", "store_exception"}  # and test*: the server's own tooling
# What canonical.yaml has beyond 4.22, each with its reason (anything else is a difference to fix)
SEED_000_ONLY = {"get_license_info", "set_license_key"}  # RhodeCode Enterprise; CE 4.22 has neither
EXTENSIONS = {
    ("get_repo", "with_revision_names"): "Kallithea get_repo extension",
    ("get_repo", "with_pullrequests"): "Kallithea get_repo extension",
    ("get_repo_changeset", "with_reviews"): "Kallithea get_changeset extension",
    ("update_pull_request", "close_pull_request"): "seed 000 (RhodeCode 4.0); 4.22 closes with close_pull_request()",
}


def signatures() -> dict[str, tuple[set[str], dict[str, str]]]:
    """method -> (required args, {optional arg: default as printed by 4.22})."""
    out = {}
    for m in re.finditer(r"^\| `(\w+)` \| (.*?) \| (.*?) \|$", API.read_text(encoding="utf-8"), re.M):
        name, required, optional = m.groups()
        opts = dict(re.findall(r"(\w+) \((.*?)\)(?:, |$)", optional)) if optional != "–" else {}
        out[name] = (set(re.findall(r"`(\w+)`", required)), opts)
    return out


SIGNATURES = signatures()
PUBLIC = {m for m in SIGNATURES if m not in INTERNAL and not m.startswith("test")}
CANONICAL = yaml.safe_load((REPO / "mappings" / "canonical.yaml").read_text(encoding="utf-8"))["methods"]


def test_the_signature_table_is_read_whole():
    assert len(SIGNATURES) == 88  # what 4.22's get_method lists, internal methods included
    assert len(PUBLIC) == 77
    assert SIGNATURES["get_repos"] == (set(), {"root": "None", "traverse": "True"})


def test_every_public_method_is_canonical():
    assert PUBLIC - set(CANONICAL) == set()


def test_documented_modern_methods_are_the_422_ones_and_seed_000s_license_methods():
    documented = yaml.safe_load((REPO / "mappings" / "documented.yaml").read_text(encoding="utf-8"))
    assert set(documented["rhodecode"]["methods"]) == PUBLIC | SEED_000_ONLY


@pytest.mark.parametrize("method", sorted(PUBLIC))
def test_arguments_are_those_of_422(method):
    required, optional = SIGNATURES[method]
    args = CANONICAL[method].get("args") or {}
    extensions = {a for (m, a) in EXTENSIONS if m == method}
    assert {a for a, s in args.items() if s == "required"} == required
    assert {a for a, s in args.items() if s != "required"} - extensions == set(optional)
    for arg, spec in args.items():  # a literal default must be 4.22's
        if isinstance(spec, dict) and arg not in extensions:
            assert spec["default"] == _literal(optional[arg]), (method, arg)


def _literal(text: str):
    """4.22 prints Python 2 reprs: u'note', True, None, [], 60."""
    return ast.literal_eval(re.sub(r"\bu'", "'", text))


def test_extensions_exist_where_they_are_declared():
    for (method, arg) in EXTENSIONS:
        assert arg in CANONICAL[method]["args"] and arg not in SIGNATURES[method][1]
