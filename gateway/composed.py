"""Running composed calls: the steps of a composition (or `before:` steps) on one backend, in order.

Each step is a canonical call that the pipeline sends like any other (`send` translates it for the
backend and reads the answer up); its answer is kept under its `as` name for the steps after it and
for the result template. A backend error stops the composition and reaches the caller as that error.
A step with `unless_found` first makes a read and is skipped where the read succeeds (a parent group
that exists already is not made again).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from .errors import RpcError
from .mapping.compose import OMITTED, Composition, Context, Step

# (step, canonical arguments) -> the step's canonical answer; raises RpcError
Send = Callable[[Step, dict[str, Any]], Awaitable[Any]]


async def run_steps(steps: tuple[Step, ...], ctx: Context, send: Send) -> None:
    for step in steps:
        for item in step.items(ctx):
            ctx.each = item
            if step.unless_found is not None and await _found(step.unless_found, ctx, send):
                continue  # already there (a parent group that exists): nothing to make
            answer = await send(step, step.args(ctx))
            if step.name:
                ctx.answers[step.name] = answer
    ctx.each = OMITTED


async def _found(check: Step, ctx: Context, send: Send) -> bool:
    try:
        await send(check, check.args(ctx))
    except RpcError:
        return False
    return True


async def answer(composition: Composition, canonical_args: dict[str, Any], send: Send) -> Any:
    """The canonical answer of a composed method."""
    ctx = Context(dict(canonical_args))
    await run_steps(composition.steps, ctx, send)
    return composition.result(ctx)


def refused_args(composition: Composition, canonical_args: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Arguments given that the composition cannot honour (`takes:`), unless at their canonical default."""
    if composition.takes is None:
        return []
    return [a for a, v in canonical_args.items()
            if a not in composition.takes and not (a in defaults and v == defaults[a])]
