"""The gateway: one aiohttp application, one pipeline.

    body ─► envelope.decode ─► detect dialect ─► envelope.read_call
         ─► plan_call: inbound.to_canonical (rename, validate) ─► outbound.args_down
         ─► backend.call ─► outbound.result_up ─► fetches ─► inbound.result_down
         ─► envelope.render ─► HTTP 200          (audit.record: exactly once, always)

When the caller and the backend speak the same dialect nothing is translated: the
server gets every argument the caller sent (older spellings renamed) and the caller
gets the server's answer untouched.

Everything a call needs from configuration sits in one immutable `Snapshot`; a
call takes the current one when it starts, and a reload swaps in a new one, so
in-flight calls finish on the set they started with.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from aiohttp import web

from . import envelope
from .audit import AuditLog, key_fingerprint
from .backend import Backend, BackendUnavailable
from .config import Config
from .dialects import DialectDetector
from .errors import RpcError
from .mapping.engine import Dialect, Inbound, Mappings, Outbound, compile_mappings
from .mapping.loader import load_mappings
from .metrics import Metrics

log = logging.getLogger("rcgate")
ENDPOINTS = {"/_admin/api": None, **{f"/{d}/_admin/api": d for d in ("rhodecode1", "kallithea", "rhodecode")}}
CANONICAL_HEADER = "X-Rcgate-Canonical-Method"
GATEWAY = web.AppKey("gateway", "Gateway")


@dataclass(frozen=True)
class Snapshot:
    """Config, compiled mappings and backend client: swapped whole on reload."""

    config: Config
    mappings: Mappings
    detector: DialectDetector
    backend: Backend

    @property
    def backend_dialect(self) -> Dialect:
        return self.mappings.dialects[self.config.backend_dialect]

    def dialect_for(self, forced: str | None) -> Dialect:
        """The dialect before the body is read: forced by the path, configured, or auto's fallback."""
        inbound = self.config.inbound_dialect
        return self.mappings.dialects[forced or (self.config.fallback_dialect if inbound == "auto" else inbound)]

    def detects(self, forced: str | None) -> bool:
        return forced is None and self.config.inbound_dialect == "auto"


def build_snapshot(config: Config) -> Snapshot:
    mappings = compile_mappings(load_mappings(config.mappings))  # a bad file raises MappingError here
    backend = Backend(config.backend_url, mappings.dialects[config.backend_dialect], config.backend_timeout,
                      config.backend_max_connections)
    return Snapshot(config, mappings, DialectDetector(mappings, config.fallback_dialect), backend)


class Gateway:
    def __init__(self, config: Config, reload_config: Callable[[], Config] | None = None) -> None:
        self.current = build_snapshot(config)
        self.reload_config = reload_config
        self.audit = AuditLog(
            config.audit_path, config.audit_redact, queue_size=config.audit_queue_size,
            on_full=config.audit_on_full, wait_ms=config.audit_wait_ms,
            max_bytes=config.audit_max_bytes, backups=config.audit_backups,
        )
        self.metrics = Metrics(lambda: self.audit.queue.qsize(), lambda: self.audit.dropped)
        self.retired: list[Backend] = []  # clients of replaced snapshots, closed once their calls are done

    async def reload(self) -> bool:
        """Re-read config and mappings; swap only if all of it is valid. True when swapped."""
        old = self.current
        try:
            config = self.reload_config() if self.reload_config else old.config
            new = build_snapshot(config)
        except Exception as exc:  # ConfigError, MappingError, or anything else: keep serving
            log.error("reload refused, still serving the previous configuration: %s", exc)
            self.metrics.reloads.labels("refused").inc()
            return False
        await new.backend.start()
        self.current = new
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded configuration and mappings")
        self.retired.append(old.backend)
        asyncio.get_running_loop().call_later(old.config.backend_timeout + 5, self._close_retired, old.backend)
        return True

    def _close_retired(self, backend: Backend) -> None:
        if backend in self.retired:  # after in-flight calls on the old set had time to finish
            self.retired.remove(backend)
            asyncio.ensure_future(backend.close())

    async def close(self) -> None:
        for backend in [self.current.backend, *self.retired]:
            await backend.close()
        self.retired.clear()
        await self.audit.close()


def create_app(config: Config, reload_config: Callable[[], Config] | None = None) -> web.Application:
    gateway = Gateway(config, reload_config)
    app = web.Application(client_max_size=config.max_body_bytes)
    app[GATEWAY] = gateway
    for path, forced in ENDPOINTS.items():
        app.router.add_route("*", path, _endpoint(forced))
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    await app[GATEWAY].current.backend.start()
    await app[GATEWAY].audit.start()


async def _stop(app: web.Application) -> None:
    await app[GATEWAY].close()


def _endpoint(forced_dialect: str | None):
    async def handle(request: web.Request) -> web.Response:
        return await serve_call(request, forced_dialect)

    return handle


async def serve_call(request: web.Request, forced_dialect: str | None) -> web.Response:
    gw: Gateway = request.app[GATEWAY]
    snap = gw.current
    started = time.perf_counter()
    event: dict[str, Any] = {"request_id": os.urandom(16).hex(), "client": request.remote}
    dialect = snap.dialect_for(forced_dialect)
    request_id: Any = None
    canonical_method = None
    try:
        payload = envelope.decode(await _read_body(request), snap.config.max_json_depth)
        if snap.detects(forced_dialect):
            dialect = snap.mappings.dialects[snap.detector.detect(payload)]
        request_id = payload.get("id")
        event["key"] = key_fingerprint(_first_key(payload, dialect))
        call = envelope.read_call(payload, dialect)
        event["method"] = call.method
        plan = plan_call(dialect, snap.backend_dialect, call.method, call.args)
        event["canonical_method"] = canonical_method = plan.canonical_method
        event["args"] = plan.canonical_args
        event["backend_method"] = plan.backend_method
        result, extra = await _call_backend(gw, snap, dialect, plan, call.key)
        body = envelope.render(dialect, call.id, result=result, extra=extra)
        event["outcome"] = "ok"
    except RpcError as exc:
        text = exc.text if exc.text is not None else dialect.errors.render(exc.code, with_similar(exc, dialect))
        body = envelope.render(dialect, request_id if exc.echo_id else None, error=text)
        event.update(outcome="error", error_code=exc.code, error=_audit_text(exc, dialect))
    except Exception as exc:  # a bug must still answer in the caller's dialect, never with a traceback
        log.error("internal error: %s", type(exc).__name__)
        body = envelope.render(dialect, request_id, error=dialect.errors.render("internal_error", {}))
        event.update(outcome="error", error_code="internal_error", error=type(exc).__name__)
    elapsed = time.perf_counter() - started
    event["dialect"] = dialect.name
    event["duration_ms"] = round(elapsed * 1000, 3)
    await gw.audit.record(**event)
    gw.metrics.observe_call(dialect.name, canonical_method or "-", event["outcome"], elapsed)
    headers = dict(_NO_CACHE)
    if canonical_method and dialect.envelope.canonical_header:  # a migration hint; the body stays as it is
        headers[CANONICAL_HEADER] = canonical_method
    return web.Response(body=body, content_type="application/json", headers=headers)


_NO_CACHE = {"Cache-Control": "no-cache", "Pragma": "no-cache"}


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RpcError("body_too_large", echo_id=False, limit=request.client_max_size) from None


def _first_key(payload: dict[str, Any], dialect: Dialect) -> Any:
    return next((payload[f] for f in dialect.envelope.key_fields if payload.get(f)), None)


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What one call becomes: the canonical call, and the backend's method and arguments."""

    inbound: Inbound | None  # None: a method the caller's dialect does not list, forwarded as sent
    outbound: Outbound | None  # None when caller and backend share the dialect: nothing to translate
    canonical_method: str | None
    canonical_args: dict[str, Any]
    backend_method: str
    backend_args: dict[str, Any]


def plan_call(caller: Dialect, backend: Dialect, method: str, args: dict[str, Any]) -> CallPlan:
    """Translate a call for the backend, or refuse it (RpcError) in the caller's terms."""
    if caller is backend:  # same dialect: the server decides what it knows
        inbound = caller.inbound.get(method)
        if inbound is None and caller.envelope.unknown_methods == "forward":
            return CallPlan(None, None, None, {}, method, args)
        inbound = find_inbound(caller, method)
        sent = inbound.as_sent(args)
        return CallPlan(inbound, None, inbound.canonical, inbound.to_canonical(sent, strict=False), inbound.name, sent)
    inbound = find_inbound(caller, method)  # fail closed: only what both files describe is translated
    canonical_args = inbound.to_canonical(args)
    outbound = find_outbound(backend, inbound)
    return CallPlan(inbound, outbound, inbound.canonical, canonical_args, outbound.method,
                    outbound.args_down(canonical_args))


def find_inbound(dialect: Dialect, method: str) -> Inbound:
    inbound = dialect.inbound.get(method)
    if inbound is None:
        raise RpcError("unknown_method", method=method)
    if inbound.unsupported:
        raise RpcError("unsupported", method=method, reason=inbound.unsupported)
    return inbound


def find_outbound(backend: Dialect, inbound: Inbound) -> Outbound:
    outbound = backend.outbound.get(inbound.canonical)
    if outbound is None:  # fail closed: never guess a backend method
        raise RpcError("unsupported", method=inbound.name, reason=f"no mapping to a {backend.name} method")
    if outbound.unsupported:
        raise RpcError("unsupported", method=inbound.name, reason=outbound.unsupported)
    return outbound


async def _call_backend(gw: Gateway, snap: Snapshot, dialect: Dialect, plan: CallPlan,
                        key: str) -> tuple[Any, dict[str, Any] | None]:
    backend = snap.backend_dialect
    answer = await _send(gw, snap, plan.backend_method, plan.backend_args, key)
    if plan.outbound is None:  # same dialect both sides: the server's answer, untouched
        if answer.error is not None:
            raise RpcError("backend_error", answer.error)
        return answer.result, answer.extra
    inbound, args = plan.inbound, plan.canonical_args
    if answer.error is not None:
        raise translated_error(answer.error, backend, dialect, inbound)
    result = plan.outbound.result_up(answer.result)
    for fetch in inbound.fetches:
        if isinstance(result, dict) and fetch.into not in result:
            result[fetch.into] = await _fetch(gw, snap, fetch.method, {a: args.get(b) for a, b in fetch.args.items()}, key)
    return inbound.result_down(result), None


async def _send(gw: Gateway, snap: Snapshot, method: str, args: dict[str, Any], key: str):
    started = time.perf_counter()
    try:
        return await snap.backend.call(method, args, key)
    except BackendUnavailable as exc:
        gw.metrics.backend_errors.inc()
        raise RpcError("backend_unavailable", reason=str(exc)) from None
    finally:
        gw.metrics.backend_latency.observe(time.perf_counter() - started)


async def _fetch(gw: Gateway, snap: Snapshot, method: str, args: dict[str, Any], key: str) -> Any:
    """A follow-up read a dialect declared (`fetch:`); its failure leaves the field null."""
    outbound = snap.backend_dialect.outbound.get(method)
    if outbound is None or outbound.unsupported:
        return None
    try:
        answer = await _send(gw, snap, outbound.method, outbound.args_down(args), key)
    except RpcError:
        return None
    return None if answer.error is not None else outbound.result_up(answer.result)


def translated_error(error: Any, backend: Dialect, dialect: Dialect, inbound: Inbound) -> RpcError:
    """A backend's error text, reworded in the caller's dialect where both files know it."""
    if backend is dialect:
        return RpcError("backend_error", error)  # same dialect: untouched, even a 4.x {field: message} object
    text = error if isinstance(error, str) else flatten_error(error)
    parsed = backend.errors.parse(text)
    if parsed and parsed[0] in dialect.errors.templates:
        code, params = parsed
        if "method" in params:
            params["method"] = inbound.name
        if "arg" in params:
            params["arg"] = inbound.arg_names.get(params["arg"], params["arg"])
        return RpcError(code, dialect.errors.render(code, params))
    return RpcError("backend_error", text)


def flatten_error(error: Any) -> str:
    """Modern servers report validation failures as {field: message}; legacy callers need a string."""
    if isinstance(error, dict):
        return "; ".join(f"{v}" for v in error.values())
    return str(error)


def with_similar(exc: RpcError, dialect: Dialect) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- operations endpoints


async def _metrics(request: web.Request) -> web.Response:
    metrics = request.app[GATEWAY].metrics
    return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.content_type})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready when the backend answers its API endpoint at all (any JSON-RPC answer will do)."""
    ready, reason = await request.app[GATEWAY].current.backend.probe()
    return web.json_response({"ready": ready, "backend": reason}, status=200 if ready else 503)
