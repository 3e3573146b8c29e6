"""Which dialect a caller speaks, when the endpoint does not say.

The rule is deterministic and derived from the mapping files, so it grows with
them: (1) a key field only one dialect reads (`auth_token`: modern RhodeCode) means
that dialect; (2) a method name that only one dialect has means that dialect; (3) an
argument name that, for this method, only one dialect uses means that dialect;
(4) otherwise the configured fallback.
"""
from __future__ import annotations

from typing import Any

from .mapping.engine import Mappings


class DialectDetector:
    def __init__(self, mappings: Mappings, fallback: str) -> None:
        self.fallback = fallback
        bases = {n: d for n, d in mappings.dialects.items() if d.version_of is None}  # versions: after detection
        key_owners: dict[str, set[str]] = {}
        for name, dialect in bases.items():
            for key_field in dialect.envelope.key_fields:
                key_owners.setdefault(key_field, set()).add(name)
        self.by_key_field = {k: next(iter(d)) for k, d in key_owners.items() if len(d) == 1}
        owners: dict[str, set[str]] = {}
        arg_owners: dict[tuple[str, str], set[str]] = {}
        for name, dialect in bases.items():
            for method, inbound in dialect.inbound.items():
                if inbound.unsupported:
                    continue
                owners.setdefault(method, set()).add(name)
                for arg in inbound.accepted_args:
                    arg_owners.setdefault((method, arg), set()).add(name)
        self.by_method = {m: next(iter(d)) for m, d in owners.items() if len(d) == 1}
        self.by_arg = {k: next(iter(d)) for k, d in arg_owners.items() if len(d) == 1}

    def detect(self, payload: dict[str, Any]) -> str:
        for key_field, owner in self.by_key_field.items():
            if key_field in payload:
                return owner
        method = payload.get("method")
        if not isinstance(method, str):
            return self.fallback
        if method in self.by_method:
            return self.by_method[method]
        args = payload.get("args")
        if isinstance(args, dict):
            for arg in args:
                owner = self.by_arg.get((method, arg))
                if owner:
                    return owner
        return self.fallback
