"""Run the application: event loop, listening socket, graceful stop."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .app import create_app
from .config import Config

log = logging.getLogger("rcgate")


def run(config: Config) -> int:
    try:
        import uvloop  # a faster event loop where the platform has it
    except ImportError:
        uvloop = None
    app = create_app(config)  # compiles the mappings: a bad file stops here, before listening
    host, port = config.host_port
    log.info(
        "rcgate listening on http://%s:%d/_admin/api, backend %s (%s), audit %s",
        host, port, config.backend_url, config.backend_dialect, config.audit_path,
    )
    # SIGINT/SIGTERM: stop accepting, let in-flight calls finish, then on_cleanup drains the audit queue.
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        print=None,
        shutdown_timeout=30,
        loop=uvloop.new_event_loop() if uvloop else asyncio.new_event_loop(),
    )
    return 0
