"""A bare aiohttp pass-through proxy: `python -m bench.bare_proxy --port N --backend-url URL [--client rcgate]`.

The bench's baseline (b): aiohttp's server (uvloop where available, access log
off) and aiohttp's own client, one `ClientSession` with a pooled keep-alive
connector (limit 100, as rcgate's pool), and no translation, no audit, no
metrics: it forwards the request body to URL/_admin/api and the answer's bytes
back, for any path. Binds 127.0.0.1 only.

With `--client rcgate` it forwards through rcgate's own backend client
(gateway/http_client.py) instead: row (b2), the same proxy with rcgate's
transport, so that (c) - (b2) is what translation, audit and metrics cost.
"""
from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

from gateway.http_client import KeepAliveClient


class AiohttpClient:
    """aiohttp's own client, behind the same post()/close() as rcgate's KeepAliveClient."""

    def __init__(self, api_url: str, max_connections: int) -> None:
        self.api_url = api_url
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))

    async def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        async with self.session.post(self.api_url, data=body, headers={"Content-Type": "application/json"}) as r:
            return r.status, await r.read()

    async def close(self) -> None:
        await self.session.close()


CLIENT = web.AppKey("client", object)


def create_app(backend_url: str, client: str = "aiohttp", max_connections: int = 100) -> web.Application:
    api_url = backend_url.rstrip("/") + "/_admin/api"
    app = web.Application()

    async def forward(request: web.Request) -> web.Response:
        status, raw = await request.app[CLIENT].post(await request.read(), 30.0)
        return web.Response(body=raw, status=status, content_type="application/json")

    async def start(app: web.Application) -> None:  # in the running loop, as aiohttp's session wants
        make = AiohttpClient if client == "aiohttp" else KeepAliveClient
        app[CLIENT] = make(api_url, max_connections)

    async def stop(app: web.Application) -> None:
        await app[CLIENT].close()

    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bare_proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend-url", required=True)
    p.add_argument("--client", choices=["aiohttp", "rcgate"], default="aiohttp",
                   help="aiohttp's ClientSession (row b, the default) or rcgate's backend client (row b2)")
    args = p.parse_args(argv)
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    web.run_app(create_app(args.backend_url, args.client), host="127.0.0.1", port=args.port, access_log=None, print=None,
                shutdown_timeout=5, loop=loop)


if __name__ == "__main__":
    main()
