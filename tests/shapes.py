"""Comparing the shapes of JSON answers: which keys sit where, and what kind of value they hold."""
from __future__ import annotations

from typing import Any, Iterable


def kind(value: Any) -> str:
    """The JSON kind of a value; ints and floats are both numbers (servers differ on `expires`, dates)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


# Objects whose keys are data (names of repositories, groups ...), not fields: only their values' kinds count.
MAPS = ("permissions.repositories", "permissions.repositories_groups", "permissions.user_groups",
        "permissions_summary.repositories", "permissions_summary.repositories_groups",
        "permissions_summary.user_groups", "permissions.repository_branches", "user_ips")


def foreign(value: Any, references: Iterable[Any], path: str = "") -> list[str]:
    """Where `value` holds something no reference holds at the same place: a key none of them has, or a
    value of another kind (null matches anything: a server may not know a value). Paths like
    `members[].username`."""
    refs = [r for r in references if r is not None]
    if path.endswith(MAPS) and isinstance(value, dict):
        kinds = {kind(v) for r in refs if isinstance(r, dict) for v in r.values()}
        return [f"{path}.{k}: {kind(v)}" for k, v in value.items() if kinds and kind(v) not in kinds and v is not None]
    if value is None or not refs:
        return []
    kinds = {kind(r) for r in refs}
    if kind(value) not in kinds:
        return [f"{path or '<result>'}: {kind(value)}, the reference has {'/'.join(sorted(kinds))}"]
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            children = [r[key] for r in refs if isinstance(r, dict) and key in r]
            if not children and not any(isinstance(r, dict) and key in r for r in refs):
                out.append(f"{path}.{key}" if path else key)
                continue
            out += foreign(item, children, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        items = [i for r in refs if isinstance(r, list) for i in r]
        out = []
        for item in value:
            out += foreign(item, items, f"{path}[]")
        return sorted(set(out))
    return []


def missing(value: Any, reference: Any, path: str = "") -> list[str]:
    """Keys the reference has (at every depth) that `value` lacks; in lists, the keys every reference
    item has, looked for in every item of `value`."""
    return _missing(value, [reference], path)


def missing_from(value: Any, references: Iterable[Any]) -> list[str]:
    """Keys every one of several references has (at every depth) that `value` lacks."""
    return _missing(value, list(references), "")


def _missing(value: Any, refs: list[Any], path: str) -> list[str]:
    refs = [r for r in refs if r is not None]
    if value is None or not refs or path.endswith(MAPS):
        return []
    if isinstance(value, dict):
        dict_refs = [r for r in refs if isinstance(r, dict)]
        if not dict_refs:
            return []
        everywhere = [k for k in dict_refs[0] if all(k in r for r in dict_refs)]
        out = []
        for key in everywhere:
            where = f"{path}.{key}" if path else key
            if key not in value:
                out.append(where)
            else:
                out += _missing(value[key], [r[key] for r in dict_refs], where)
        return out
    if isinstance(value, list):
        items = [i for r in refs if isinstance(r, list) for i in r]
        return sorted({p for item in value for p in _missing(item, items, f"{path}[]")})
    return []
