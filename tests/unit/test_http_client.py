"""The backend's HTTP client (gateway/http_client.py) against a SCRIPTED HTTP responder.

`Responder` is a test double, not a model of any server: a raw asyncio server on
127.0.0.1 that reads each request and writes back whatever bytes the test scripts
(chunked, read-until-close, `Connection: close`, garbage, silence), and counts
the connections it accepted. The fault texts a caller sees are covered end to end
in tests/robustness/test_backend_faults.py.
"""
from __future__ import annotations

import asyncio
import base64
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable

import pytest

from gateway.http_client import CLOSED_EARLY, CUT_OFF, NOT_HTTP, HttpFault, KeepAliveClient

Script = Callable[[bytes], list[bytes] | None]  # request -> the pieces to write (None: stay silent)


def ok(body: bytes, *extra: str) -> list[bytes]:
    head = "".join(f"{h}\r\n" for h in extra)
    return [f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body]


class Responder:
    def __init__(self, script: Script, close_after: bool = False, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.close_after = close_after
        self.tls = tls
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests: list[bytes] = []
        self.eofs = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> "Responder":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/prefix/_admin/api"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.eofs += 1
                    return
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                pieces = self.script(request)
                if pieces is None:
                    await reader.read()  # silent until the client gives up
                    self.eofs += 1
                    return
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)  # separate segments: the client must reassemble
                if self.close_after:
                    return
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open -= 1
            writer.close()


def body_of(request: bytes) -> bytes:
    return request.split(b"\r\n\r\n", 1)[1]


def echo(request: bytes) -> list[bytes]:
    return ok(body_of(request))


async def test_one_kept_alive_connection_serves_many_calls():
    async with Responder(echo) as server:
        client = KeepAliveClient(server.url)
        for i in range(20):
            assert await client.post(b'{"n": %d}' % i, 5) == (200, b'{"n": %d}' % i)
        await client.close()
    assert server.connections == 1


async def test_the_request_head():
    async with Responder(echo) as server:
        url = server.url.replace("://", "://svc%40corp:p%3Ass@")
        client = KeepAliveClient(url)
        await client.post(b"{}", 5)
        await client.close()
    head = server.requests[0].split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert head[0] == "POST /prefix/_admin/api HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in head[1:])
    assert fields["Host"] == f"127.0.0.1:{server.port}"
    assert fields["Content-Type"] == "application/json" and fields["Content-Length"] == "2"
    assert base64.b64decode(fields["Authorization"].removeprefix("Basic ")) == b"svc@corp:p:ss"


async def test_a_chunked_answer_in_pieces():
    def chunked(request: bytes) -> list[bytes]:
        return [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\n{\"a\":\r\n",
                b"3\r\n 1}\r\n", b"0\r\n\r\n"]

    async with Responder(chunked) as server:
        client = KeepAliveClient(server.url)
        assert await client.post(b"{}", 5) == (200, b'{"a": 1}')
        assert await client.post(b"{}", 5) == (200, b'{"a": 1}')
        await client.close()
    assert server.connections == 1


async def test_an_answer_that_runs_until_the_connection_closes():
    def until_close(request: bytes) -> list[bytes]:
        return [b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n", b'{"result": ', b"1}"]

    async with Responder(until_close, close_after=True) as server:
        client = KeepAliveClient(server.url)
        assert await client.post(b"{}", 5) == (200, b'{"result": 1}')
        assert await client.post(b"{}", 5) == (200, b'{"result": 1}')
        await client.close()
    assert server.connections == 2


async def test_connection_close_is_honoured():
    async with Responder(lambda r: ok(b"{}", "Connection: close")) as server:
        client = KeepAliveClient(server.url)
        for _ in range(3):
            assert (await client.post(b"{}", 5))[0] == 200
        await client.close()
    assert server.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_not_used():
    async with Responder(echo, close_after=True) as server:  # keep-alive promised, then closed
        client = KeepAliveClient(server.url)
        assert await client.post(b"1", 5) == (200, b"1")
        await asyncio.sleep(0.05)
        assert await client.post(b"2", 5) == (200, b"2")
        await client.close()
    assert server.connections == 2


async def test_idle_connections_expire():
    async with Responder(echo) as server:
        client = KeepAliveClient(server.url, idle_timeout=0.1)
        await client.post(b"1", 5)
        await client.post(b"2", 5)
        await asyncio.sleep(0.2)
        await client.post(b"3", 5)
        await client.close()
    assert server.connections == 2


async def test_a_connection_left_idle_is_closed_even_while_another_is_busy():
    async with Responder(lambda r: [b"", *ok(body_of(r))]) as server:
        client = KeepAliveClient(server.url, idle_timeout=0.2)
        await asyncio.gather(client.post(b"1", 5), client.post(b"2", 5))  # two connections
        assert server.connections == 2
        for _ in range(6):  # sequential calls reuse the most recently used one only
            await client.post(b"3", 5)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert server.eofs == 1  # the other one, idle past 0.2 s, was closed by the client
        await client.close()
    assert server.connections == 2


async def test_at_most_max_connections_at_once():
    async with Responder(lambda r: [b"", *ok(body_of(r))]) as server:  # an empty first piece: a short pause
        client = KeepAliveClient(server.url, max_connections=2)
        answers = await asyncio.gather(*(client.post(b"%d" % i, 5) for i in range(12)))
        await client.close()
    assert [a[1] for a in answers] == [b"%d" % i for i in range(12)]
    assert server.max_open <= 2 and server.connections == 2


async def test_the_deadline_ends_a_silent_call_and_drops_its_connection():
    async with Responder(lambda r: None) as server:
        client = KeepAliveClient(server.url)
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await client.post(b"{}", 0.3)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.05)
        assert server.eofs == 1  # the client closed it: a late answer can never meet the next call
        await client.close()
    assert 0.3 <= elapsed < 0.3 + 2 * KeepAliveClient._TICK + 0.1, elapsed


async def test_the_deadline_also_covers_waiting_for_a_free_connection():
    async with Responder(lambda r: None) as server:
        client = KeepAliveClient(server.url, max_connections=1)
        first = asyncio.ensure_future(client.post(b"{}", 1.0))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        with pytest.raises(TimeoutError):
            await client.post(b"{}", 0.2)
        assert time.perf_counter() - started < 0.5
        with pytest.raises(TimeoutError):
            await first
        await client.close()


async def test_bytes_nobody_asked_for_retire_the_connection():
    async with Responder(lambda r: [ok(body_of(r))[0] + b"HTTP/1.1 200 OK\r\n"]) as server:
        client = KeepAliveClient(server.url)
        assert await client.post(b"1", 5) == (200, b"1")
        assert await client.post(b"2", 5) == (200, b"2")
        await client.close()
    assert server.connections == 2


@pytest.mark.parametrize("pieces, reason", [
    ([b"SMTP ready\r\n\r\n"], NOT_HTTP),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{\"a\""], CUT_OFF),
    ([b"HTTP/1.1 200 OK\r\nContent-Le"], CLOSED_EARLY),
    ([], CLOSED_EARLY),
])
async def test_broken_answers(pieces, reason):
    async with Responder(lambda r: pieces, close_after=True) as server:
        client = KeepAliveClient(server.url)
        with pytest.raises(HttpFault) as fault:
            await client.post(b"{}", 5)
        await client.close()
    assert str(fault.value) == reason


async def test_nothing_listening():
    async with Responder(echo) as server:
        url = server.url
    client = KeepAliveClient(url)
    with pytest.raises(HttpFault, match="^connection refused$"):
        await client.post(b"{}", 5)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_https(tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with Responder(echo, tls=tls) as server:
        untrusted = KeepAliveClient(server.url)
        with pytest.raises(HttpFault, match="TLS handshake failed"):
            await untrusted.post(b"{}", 5)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted the way an operator would trust a private CA
        client = KeepAliveClient(server.url)
        assert await client.post(b'{"tls": 1}', 5) == (200, b'{"tls": 1}')
        await client.close()
