"""What a real RhodeCode CE 4.22 answered, read from tests/standin/recordings/rhodecode-4.22/.

Tests use it to know the modern shapes (the keys of each object, at any depth) from the real
server's own answers instead of from a list written by hand, so they cannot drift from it.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterator

RECORDINGS = Path(__file__).resolve().parent / "standin" / "recordings" / "rhodecode-4.22"


@functools.cache
def examples(method: str) -> tuple[dict[str, Any], ...]:
    """Every recorded example of one method: {note, request, response, ...}."""
    return tuple(json.loads((RECORDINGS / f"{method}.json").read_text(encoding="utf-8")))


def methods() -> list[str]:
    return sorted(p.stem for p in RECORDINGS.glob("*.json") if not p.stem.startswith("_"))


def results(method: str) -> list[Any]:
    """The results of the successful answers of one method, in recorded order."""
    out = []
    for example in examples(method):
        response = example.get("response")
        if isinstance(response, dict) and response.get("error") is None and "result" in response:
            out.append(response["result"])
    return out


def at(value: Any, path: str) -> Iterator[Any]:
    """The values at a path: field names separated by dots, `[]` for every item of a list."""
    if not path:
        yield value
        return
    head, _, rest = path.partition(".")
    if head == "[]":
        if isinstance(value, list):
            for item in value:
                yield from at(item, rest)
    elif isinstance(value, dict) and head in value:
        yield from at(value[head], rest)


def keys(method: str, path: str = "") -> frozenset[str]:
    """Every key the objects at `path` of a method's successful results had (union over the examples)."""
    found: set[str] = set()
    for result in results(method):
        for obj in at(result, path):
            if isinstance(obj, dict):
                found |= set(obj)
    if not found:
        raise LookupError(f"no recorded object at {method}:{path or '<result>'}")
    return frozenset(found)


def common_keys(method: str, path: str = "") -> frozenset[str]:
    """The keys every object at `path` had (intersection over the examples)."""
    sets = [frozenset(obj) for result in results(method) for obj in at(result, path) if isinstance(obj, dict)]
    if not sets:
        raise LookupError(f"no recorded object at {method}:{path or '<result>'}")
    return frozenset.intersection(*sets)
