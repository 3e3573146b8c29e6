"""Running a stand-in: in this event loop (`running_standin`) or as a subprocess (`main`)."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
from collections import deque
from dataclasses import dataclass
from typing import AsyncIterator

from aiohttp import web

from .server import Received, RhodecodeStandin


@dataclass
class RunningStandin:
    """A started stand-in: what a test needs to talk to it."""

    url: str
    admin_token: str
    user_token: str
    server: RhodecodeStandin

    @property
    def api_url(self) -> str:
        return f"{self.url}/_admin/api"

    # the names tests/integration/conftest.py's `Rpc` reads from its backend handle
    @property
    def admin_key(self) -> str:
        return self.admin_token

    @property
    def user_key(self) -> str:
        return self.user_token

    @property
    def admin_username(self) -> str:
        return self.server.user_of_token("<ADMIN_TOKEN>")

    @property
    def user_username(self) -> str:
        return self.server.user_of_token("<USER_TOKEN>")

    @property
    def received(self) -> deque[Received]:
        return self.server.received


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def running_standin(admin_token: str | None = None, user_token: str | None = None,
                          host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[RunningStandin]:
    """Start a stand-in on HOST:PORT (0 = a free port) in this event loop; stop it on exit.
    The tokens are random unless given."""
    sock = _bind(host, port)
    try:
        url = f"http://{host}:{sock.getsockname()[1]}"
        server = RhodecodeStandin(url, admin_token, user_token)
        runner = web.AppRunner(server.make_app(), access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            yield RunningStandin(url, server.admin_token, server.user_token, server)
        finally:
            await runner.cleanup()
    finally:
        sock.close()


DESCRIPTION = """\
TEST STAND-IN (a test double) for a RhodeCode CE 4.22 JSON-RPC server at /_admin/api: it answers
as the real server answered in the recordings under tests/standin/recordings/, from an in-memory
world that starts as the recorded one. It is not RhodeCode. It prints one line, its URL, and never
its tokens: those are random unless RHODECODE_STANDIN_ADMIN_TOKEN / RHODECODE_STANDIN_USER_TOKEN
are set, and go to --tokens-file (mode 0600) when asked."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standin.rhodecode", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 = a free port (default: 0)")
    parser.add_argument("--tokens-file", metavar="PATH",
                        help="write RHODECODE_STANDIN_URL/_ADMIN_TOKEN/_USER_TOKEN lines here (mode 0600)")
    opts = parser.parse_args(argv)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with running_standin(os.environ.get("RHODECODE_STANDIN_ADMIN_TOKEN"),
                                   os.environ.get("RHODECODE_STANDIN_USER_TOKEN"), opts.host, opts.port) as standin:
            if opts.tokens_file:
                fd = os.open(opts.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(f"RHODECODE_STANDIN_URL={standin.url}\n"
                            f"RHODECODE_STANDIN_ADMIN_TOKEN={standin.admin_token}\n"
                            f"RHODECODE_STANDIN_USER_TOKEN={standin.user_token}\n")
            print(f"rhodecode stand-in listening on {standin.url}", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0
