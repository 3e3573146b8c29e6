"""Golden tests: every request and result example of the API docs (seeds 000 - 004), translated.

The cases live in tests/golden/seedNNN.yaml (layout and conventions: tests/golden/README.md); they were
extracted once from the seed documents, this module never reads the seeds. Three checks:

- test_request      a documented request in its caller's dialect -> the canonical call
                    (`Inbound.to_canonical`) -> the call sent to a Kallithea backend (`Outbound.args_down`),
                    or the documented error;
- test_result_up    a documented result, read as if that dialect's server had answered it
                    (`Outbound.result_up` of the caller's dialect) -> the canonical result;
- test_result_down  that canonical result -> what the caller gets back (`Inbound.result_down`): the
                    documented result again, or `expect_down` where a rule intentionally changes it.

Examples that cannot be compared carry `skip:` (reported as skipped, and listed in README.md); checks
that fail because of a known mapping or engine gap carry a strict `xfail:` (also listed in README.md).
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.errors import RpcError
from gateway.mapping.engine import Dialect, Inbound, compile_mappings
from gateway.mapping.loader import load_mappings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MAPPINGS = compile_mappings(load_mappings(ROOT / "mappings"))
BACKEND = "kallithea"  # the backend whose requests the request cases spell out
SAME = "same"  # `canonical: same`: the canonical result equals the documented one

CHECKS = {"request": ("request",), "result": ("up", "down")}
COMMON_KEYS = {"id", "source", "kind", "dialect", "dialect_note", "note", "method"}
KIND_KEYS = {
    "request": {"args", "canonical", "kallithea", "error", "xfail"},
    "result": {"result", "canonical", "expect_down", "down_note", "xfail"},
}
SKIP_KEYS = {"raw", "skip"}


def _load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(HERE.glob("seed*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            case = dict(case)
            case.setdefault("dialect", doc["dialect"])
            case["test_id"] = f"seed{doc['seed']}-{case['id']}"
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = _load_cases()


def _params(kind: str, check: str) -> list[Any]:
    params = []
    for case in CASES:
        if case["kind"] != kind:
            continue
        marks = []
        if "skip" in case:
            marks.append(pytest.mark.skip(reason=f"documented skip (README.md): {case['skip']}"))
        elif check in case.get("xfail", {}):
            marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"][check]))
        params.append(pytest.param(case, id=case["test_id"], marks=marks))
    return params


# ------------------------------------------------------------------ the translation steps, as gateway/app.py runs them


def _inbound(case: dict[str, Any]) -> tuple[Dialect, Inbound]:
    dialect = MAPPINGS.dialects[case["dialect"]]
    inbound = dialect.inbound.get(case["method"])
    if inbound is None:
        raise RpcError("unknown_method", method=case["method"])
    if inbound.unsupported:
        raise RpcError("unsupported", method=case["method"], reason=inbound.unsupported)
    return dialect, inbound


def _backend_call(inbound: Inbound, canonical_args: dict[str, Any]) -> dict[str, Any]:
    backend = MAPPINGS.dialects[BACKEND]
    outbound = backend.outbound.get(inbound.canonical)
    if outbound is None:  # the gateway fails closed: no guessed backend method
        raise RpcError("unsupported", method=inbound.name, reason=f"no mapping to a {BACKEND} method")
    if outbound.unsupported:
        raise RpcError("unsupported", method=inbound.name, reason=outbound.unsupported)
    return {"method": outbound.method, "args": outbound.args_down(copy.deepcopy(canonical_args))}


def _error_view(exc: RpcError, dialect: Dialect, expected: dict[str, Any]) -> dict[str, Any]:
    """The parts of an RpcError that `expected` names: code, engine params, the text in the caller's words."""
    view: dict[str, Any] = {"code": exc.code}
    for key in expected:
        if key in ("code", "text"):
            continue
        view[key] = exc.params.get(key)
    if "text" in expected:
        view["text"] = exc.text if exc.text is not None else dialect.errors.render(exc.code, exc.params)
    return view


def _canonical_result(case: dict[str, Any]) -> Any:
    return case["result"] if case["canonical"] == SAME else case["canonical"]


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", _params("request", "request"))
def test_request(case: dict[str, Any]) -> None:
    caller = MAPPINGS.dialects[case["dialect"]]
    if "error" in case:  # the caller's own dialect refuses the call
        with pytest.raises(RpcError) as info:
            _, inbound = _inbound(case)
            inbound.to_canonical(copy.deepcopy(case["args"]))
        assert _error_view(info.value, caller, case["error"]) == case["error"]
        return

    _, inbound = _inbound(case)
    canonical_args = inbound.to_canonical(copy.deepcopy(case["args"]))
    assert {"method": inbound.canonical, "args": canonical_args} == case["canonical"]

    expected = case["kallithea"]
    if "error" in expected:
        with pytest.raises(RpcError) as info:
            _backend_call(inbound, canonical_args)
        assert _error_view(info.value, caller, expected["error"]) == expected["error"]
    else:
        assert _backend_call(inbound, canonical_args) == expected


@pytest.mark.parametrize("case", _params("result", "up"))
def test_result_up(case: dict[str, Any]) -> None:
    dialect, inbound = _inbound(case)
    outbound = dialect.outbound[inbound.canonical]
    assert outbound.result_up(copy.deepcopy(case["result"])) == _canonical_result(case)


@pytest.mark.parametrize("case", _params("result", "down"))
def test_result_down(case: dict[str, Any]) -> None:
    _, inbound = _inbound(case)
    expected = case["expect_down"] if "expect_down" in case else case["result"]
    got = inbound.result_down(copy.deepcopy(_canonical_result(case)))
    assert _without_fills(got, expected, _fills(case["dialect"])) == expected


def _fills(dialect: str) -> set[tuple[str, Any]]:
    """(field, value) of every `fill:` rule of a dialect file: the fields its server always sent."""
    spec = MAPPINGS.spec.dialects[dialect]
    rules = [*spec["objects"].values(), *(m["result"] for m in spec["methods"].values() if "result" in m)]
    rules += [w for r in list(rules) for w in r.get("within", {}).values()]
    return {(k, repr(v)) for r in rules for k, v in r.get("fill", {}).items()}


def _without_fills(got: Any, documented: Any, fills: set[tuple[str, Any]]) -> Any:
    """`got` less the fields a documented example leaves out and a `fill:` rule added (a documented
    example may show fewer fields than its server sent, or come from a version that had fewer)."""
    if isinstance(got, dict) and isinstance(documented, dict):
        return {k: _without_fills(v, documented[k], fills) if k in documented else v for k, v in got.items()
                if k in documented or (k, repr(v)) not in fills}
    if isinstance(got, list) and isinstance(documented, list) and len(got) == len(documented):
        return [_without_fills(g, d, fills) for g, d in zip(got, documented)]
    return got


# ------------------------------------------------------------------ the data itself


def test_case_files_are_well_formed() -> None:
    assert CASES, "no golden cases found"
    ids = [c["test_id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    problems = []
    for c in CASES:
        allowed = COMMON_KEYS | {"test_id", "file"} | (SKIP_KEYS if "skip" in c else KIND_KEYS.get(c["kind"], set()))
        unknown = set(c) - allowed
        if unknown:
            problems.append(f"{c['test_id']}: unknown keys {sorted(unknown)}")
        if not re.fullmatch(r"seed 00[0-4], .+", c.get("source", "")):
            problems.append(f"{c['test_id']}: `source` must name the seed and the example")
        if c["dialect"] not in MAPPINGS.dialects:
            problems.append(f"{c['test_id']}: unknown dialect {c['dialect']}")
        if "skip" in c:
            continue
        if c["kind"] == "request":
            need = {"args", "error"} if "error" in c else {"args", "canonical", "kallithea"}
        else:
            need = {"result", "canonical"} | ({"down_note"} if "expect_down" in c else set())
        if not need <= set(c):
            problems.append(f"{c['test_id']}: missing {sorted(need - set(c))}")
        if set(c.get("xfail", {})) - set(CHECKS[c["kind"]]):
            problems.append(f"{c['test_id']}: xfail names no check of a {c['kind']} case")
        if c["kind"] == "request" and "canonical" in c and c["canonical"]["method"] not in MAPPINGS.canonical:
            problems.append(f"{c['test_id']}: {c['canonical']['method']} is no canonical method")
    assert problems == []


def _readme_section(title: str) -> str:
    text = (HERE / "README.md").read_text(encoding="utf-8")
    assert f"\n## {title}\n" in text, f"README.md has no section `{title}`"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_skips_are_the_documented_ones() -> None:
    """Nothing is skipped silently: README.md lists exactly the data's skipped examples."""
    listed = re.findall(r"^\| `(seed\d{3}-[^`]+)` \|", _readme_section("Skipped examples"), flags=re.M)
    assert sorted(listed) == sorted(c["test_id"] for c in CASES if "skip" in c)


def test_xfails_are_the_documented_ones() -> None:
    """Every strict xfail of the data is listed in README.md, with its check, and nothing else is."""
    listed = re.findall(r"^\| `(seed\d{3}-[^`]+)` \| (request|up|down) \|",
                        _readme_section("Known failures (strict xfail)"), flags=re.M)
    assert sorted(listed) == sorted((c["test_id"], check) for c in CASES for check in c.get("xfail", {}))
