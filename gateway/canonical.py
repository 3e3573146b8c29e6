"""The canonical API (modern RhodeCode): every call is checked against it before it leaves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = object()


@dataclass(frozen=True, slots=True)
class CanonicalMethod:
    name: str
    args: tuple[str, ...]  # every argument, in declared order
    required: tuple[str, ...]
    defaults: dict[str, Any]  # literal defaults (`optional` args have none)
    result: Any  # the result shape from canonical.yaml
    same_as: str | None = None  # another canonical method that does the same (a deprecated alias)
    kind: str = "write"  # read | write
    subject: tuple[str, str] | None = None  # ("repo" | "repo_group", argument naming it): what routes match
    lists: tuple[str, str] | None = None  # ("repo" | "repo_group", field naming each entry of the answer)

    def missing_args(self, args: dict[str, Any]) -> list[str]:
        """Required arguments not present. Presence only: an explicit null passes, as on every server."""
        return [a for a in self.required if a not in args]


def build_canonical(spec: dict[str, Any]) -> dict[str, CanonicalMethod]:
    methods = {}
    for name, m in spec["methods"].items():
        args = m["args"]
        methods[name] = CanonicalMethod(
            name=name,
            args=tuple(args),
            required=tuple(a for a, s in args.items() if s["kind"] == "required"),
            defaults={a: s["default"] for a, s in args.items() if s["kind"] == "default"},
            result=m["result"],
            same_as=m.get("same_as"),
            kind=m["kind"],
            subject=next(((k, m[k]) for k in ("repo", "repo_group") if k in m), None),
            lists=next(iter(m["lists"].items())) if m.get("lists") else None,
        )
    return methods
