"""The one exception type the pipeline raises for a JSON-RPC error.

`code` names an entry of a dialect file's `errors:` table; the envelope renders
it in the caller's dialect with `params` filled in. `text` carries a backend's own
message when no entry matched it, so it reaches the caller unchanged.
"""
from __future__ import annotations

from typing import Any


class RpcError(Exception):
    def __init__(self, code: str, text: str | None = None, *, echo_id: bool = True, **params: Any) -> None:
        super().__init__(text or code)
        self.code = code
        self.text = text
        self.params = params
        self.echo_id = echo_id  # False where the real server answers `"id": null`
