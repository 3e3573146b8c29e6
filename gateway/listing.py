"""Lists of repositories (or groups) while they live on several instances.

During a migration `get_repos` must answer every repository exactly once, each as the
instance that holds it sees it: every backend a route may send the call to is asked
(at once), and from each answer only the entries the routes send to that very
backend are kept. If one of those backends cannot answer, the whole call fails with
the caller's unavailable error: a script acting on a silently partial list would do
damage.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .errors import RpcError


@dataclass(frozen=True, slots=True)
class Part:
    """One backend's answer: its entries in canonical form and, when possible, as the caller reads them."""

    backend: str
    canonical: list[Any]  # entries read up to canonical
    raw: list[Any] | None  # the backend's own entries, when it speaks the caller's dialect (kept untouched)


async def gather_parts(backends: tuple[str, ...], ask: Callable[[str], Awaitable[Part]]) -> list[Part]:
    """Ask every backend at once; the first failure (an RpcError) fails the listing."""
    tasks = [asyncio.ensure_future(ask(name)) for name in backends]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def merge(parts: list[Part], field: str, owner: Callable[[str], str]) -> tuple[list[Any], list[Any] | None]:
    """Entries kept from the backend that owns them: (canonical entries, raw entries or None).

    The raw list exists only when every part has raw entries (all backends speak the
    caller's dialect); it is then what the caller gets, untouched.
    """
    canonical: list[Any] = []
    raw: list[Any] | None = [] if all(p.raw is not None for p in parts) else None
    for part in parts:
        for i, entry in enumerate(part.canonical):
            name = entry.get(field) if isinstance(entry, dict) else None
            if not isinstance(name, str) or owner(name) != part.backend:
                continue
            canonical.append(entry)
            if raw is not None:
                raw.append(part.raw[i])
    return canonical, raw


def expect_list(result: Any, backend: str) -> list[Any]:
    if not isinstance(result, list):
        raise RpcError("backend_unavailable", reason="a backend answered a listing with something that is not a list")
    return result
