"""A reload swaps the whole set at once; a call in flight finishes on the set it started with.

The backend is the deliberately faulty server in its `slow` mode: the call is held there
while the reload happens."""
from __future__ import annotations

import asyncio
import json
import shutil

from gateway.app import GATEWAY, create_app
from tests.faulty_backend import FaultyBackend
from tests.integration.conftest import REPO_ROOT, gateway_config


async def test_in_flight_call_finishes_on_the_set_it_started_with(tmp_path, aiohttp_client):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(REPO_ROOT / "mappings", old)
    shutil.copytree(REPO_ROOT / "mappings", new)
    rc1 = new / "rhodecode1.yaml"
    rc1.write_text(rc1.read_text().replace("  layout: compact", "  layout: pretty", 1))  # visible in every answer
    backend = await FaultyBackend(mode="slow", slow_seconds=1.0).start()
    try:
        config = gateway_config(backend.url, tmp_path / "audit.jsonl", mappings=old, backend_timeout=10.0)
        app = create_app(config, reload_config=lambda: config.override(mappings=new))
        client = await aiohttp_client(app)
        body = json.dumps({"id": 1, "api_key": "k" * 40, "method": "get_users", "args": {}})
        in_flight = asyncio.create_task(client.post("/rhodecode1/_admin/api", data=body))
        while backend.received == 0:
            await asyncio.sleep(0.01)
        assert await app[GATEWAY].reload() is True
        backend.mode = "healthy"
        started_before = await (await in_flight).text()
        started_after = await (await client.post("/rhodecode1/_admin/api", data=body)).text()
    finally:
        await backend.stop()
    assert json.loads(started_before)["error"] is None and "\n" not in started_before  # the old set: one line
    assert json.loads(started_after)["error"] is None and "\n" in started_after  # the new set: indented
