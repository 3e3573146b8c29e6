"""The gateway: one aiohttp application, one pipeline.

    body ─► envelope.decode ─► detect dialect ─► envelope.read_call
         ─► inbound.to_canonical (rename, validate) ─► outbound.args_down
         ─► backend.call ─► outbound.result_up ─► fetches ─► inbound.result_down
         ─► envelope.render ─► HTTP 200          (audit.record: exactly once, always)
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import envelope
from .audit import AuditLog, key_fingerprint
from .backend import Backend, BackendUnavailable
from .config import Config
from .dialects import DialectDetector
from .errors import RpcError
from .mapping.engine import Dialect, Inbound, Mappings, Outbound
from .mapping.loader import load_mappings
from .mapping.engine import compile_mappings

log = logging.getLogger("rcgate")
ENDPOINTS = {"/_admin/api": None, **{f"/{d}/_admin/api": d for d in ("rhodecode1", "kallithea", "rhodecode")}}
STATE = web.AppKey("state", "Gateway")


@dataclass
class Gateway:
    config: Config
    mappings: Mappings
    detector: DialectDetector
    backend: Backend
    audit: AuditLog

    @property
    def backend_dialect(self) -> Dialect:
        return self.mappings.dialects[self.config.backend_dialect]


def create_app(config: Config) -> web.Application:
    mappings = compile_mappings(load_mappings(config.mappings))  # a bad file stops the start here
    gateway = Gateway(
        config=config,
        mappings=mappings,
        detector=DialectDetector(mappings, config.fallback_dialect),
        backend=Backend(
            config.backend_url,
            mappings.dialects[config.backend_dialect],
            config.backend_timeout,
            config.backend_max_connections,
        ),
        audit=AuditLog(config.audit_path, config.audit_redact),
    )
    app = web.Application()
    app[STATE] = gateway
    for path, forced in ENDPOINTS.items():
        app.router.add_route("*", path, _endpoint(forced))
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    await app[STATE].backend.start()
    await app[STATE].audit.start()


async def _stop(app: web.Application) -> None:
    await app[STATE].backend.close()
    await app[STATE].audit.close()


def _endpoint(forced_dialect: str | None):
    async def handle(request: web.Request) -> web.Response:
        return await serve_call(request, forced_dialect)

    return handle


async def serve_call(request: web.Request, forced_dialect: str | None) -> web.Response:
    gw: Gateway = request.app[STATE]
    started = time.perf_counter()
    event: dict[str, Any] = {"request_id": uuid.uuid4().hex, "client": request.remote}
    dialect = gw.mappings.dialects[forced_dialect or _configured(gw)]
    request_id: Any = None
    try:
        payload = envelope.decode(await request.read())
        if forced_dialect is None and gw.config.inbound_dialect == "auto":
            dialect = gw.mappings.dialects[gw.detector.detect(payload)]
        request_id = payload.get("id")
        event["key"] = key_fingerprint(_first_key(payload, dialect))
        call = envelope.read_call(payload, dialect)
        event["method"] = call.method
        inbound = _inbound(dialect, call.method)
        event["canonical_method"] = inbound.canonical
        canonical_args = inbound.to_canonical(call.args)
        event["args"] = canonical_args
        outbound = _outbound(gw.backend_dialect, inbound)
        event["backend_method"] = outbound.method
        result = await _call_backend(gw, dialect, inbound, outbound, canonical_args, call.key)
        body = envelope.render(dialect, call.id, result=result)
        event["outcome"] = "ok"
    except RpcError as exc:
        text = exc.text if exc.text is not None else dialect.errors.render(exc.code, _with_similar(exc, dialect))
        body = envelope.render(dialect, request_id if exc.echo_id else None, error=text)
        event.update(outcome="error", error_code=exc.code, error=_audit_text(exc, dialect))
    except Exception as exc:  # a bug must still answer in the caller's dialect, never with a traceback
        log.error("internal error: %s", type(exc).__name__, exc_info=False)
        body = envelope.render(dialect, request_id, error=dialect.errors.render("internal_error", {}))
        event.update(outcome="error", error_code="internal_error", error=type(exc).__name__)
    event["dialect"] = dialect.name
    event["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
    gw.audit.record(**event)
    return web.Response(body=body, content_type="application/json", headers=_NO_CACHE)


_NO_CACHE = {"Cache-Control": "no-cache", "Pragma": "no-cache"}


def _configured(gw: Gateway) -> str:
    return gw.config.fallback_dialect if gw.config.inbound_dialect == "auto" else gw.config.inbound_dialect


def _first_key(payload: dict[str, Any], dialect: Dialect) -> Any:
    return next((payload[f] for f in dialect.envelope.key_fields if payload.get(f)), None)


def _inbound(dialect: Dialect, method: str) -> Inbound:
    inbound = dialect.inbound.get(method)
    if inbound is None:
        raise RpcError("unknown_method", method=method)
    if inbound.unsupported:
        raise RpcError("unsupported", method=method, reason=inbound.unsupported)
    return inbound


def _outbound(backend: Dialect, inbound: Inbound) -> Outbound:
    outbound = backend.outbound.get(inbound.canonical)
    if outbound is None:  # fail closed: never guess a backend method
        raise RpcError("unsupported", method=inbound.name, reason=f"no mapping to a {backend.name} method")
    if outbound.unsupported:
        raise RpcError("unsupported", method=inbound.name, reason=outbound.unsupported)
    return outbound


async def _call_backend(
    gw: Gateway, dialect: Dialect, inbound: Inbound, outbound: Outbound, args: dict[str, Any], key: str
) -> Any:
    backend = gw.backend_dialect
    try:
        answer = await gw.backend.call(outbound.method, outbound.args_down(args), key)
    except BackendUnavailable as exc:
        raise RpcError("backend_unavailable", reason=str(exc)) from None
    if answer.error is not None:
        raise _translated_error(answer.error, backend, dialect, inbound)
    if backend is dialect:  # same dialect both sides: the server's answer, untouched
        return answer.result
    result = outbound.result_up(answer.result)
    for fetch in inbound.fetches:
        if isinstance(result, dict) and fetch.into not in result:
            result[fetch.into] = await _fetch(gw, fetch.method, {a: args.get(b) for a, b in fetch.args.items()}, key)
    return inbound.result_down(result)


async def _fetch(gw: Gateway, method: str, args: dict[str, Any], key: str) -> Any:
    """A follow-up read a dialect declared (`fetch:`); its failure leaves the field null."""
    outbound = gw.backend_dialect.outbound.get(method)
    if outbound is None or outbound.unsupported:
        return None
    try:
        answer = await gw.backend.call(outbound.method, outbound.args_down(args), key)
    except (BackendUnavailable, RpcError):
        return None
    return None if answer.error is not None else outbound.result_up(answer.result)


def _translated_error(error: Any, backend: Dialect, dialect: Dialect, inbound: Inbound) -> RpcError:
    """A backend's error text, reworded in the caller's dialect where both files know it."""
    text = error if isinstance(error, str) else _flatten_error(error)
    if backend is not dialect:
        parsed = backend.errors.parse(text)
        if parsed and parsed[0] in dialect.errors.templates:
            code, params = parsed
            if "method" in params:
                params["method"] = inbound.name
            if "arg" in params:
                params["arg"] = inbound.arg_names.get(params["arg"], params["arg"])
            return RpcError(code, dialect.errors.render(code, params))
    return RpcError("backend_error", text)


def _flatten_error(error: Any) -> str:
    """Modern servers report validation failures as {field: message}; legacy callers need a string."""
    if isinstance(error, dict):
        return "; ".join(f"{v}" for v in error.values())
    return str(error)


def _with_similar(exc: RpcError, dialect: Dialect) -> dict[str, Any]:
    """Modern RhodeCode lists methods that share a word with an unknown one."""
    method = exc.params.get("method")
    if exc.code not in ("unknown_method", "method_not_allowed") or not isinstance(method, str):
        return exc.params
    parts = {p for p in method.split("_") if p}
    similar = sorted(m for m in dialect.inbound if parts & set(m.split("_")))
    return {**exc.params, "similar": ", ".join(similar) or "none"}


def _audit_text(exc: RpcError, dialect: Dialect) -> str:
    """The error as the caller saw it, minus any echo of the request body (it holds the key)."""
    if exc.text is not None:
        return exc.text
    params = {k: ("<body>" if k in envelope.SECRET_PARAMS else v) for k, v in exc.params.items()}
    return dialect.errors.render(exc.code, params)
