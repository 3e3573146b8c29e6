"""The whole host through rcgate: web views with a key, downloads, hg and git over HTTP, against the real
Kallithea 0.7.0 (the new instance: repositories of this run's wave) and the real RhodeCode 1.7.2 (the old
one: everything else), behind one rcgate that routes by repository.

Scripts use the old instance's key; the new instance's credential map swaps it. Every answer is the
server's own (status, type, Content-Disposition), streamed; one audit record per request, without the key.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.config import load_config
from tests.faulty_backend import FaultyBackend

from .conftest import REPO_ROOT, unique
from .test_every_method_kallithea import direct_sync

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]

WAVE = unique("vw")  # repositories named WAVE-* live on the new instance (Kallithea)


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write_config(tmp_path: Path, old, new_url: str, new, timeout: float = 30, unmapped: str = "forward") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    creds = tmp_path / "new-credentials.yaml"
    creds.write_text(f"keys:\n  {sha(old.admin_key)}: {new.admin_key}\n  {sha(old.user_key)}: {new.user_key}\n")
    os.chmod(creds, 0o600)
    path = tmp_path / "views.yaml"
    path.write_text("\n".join([
        f"mappings: {REPO_ROOT / 'mappings'}",
        f"audit: {{path: {tmp_path / 'audit.jsonl'}}}",
        "backends:",
        f'  old: {{url: "{old.url}", dialect: rhodecode1, timeout: 30}}',
        f'  new: {{url: "{new_url}", dialect: kallithea, timeout: {timeout}, credentials: {creds.name}, '
        f'unmapped: {unmapped}}}',
        "routes:",
        f'  - {{repo: ["{WAVE}-*", "{WAVE}/*"], backend: new}}',
        "  - {backend: old}",
    ]) + "\n")
    return path


@pytest.fixture(scope="module")
def repos(kallithea, rhodecode17, hg_remote):
    """A repository on each instance, cloned from the same Mercurial remote (README: "remote\\n")."""
    names = {"new": f"{WAVE}-hg", "old": unique("vw-old"), "git": f"{WAVE}-git"}
    direct_sync(kallithea, "create_repo", {"repo_name": names["new"], "repo_type": "hg", "clone_uri": hg_remote})
    direct_sync(kallithea, "update_repo", {"repoid": names["new"], "enable_downloads": True})  # create_repo ignores it
    direct_sync(kallithea, "create_repo", {"repo_name": names["git"], "repo_type": "git"})
    direct_sync(rhodecode17, "create_repo", {"repo_name": names["old"], "repo_type": "hg", "owner": "admin",
                                      "clone_uri": hg_remote, "enable_downloads": True})
    return names


@pytest.fixture
async def gw(kallithea, rhodecode17, aiohttp_client, tmp_path):
    client = await aiohttp_client(create_app(load_config(write_config(tmp_path, rhodecode17, kallithea.url,
                                                                       kallithea))))
    client.audit_path = tmp_path / "audit.jsonl"
    return client


async def audit_records(client, at_least: int) -> list[dict]:
    for _ in range(200):
        path = client.audit_path
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= at_least:
            return [json.loads(line) for line in lines]
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} audit records")


async def test_a_raw_file_with_the_old_key_from_the_new_instance(gw, repos, rhodecode17, kallithea):
    response = await gw.get(f"/{repos['new']}/raw/tip/README", params={"api_key": rhodecode17.admin_key})
    assert response.status == 200, await response.text()
    assert await response.read() == b"remote\n"
    [record] = await audit_records(gw, 1)
    assert record["backend"] == "new" and record["status"] == 200 and record["bytes_out"] == 7
    assert record["path"] == f"/{repos['new']}/raw/tip/README" and record["method"] == "view"
    assert record["repo"] == repos["new"] and record["key"]
    text = gw.audit_path.read_text()
    assert rhodecode17.admin_key not in text and kallithea.admin_key not in text


async def test_keys_every_way_a_dialect_gives_them(gw, repos, rhodecode17):
    url = f"/{repos['new']}/raw/tip/README"
    for kw in ({"params": {"auth_token": rhodecode17.admin_key}},
               {"headers": {"Authorization": f"Bearer {rhodecode17.admin_key}"}},
               {"headers": {"X-Rc-Auth-Token": rhodecode17.admin_key}}):
        response = await gw.get(url, **kw)
        assert response.status == 200 and await response.read() == b"remote\n", kw


async def test_a_bad_key_gets_the_servers_own_refusal(gw, repos):
    new = await gw.get(f"/{repos['new']}/raw/tip/README", params={"api_key": "not-a-key"}, allow_redirects=False)
    assert new.status == 403 and "Access was denied" in await new.text()  # Kallithea's own page
    old = await gw.get(f"/{repos['old']}/raw/tip/README", params={"api_key": "not-a-key"}, allow_redirects=False)
    assert old.status == 302  # RhodeCode 1.7 sends it to its login page ... on rcgate's address
    assert old.headers["Location"].startswith(str(gw.make_url("/"))), old.headers["Location"]


async def test_diffs_archives_and_feeds(gw, repos, rhodecode17):
    key = {"api_key": rhodecode17.admin_key}
    for repo in (repos["new"], repos["old"]):  # each from the instance that holds it
        diff = await gw.get(f"/{repo}/changeset-diff/tip", params=key)
        assert diff.status == 200 and "README" in await diff.text(), repo
        archive = await gw.get(f"/{repo}/archive/tip.zip", params=key)
        assert archive.status == 200, (repo, await archive.text())

        assert archive.headers.get("Content-Disposition"), (repo, await archive.text())
        assert "attachment" in archive.headers.get("Content-Disposition", ""), archive.headers
        names = zipfile.ZipFile(BytesIO(await archive.read())).namelist()
        assert any(n.endswith("README") for n in names), names
        for spelling in ("feed/rss", "feed-rss"):  # the 1.x / Kallithea and the 4.x path, to either server
            feed = await gw.get(f"/{repo}/{spelling}", params=key)
            assert feed.status == 200 and "<rss" in await feed.text(), (repo, spelling)
    records = await audit_records(gw, 8)
    assert {r["backend"] for r in records if r["repo"] == repos["old"]} == {"old"}
    assert {r["backend"] for r in records if r["repo"] == repos["new"]} == {"new"}


async def test_the_api_under_another_spelling_goes_through_the_pipeline(gw, rhodecode17):
    body = json.dumps({"id": 7, "api_key": rhodecode17.admin_key, "method": "get_user", "args": {}})
    paths = ("//_admin/api", "/_admin/api/", "/_admin%2Fapi", "/_ADMIN/api", "/x/../_admin/api",
             "/kallithea//_admin/api", "/_admin/api?x=1", "/%5Fadmin/api")
    for path in paths:
        for verb in ("POST", "GET"):  # 1.7 took GET like POST
            raw = await raw_http(gw.server.port, f"{verb} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                                 f"{len(body)}\r\nConnection: close\r\n\r\n{body}".encode())
            answer = json.loads(http_body(raw))
            assert answer["id"] == 7 and answer["error"] is None and answer["result"]["username"] == "admin", path
    records = await audit_records(gw, 2 * len(paths))
    assert [r["method"] for r in records] == ["get_user"] * 2 * len(paths)  # translated and audited, never raw
    refused = await gw.post("/nodialect/_admin/api", data=body)
    assert refused.status == 404


def http_body(raw: bytes) -> bytes:
    head, body = raw.split(b"\r\n\r\n", 1)
    if b"transfer-encoding: chunked" not in head.lower():
        return body
    out = b""
    while body:
        size, rest = body.split(b"\r\n", 1)
        n = int(size, 16)
        if n == 0:
            break
        out, body = out + rest[:n], rest[n + 2:]
    return out


async def raw_http(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_no_host_or_absolute_uri_steers_the_proxy(gw, repos, rhodecode17):
    with socket.socket() as s:  # an address where something else would listen
        s.bind(("127.0.0.1", 0))
        elsewhere = s.getsockname()[1]
    port = gw.server.port
    path = f"/{repos['new']}/raw/tip/README?api_key={rhodecode17.admin_key}"
    for request in (f"GET http://127.0.0.1:{elsewhere}{path} HTTP/1.1\r\nHost: 127.0.0.1:{elsewhere}\r\n"
                    "Connection: close\r\n\r\n",
                    f"GET {path} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"):
        answer = await raw_http(port, request.encode())
        assert answer.startswith(b"HTTP/1.1 200") and http_body(answer) == b"remote\n", answer[:300]


def run(*cmd: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (cmd, result.stdout[-2000:], result.stderr[-2000:])
    return result


async def test_hg_clone_and_push_through_rcgate(gw, repos, kallithea, rhodecode17, tmp_path):
    hg = str(Path(kallithea.venv) / "bin" / "hg")
    env = {"HGUSER": "Test <test@example.com>", "HGRCPATH": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    base = str(gw.make_url("/")).rstrip("/").replace("http://", "")
    for repo, server in ((repos["new"], kallithea), (repos["old"], rhodecode17)):
        url = f"http://{server.admin_username}:{server.admin_password}@{base}/{repo}"
        work = tmp_path / repo
        await asyncio.to_thread(run, hg, "clone", url, str(work), env=env)
        assert (work / "README").read_text() == "remote\n"
        (work / "pushed").write_text(f"through rcgate to {repo}\n")
        await asyncio.to_thread(run, hg, "-R", str(work), "commit", "-A", "-m", "through rcgate", env=env)
        await asyncio.to_thread(run, hg, "-R", str(work), "push", url, env=env)
        raw = await gw.get(f"/{repo}/raw/tip/pushed", params={"api_key": rhodecode17.admin_key})
        assert raw.status == 200 and await raw.text() == f"through rcgate to {repo}\n"
        nodes = direct_sync(server, "get_repo_nodes", {"repoid": repo, "revision": "tip", "root_path": ""})
        assert "pushed" in {n["name"] for n in nodes}  # on the server the routes chose, as it then has it
    records = await audit_records(gw, 6)
    hg_records = [r for r in records if r["method"] == "hg"]
    assert {r["backend"] for r in hg_records if r["repo"] == repos["new"]} == {"new"}
    assert {r["backend"] for r in hg_records if r["repo"] == repos["old"]} == {"old"}
    text = gw.audit_path.read_text()
    assert kallithea.admin_password not in text and rhodecode17.admin_password not in text


async def test_git_push_and_clone_through_rcgate(gw, repos, kallithea, rhodecode17, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_TERMINAL_PROMPT": "0",
           "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    base = str(gw.make_url("/")).rstrip("/").replace("http://", "")
    url = f"http://{kallithea.admin_username}:{kallithea.admin_password}@{base}/{repos['git']}"
    work = tmp_path / "git-work"
    await asyncio.to_thread(run, "git", "init", "-q", "-b", "master", str(work), env=env)
    (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # a push larger than any one buffer
    (work / "README").write_text("git through rcgate\n")
    await asyncio.to_thread(run, "git", "-C", str(work), "add", ".", env=env)
    await asyncio.to_thread(run, "git", "-C", str(work), "commit", "-q", "-m", "first", env=env)
    await asyncio.to_thread(run, "git", "-C", str(work), "push", "-q", url, "master", env=env)
    clone = tmp_path / "git-clone"
    await asyncio.to_thread(run, "git", "clone", "-q", url, str(clone), env=env)
    assert (clone / "README").read_text() == "git through rcgate\n"
    assert (clone / "big.bin").read_bytes() == (work / "big.bin").read_bytes()
    nodes = direct_sync(kallithea, "get_repo_nodes", {"repoid": repos["git"], "revision": "tip", "root_path": ""})
    assert {n["name"] for n in nodes} == {"README", "big.bin"}  # on Kallithea itself
    records = await audit_records(gw, 4)
    assert {r["method"] for r in records} == {"git"} and {r["backend"] for r in records} == {"new"}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def test_a_large_archive_streams_with_flat_memory(gw, kallithea, rhodecode17, tmp_path):
    """A repository holding 64 MiB of incompressible data, downloaded as an uncompressed archive."""
    hg = str(Path(kallithea.venv) / "bin" / "hg")
    env = {"HGUSER": "Test <test@example.com>", "HGRCPATH": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    repo = f"{WAVE}-large"
    direct_sync(kallithea, "create_repo", {"repo_name": repo, "repo_type": "hg"})
    direct_sync(kallithea, "update_repo", {"repoid": repo, "enable_downloads": True})
    base = str(gw.make_url("/")).rstrip("/").replace("http://", "")
    url = f"http://{kallithea.admin_username}:{kallithea.admin_password}@{base}/{repo}"
    work = tmp_path / "large"
    await asyncio.to_thread(run, hg, "init", str(work), env=env)
    with open(work / "blob.bin", "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1024 * 1024))
    await asyncio.to_thread(run, hg, "-R", str(work), "commit", "-A", "-m", "large", env=env)
    await asyncio.to_thread(run, hg, "-R", str(work), "push", url, env=env)  # a large push, streamed too
    [blob] = direct_sync(kallithea, "get_repo_nodes", {"repoid": repo, "revision": "tip", "root_path": "",
                                                       "ret_type": "files"})
    assert blob["name"] == "blob.bin"  # arrived on Kallithea

    for pace in (0.0, 0.05):  # read as fast as possible, then as a slow client (1 MiB per 50 ms)
        before = rss_mb()
        response = await gw.get(f"/{repo}/archive/tip.tar", params={"api_key": rhodecode17.admin_key})
        assert response.status == 200
        received, peak, next_mib = 0, before, 0
        async for chunk in response.content.iter_chunked(256 * 1024):
            received += len(chunk)
            peak = max(peak, rss_mb())
            if pace and received >= next_mib:
                next_mib += 2**20
                await asyncio.sleep(pace)
        print(f"\nlarge archive ({'slow client' if pace else 'fast client'}): {received / 2**20:.1f} MiB through "
              f"rcgate; RSS {before:.1f} MB before, peak {peak:.1f} MB")
        assert received > 64 * 2**20
        # a 64 MiB answer is never held whole, also when the client reads slower than the server sends
        assert peak - before < 32, (pace, before, peak)


async def test_a_backend_dying_mid_download_closes_the_connection(rhodecode17, kallithea, aiohttp_client, tmp_path):
    """A fault injected on purpose: the backend promises a length, sends half, and closes."""
    import aiohttp

    faulty = await FaultyBackend(mode="close_mid").start()
    try:
        client = await aiohttp_client(create_app(load_config(write_config(tmp_path, rhodecode17, faulty.url,
                                                                           kallithea))))
        response = await client.get(f"/{WAVE}-x/raw/tip/file", params={"api_key": rhodecode17.admin_key})
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()  # never a shorter body presented as complete
        faulty.mode = "slow"
        client2 = await aiohttp_client(create_app(load_config(write_config(tmp_path / "slow", rhodecode17,
                                                                            faulty.url, kallithea, timeout=0.5))))
        slow = await client2.get(f"/{WAVE}-x/raw/tip/file")
        assert slow.status == 502 and "no answer within 0.5 s" in await slow.text()
    finally:
        await faulty.stop()


async def test_toward_a_modern_backend_the_key_is_an_auth_token(rhodecode17, kallithea, aiohttp_client, tmp_path):
    """A modern RhodeCode cannot run here: the faulty backend (mode healthy, recording) stands in for one,
    to show what reaches it."""
    modern = await FaultyBackend(record=True).start()
    try:
        cfg = write_config(tmp_path, rhodecode17, modern.url, kallithea)
        cfg.write_text(cfg.read_text().replace("dialect: kallithea", "dialect: rhodecode"))
        client = await aiohttp_client(create_app(load_config(cfg)))
        for path in (f"/{WAVE}-m/raw/tip/README", f"/{WAVE}-m/feed/rss"):
            response = await client.get(path, params={"api_key": rhodecode17.admin_key, "x": "1"},
                                        headers={"Cookie": "c=1", "Connection": "keep-alive, X-Hop", "X-Hop": "h"})
            assert response.status == 200
        raw, feed = modern.requests[-2:]
        assert raw.path == f"/{WAVE}-m/raw/tip/README?x=1&auth_token={kallithea.admin_key}"  # swapped, 4.x's way
        assert feed.path == f"/{WAVE}-m/feed-rss?x=1&auth_token={kallithea.admin_key}"  # 4.x's feed path
        assert raw.headers["cookie"] == "c=1" and "x-hop" not in raw.headers  # hop-by-hop headers stay here
        assert raw.headers["host"] == modern.url.split("//")[1]  # the backend's own name, not the caller's
        # a client that waits for 100 Continue before its body (cs-kallithea-api does): the body arrives whole
        body = b"x" * 100_000
        answer = await raw_http(client.server.port, (
            f"POST /{WAVE}-m/settings HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode() + body)
        assert answer.startswith(b"HTTP/1.1 100 Continue") and b"HTTP/1.1 200" in answer
        assert modern.requests[-1].body == body and "expect" not in modern.requests[-1].headers
    finally:
        await modern.stop()
