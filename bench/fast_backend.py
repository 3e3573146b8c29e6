"""A fast local JSON-RPC backend for the bench: `python -m bench.fast_backend --port N`.

A bare asyncio protocol (uvloop where available), HTTP/1.1 keep-alive, bodies
with Content-Length: no framework, so that it costs a small fraction of what the
proxies in front of it cost. Answers every method on any path with a plausible
Kallithea 0.7 result (bench/calls.py), echoing the request id; a key that is not
40 characters long gets Kallithea's "Invalid API key". Binds 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import signal

import orjson

from .calls import DEFAULT_RESULT, RESULTS

_RESULTS = {m: orjson.dumps(r) for m, r in RESULTS.items()}
_DEFAULT = orjson.dumps(DEFAULT_RESULT)
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
_HEAD_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"


def answer(body: bytes) -> bytes:
    try:
        call = orjson.loads(body)
    except orjson.JSONDecodeError:
        return b'{"id":null,"result":null,"error":"JSON parse error"}'
    if not isinstance(call, dict):
        return b'{"id":null,"result":null,"error":"JSON parse error"}'
    rid = orjson.dumps(call.get("id"))
    key = call.get("api_key") or call.get("auth_token")
    if not isinstance(key, str) or len(key) != 40:
        return b'{"id":' + rid + b',"result":null,"error":"Invalid API key"}'
    result = _RESULTS.get(call.get("method"), _DEFAULT)
    return b'{"id":' + rid + b',"result":' + result + b',"error":null}'


class RpcProtocol(asyncio.Protocol):
    __slots__ = ("transport", "buf")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        close = False
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            length = 0
            i = head.find(b"\r\ncontent-length:")
            if i >= 0:
                j = head.find(b"\r\n", i + 17)
                length = int(head[i + 17: j if j > 0 else len(head)])
            start = end + 4
            if len(buf) < start + length:
                if b"\r\nexpect: 100-continue" in head:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                break
            body = answer(buf[start: start + length])
            close = b"\r\nconnection: close" in head
            out.append((_HEAD_CLOSE if close else _HEAD) % len(body))
            out.append(body)
            buf = buf[start + length:]
            if close:
                break
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))
        if close:
            self.transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RpcProtocol, "127.0.0.1", port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fast_backend", description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    try:
        import uvloop

        uvloop.run(serve(args.port))
    except ImportError:
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
