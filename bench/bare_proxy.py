"""A bare aiohttp pass-through proxy: `python -m bench.bare_proxy --port N --backend-url URL`.

The bench's baseline (b): the same HTTP stack as rcgate (aiohttp server, uvloop
where available, access log off, one pooled keep-alive client session with
rcgate's connector settings) but no translation, no audit, no metrics: it
forwards the request body to URL/_admin/api and the answer's bytes back, for
any path. Binds 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)


def create_app(backend_url: str, max_connections: int = 100) -> web.Application:
    api_url = backend_url.rstrip("/") + "/_admin/api"
    app = web.Application()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with request.app[SESSION].post(api_url, data=body, headers={"Content-Type": "application/json"}) as r:
            raw = await r.read()
            status = r.status
        return web.Response(body=raw, status=status, content_type="application/json")

    async def start(app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30)
        app[SESSION] = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))

    async def stop(app: web.Application) -> None:
        await app[SESSION].close()

    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.bare_proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend-url", required=True)
    args = p.parse_args(argv)
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    web.run_app(create_app(args.backend_url), host="127.0.0.1", port=args.port, access_log=None, print=None,
                shutdown_timeout=5, loop=loop)


if __name__ == "__main__":
    main()
