"""Run the application: event loop, listening socket(s), graceful stop, reload on SIGHUP.

With `--workers N` (N > 1) the parent starts N processes that share the port
(SO_REUSEPORT; the kernel spreads connections) and forwards SIGTERM, SIGINT and
SIGHUP to them. rcgate keeps no state beyond its config, so workers need no
coordination; each writes its own audit file (`audit.jsonl` -> `audit.w1.jsonl`, ...).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Callable

from aiohttp import web

from .app import GATEWAY, create_app
from .backend import printable_url
from .config import Config
from .mapping.engine import compile_mappings
from .mapping.loader import load_mappings

log = logging.getLogger("rcgate")


def run(config: Config, reload_config: Callable[[], Config] | None = None, workers: int = 1) -> int:
    if workers <= 1:
        return _serve(config, reload_config, reuse_port=False)
    return _supervise(config, reload_config, workers)


def _serve(config: Config, reload_config: Callable[[], Config] | None, reuse_port: bool) -> int:
    try:
        import uvloop  # a faster event loop where the platform has it
    except ImportError:
        uvloop = None
    app = create_app(config, reload_config)  # compiles the mappings: a bad file stops here, before listening
    gc.collect()
    gc.freeze()  # the compiled mappings live for the whole run: keep them out of every collection
    app.on_startup.append(_reload_on_sighup)
    host, port = config.host_port
    if config.backends:
        backends = "backends " + ", ".join(f"{b.name} {printable_url(b.url)} ({b.dialect})" for b in config.backends)
    else:
        backends = f"backend {printable_url(config.backend_url)} ({config.backend_dialect})"
    log.info("rcgate (pid %d) listening on http://%s:%d/_admin/api, %s, audit %s", os.getpid(), host, port, backends,
             config.audit_path)
    # SIGINT/SIGTERM: stop accepting, let in-flight calls finish, then on_cleanup drains the audit queue.
    web.run_app(
        app,
        host=host,
        port=port,
        reuse_port=reuse_port,
        access_log=None,
        print=None,
        shutdown_timeout=config.longest_timeout + 5,
        handle_signals=True,
        loop=uvloop.new_event_loop() if uvloop else asyncio.new_event_loop(),
    )
    return 0


async def _reload_on_sighup(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(app[GATEWAY].reload()))


def _worker(config: Config, reload_config: Callable[[], Config] | None, index: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s rcgate[w{index}] %(levelname)s %(message)s")
    config = _per_worker(config, index)
    reload = (lambda: _per_worker(reload_config(), index)) if reload_config else None
    raise SystemExit(_serve(config, reload, reuse_port=True))


def _per_worker(config: Config, index: int) -> Config:
    """Each worker writes its own audit log and diff log (NAME.wN.EXT): the readers take them together."""
    shadow_log = Path(worker_audit_path(str(config.shadow_log), index)) if config.shadow_log else None
    return config.override(audit_path=worker_audit_path(config.audit_path, index), shadow_log=shadow_log)


def worker_audit_path(path: str, index: int) -> str:
    if path == "-":
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}.w{index}{p.suffix}"))


def _supervise(config: Config, reload_config: Callable[[], Config] | None, workers: int) -> int:
    compile_mappings(load_mappings(config.mappings))  # a bad file stops the start here, not in N workers
    ctx = multiprocessing.get_context("fork")  # the config and compiled state are inherited, not pickled
    procs = [ctx.Process(target=_worker, args=(config, reload_config, i + 1), name=f"rcgate-w{i + 1}")
             for i in range(workers)]
    for p in procs:
        p.start()

    def forward(signum: int, _frame: object) -> None:
        for p in procs:
            if p.pid and p.is_alive():
                os.kill(p.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for p in procs:
        p.join()
    failed = [p.name for p in procs if p.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if failed:
        log.error("workers exited with an error: %s", ", ".join(failed))
        return 1
    return 0
