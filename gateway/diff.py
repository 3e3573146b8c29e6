"""Two instances' canonical answers to the same call, compared as the mapping files say.

`compare:` of canonical.yaml declares, per object type, what legitimately differs between two
instances holding the same data: `instance` fields (ids, dates, tokens), the `key` that identifies an
object of the type across instances (a list of them is compared as a set, item by item by that key),
and `unordered` lists of plain values. Everything else both answers have must be equal; a field only one
of them has is not compared (the other server's API does not tell it). A difference is reported at its
JSON path (`$.users[username=john].email`) with both values; an item only one list has, with `<missing>`
on the other side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = "<missing>"  # the side that has no such field or item


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one backend answered, in canonical form: a result, or an error by its kind."""

    result: Any = None
    error: str | None = None  # an error id (`invalid_key`, `backend_error: <text>` ...); None: a result

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class TypeRules:
    instance: frozenset[str]
    key: tuple[str, ...]
    unordered: frozenset[str]
    children: dict[str, str]  # field -> object type (canonical.yaml `objects:`)


class Comparer:
    """Compiled once from canonical.yaml (`objects:` and `compare:`)."""

    def __init__(self, objects: dict[str, dict[str, str]], rules: dict[str, dict[str, Any]],
                 not_compared: dict[str, str] | None = None) -> None:
        self.not_compared = not_compared or {}  # {method: why}: reads about the server itself
        self.types = {
            name: TypeRules(frozenset(rules.get(name, {}).get("instance", ())), _key(rules.get(name, {}).get("key")),
                            frozenset(rules.get(name, {}).get("unordered", ())), dict(children))
            for name, children in objects.items()
        }

    @classmethod
    def of(cls, canonical: dict[str, Any]) -> "Comparer":
        """From canonical.yaml as loaded: its `objects:` and `compare:`."""
        return cls(canonical["objects"], canonical["compare"]["objects"], canonical["compare"]["not_compared"])

    def compare(self, primary: Outcome, shadow: Outcome, shape: Any) -> list[tuple[str, Any, Any]]:
        """[(path, primary value, shadow value)] where the two differ; [] when they are equal."""
        if primary.failed or shadow.failed:
            if primary.error == shadow.error:
                return []
            return [("$", _side(primary), _side(shadow))]
        out: list[tuple[str, Any, Any]] = []
        self._walk(primary.result, shadow.result, shape, "$", out)
        return out

    def _walk(self, a: Any, b: Any, kind: Any, path: str, out: list) -> None:
        if isinstance(kind, dict):  # a wrapper {field: type}: its fields typed, the rest plain
            if isinstance(a, dict) and isinstance(b, dict):
                self._fields(a, b, TypeRules(frozenset(), (), frozenset(), kind), path, out)
                return
            kind = None
        rules = self.types.get(kind) if isinstance(kind, str) else None
        if isinstance(a, list) and isinstance(b, list):
            self._list(a, b, kind, rules, path, out)
        elif isinstance(a, dict) and isinstance(b, dict):
            self._fields(a, b, rules or TypeRules(frozenset(), (), frozenset(), {}), path, out)
        elif a != b or type(a) is not type(b) and not _same_number(a, b):
            out.append((path, a, b))

    def _fields(self, a: dict, b: dict, rules: TypeRules, path: str, out: list) -> None:
        for name in dict.fromkeys([*a, *b]):
            if name in rules.instance:
                continue
            if name not in a or name not in b:
                continue  # one server's API does not tell it (Kallithea has no lock fields): nothing to compare
            sub = f"{path}.{name}"
            if name in rules.unordered and isinstance(a[name], list) and isinstance(b[name], list):
                only_a = [v for v in a[name] if v not in b[name]]
                only_b = [v for v in b[name] if v not in a[name]]
                if only_a or only_b:
                    out.append((sub, only_a, only_b))
            else:
                self._walk(a[name], b[name], rules.children.get(name), sub, out)

    def _list(self, a: list, b: list, kind: Any, rules: TypeRules | None, path: str, out: list) -> None:
        if rules is None or not rules.key:  # an ordered list: item by item
            for i in range(max(len(a), len(b))):
                sub = f"{path}[{i}]"
                if i >= len(a) or i >= len(b):
                    out.append((sub, a[i] if i < len(a) else MISSING, b[i] if i < len(b) else MISSING))
                else:
                    self._walk(a[i], b[i], kind, sub, out)
            return
        by_a, by_b = _by_key(a, rules.key), _by_key(b, rules.key)
        for name in dict.fromkeys([*by_a, *by_b]):
            sub = f"{path}[{name}]"
            if name not in by_a or name not in by_b:
                out.append((sub, by_a.get(name, MISSING), by_b.get(name, MISSING)))
            else:
                self._walk(by_a[name], by_b[name], kind, sub, out)


def _key(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _by_key(items: list, key: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and all(k in item for k in key):
            name = ",".join(f"{k}={item[k]}" for k in key)
        else:
            name = f"#{i}"  # an item without its key: by its place
        while name in out:  # the same key twice: both kept
            name += "'"
        out[name] = item
    return out


def _side(o: Outcome) -> Any:
    return {"error": o.error} if o.failed else {"result": o.result}


def _same_number(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
        and not isinstance(b, bool) and a == b
