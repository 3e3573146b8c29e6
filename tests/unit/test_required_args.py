"""Required arguments as each server had them: for every method of every dialect, the arguments rcgate
refuses a call without are exactly those the real server required (presence only).

The truth: tests/reference/method-matrix.md (signatures read from the source of each version;
RhodeCode 1.7.2 for `rhodecode1`, Kallithea 0.7.0 for `kallithea`) and the signatures a real
RhodeCode CE 4.22 reports (tests/standin/recordings/rhodecode-4.22-api.md) for `rhodecode`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gateway.mapping.engine import compile_mappings
from gateway.mapping.loader import load_mappings

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = compile_mappings(load_mappings(REPO / "mappings"))
DOCUMENTED = yaml.safe_load((REPO / "mappings" / "documented.yaml").read_text())
LINEAGE = ["RC 1.2.0", "RC 1.3.6", "RC 1.4.4", "RC 1.5.4", "RC 1.6.0", "RC 1.7.2", "RC 2.2.5", "K 0.1", "K 0.3",
           "K 0.4.1", "K 0.5.2", "K 0.7.0"]
SERVER = {"rhodecode1": "RC 1.7.2", "kallithea": "K 0.7.0"}
# documented spellings that are not names of the server's own method
SAME_AS = {("rhodecode1", "add_user_users_group"): "add_user_to_users_group", ("kallithea", "show_ip"): "get_ip"}
SEED_000 = {"get_license_info": set(), "set_license_key": {"key"}}  # RhodeCode Enterprise (seed 000)


def _matrix() -> dict[str, list[tuple[str, str]]]:
    text = (REPO / "tests" / "reference" / "method-matrix.md").read_text(encoding="utf-8").split("## Signatures", 1)[1]
    out = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        name = block.split("\n", 1)[0].strip()
        out[name] = re.findall(r"^- (RC4 [\d.]+|RC [\d.]+|K [\d.]+)(?: and [^:]*)?: (.*)$", block, re.M)
    return out


MATRIX = _matrix()


def legacy_required(method: str, version: str) -> set[str]:
    signature = None
    for label, body in MATRIX[method]:
        if label in LINEAGE and LINEAGE.index(label) <= LINEAGE.index(version):
            signature = body
    assert signature is not None and "removed" not in signature, (method, version, signature)
    params = re.search(r"`\w+\((.*)\)`", signature).group(1)
    return {p.strip() for p in params.split(",") if p.strip() and "=" not in p}


def modern_required(method: str) -> set[str]:
    if method in SEED_000:
        return SEED_000[method]
    table = (REPO / "tests" / "standin" / "recordings" / "rhodecode-4.22-api.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| `{method}` \| (.*?) \|", table, re.M).group(1)
    return set(re.findall(r"`(\w+)`", row))


CASES = [(d, m) for d in ("rhodecode1", "kallithea", "rhodecode") for m in DOCUMENTED[d]["methods"]]


@pytest.mark.parametrize("dialect, method", CASES, ids=[f"{d}-{m}" for d, m in CASES])
def test_required_arguments_are_the_servers(dialect, method):
    inbound = MAPPINGS.dialects[dialect].inbound[method]
    if dialect == "rhodecode":
        expected = modern_required(method)
    else:
        expected = legacy_required(SAME_AS.get((dialect, method), method), SERVER[dialect])
    assert set(inbound.required_args) == expected


def test_the_walk_covers_every_documented_method():
    assert len(CASES) == 29 + 48 + 79
