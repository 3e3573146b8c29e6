"""Envelope texts, differentially: the same raw request sent to rcgate (speaking a dialect in front of a
server of ANOTHER dialect, so that rcgate answers the envelope itself) and to that dialect's own server.

RhodeCode 1.x callers are compared with the real RhodeCode 1.7.2, Kallithea callers with the real
Kallithea 0.7.0, modern callers with what a real RhodeCode CE 4.22 answered to the same bodies
(tests/standin/recordings/rhodecode-4.22/_envelope.json). The one deliberate difference: a JSON body
that is not an object makes every real server answer an HTML error page (HTTP 500); rcgate answers a
JSON-RPC error in the caller's dialect instead (README: "Bad input always gets a JSON-RPC error").
"""
from __future__ import annotations

import json
import re

import aiohttp
import pytest

from gateway.app import create_app
from tests import recorded422

from .conftest import REPO_ROOT, _loads, gateway_config

pytestmark = [pytest.mark.kallithea, pytest.mark.rhodecode17]


def bodies(key: str) -> list[tuple[str, bytes]]:
    """(what, raw body) in a legacy dialect; KEY stands for a good key."""
    good = {"id": 7, "api_key": key, "method": "get_user", "args": {}}

    def j(value) -> bytes:
        return json.dumps(value).encode()

    return [
        ("empty body", b""),
        ("invalid JSON", b'{"id": 1, "method": '),
        ("single quotes", b"{'id': 1}"),
        ("missing api_key", j({"id": 7, "method": "get_user", "args": {}})),
        ("empty api_key", j({**good, "api_key": ""})),
        ("auth_token instead", j({"id": 7, "auth_token": key, "method": "get_user", "args": {}})),
        ("missing id", j({k: v for k, v in good.items() if k != "id"})),
        ("missing method", j({k: v for k, v in good.items() if k != "method"})),
        ("missing args", j({k: v for k, v in good.items() if k != "args"})),
        ("missing id and method", j({"api_key": key, "args": {}})),
        ("args null", j({**good, "args": None})),
        ("args a list", j({**good, "args": [1]})),
        ("args a string", j({**good, "args": "x"})),
        ("bad key", j({**good, "api_key": "0" * 40})),
        ("unknown method", j({**good, "method": "no_such_method"})),
        ("method starting with _", j({**good, "method": "_get_user"})),
        ("method null", j({**good, "method": None})),
        ("method a list", j({**good, "method": ["get_user"]})),
        ("method a number", j({**good, "method": 5})),
        ("method an object", j({**good, "method": {"api_key": key}})),
        ("method true", j({**good, "method": True})),
        ("non-ASCII method", j({**good, "method": "get_üser"})),
        ("missing argument", j({**good, "method": "get_repo"})),
        ("string id", j({**good, "id": "abc"})),
        ("null id", j({**good, "id": None})),
        ("big id", b'{"id": 123456789012345678901234567890, "api_key": "%s", "method": "get_user", "args": {}}'
         % key.encode()),
    ]


# The servers quote their JSON parser's message; Python 2's parser words it otherwise than Python 3's
# ("No JSON object could be decoded" / "Expecting value"). The rest of the text must match.
PARSER_WORDED = {"invalid JSON", "single quotes"}


def _parser_words_out(answer):
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        answer = {**answer, "error": re.sub(r"ERR:.*? RAW:", "ERR:<parser's words> RAW:", answer["error"])}
    return answer


async def post(url: str, body: bytes) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers={"Content-Type": "text/plain"}) as r:
        return r.status, await r.read()


@pytest.fixture
async def gw_kallithea(kallithea, aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(gateway_config(kallithea.url, tmp_path / "a.jsonl")))


@pytest.fixture
async def gw_rc17(rhodecode17, aiohttp_client, tmp_path):
    app = create_app(gateway_config(rhodecode17.url, tmp_path / "b.jsonl", backend_dialect="rhodecode1"))
    return await aiohttp_client(app)


async def compare(client, path: str, backend_key: str, server, server_key: str) -> list[str]:
    """Each body sent to rcgate with the backend's key and to the real server with the server's own key."""
    problems = []
    for (what, body), (_, server_body) in zip(bodies(backend_key), bodies(server_key)):
        answer = await client.post(path, data=body, headers={"Content-Type": "text/plain"})
        mine = _loads(await answer.read())
        status, raw = await post(server.api_url, server_body)
        if status != 200:
            problems.append(f"{what}: the server answered HTTP {status}")
            continue
        theirs = _loads(raw)
        if isinstance(theirs, dict) and isinstance(theirs.get("result"), dict):
            theirs["result"] = mine.get("result")  # the same call on two servers: compare the envelope only
        if what in PARSER_WORDED and mine != theirs:  # compare all but the parser's own words
            mine, theirs = _parser_words_out(mine), _parser_words_out(theirs)
        if mine != theirs:
            problems.append(f"{what}: rcgate {mine!r}, the server {theirs!r}")
    return problems


async def test_rhodecode1_envelope_texts_are_17s(gw_kallithea, rhodecode17, kallithea):
    """A 1.x caller, Kallithea behind rcgate; compared with RhodeCode 1.7.2."""
    problems = await compare(gw_kallithea, "/rhodecode1/_admin/api", kallithea.admin_key,
                             rhodecode17, rhodecode17.admin_key)
    assert problems == [], "\n".join(problems)


async def test_kallithea_envelope_texts_are_kallitheas(gw_rc17, kallithea, rhodecode17):
    """A Kallithea caller, RhodeCode 1.7.2 behind rcgate; compared with Kallithea 0.7.0."""
    problems = await compare(gw_rc17, "/kallithea/_admin/api", rhodecode17.admin_key,
                             kallithea, kallithea.admin_key)
    assert problems == [], "\n".join(problems)


# recorded answers that depend on the state of the 4.22 server, not on the envelope: rcgate in front of
# Kallithea answers them from Kallithea (tests of their own cover each)
NOT_ENVELOPE = {
    "Internal server error (4.22 bug": "a crash of 4.22's get_repo_file; Kallithea cannot serve the method at all",
    "the only token of a freshly created": "a token whose role forbids the API: a Kallithea key has no roles",
    "token of an INACTIVE user": "an inactive user's token: Kallithea says Invalid API key, and rcgate rewords it",
}


def _envelope_case(example: dict) -> bool:
    return not any(example["note"].startswith(prefix) for prefix in NOT_ENVELOPE)


@pytest.mark.parametrize("index", [i for i, e in enumerate(recorded422.examples("_envelope"))
                                   if _envelope_case(e) and e["request"].get("http_method") == "POST"
                                   and e["response"].get("status_line", "").endswith("200 OK")
                                   and isinstance(e["response"].get("parsed"), dict)
                                   and e["response"]["parsed"].get("error") is not None
                                   and e["request"].get("as") != "bad"
                                   and "<" not in json.dumps(e["response"]["parsed"]["error"])])
async def test_modern_envelope_errors_are_422s(gw_kallithea, kallithea, index):
    """rcgate in front of Kallithea, answering a modern caller's malformed call itself, says what 4.22 said."""
    example = recorded422.examples("_envelope")[index]
    raw = example["request"]["raw_body"].replace("<ADMIN_TOKEN>", kallithea.admin_key)
    answer = await gw_kallithea.post("/rhodecode/_admin/api", data=raw.encode(), headers={"Content-Type": "text/plain"})
    mine = _loads(await answer.read())
    expected = example["response"]["parsed"]
    if expected["error"].startswith("No such method:"):  # 4.22's list of similar names is its own registry
        assert mine["error"].split(". Similar")[0] == expected["error"].split(". Similar")[0]
        assert mine["id"] == expected["id"]
        return
    assert mine == expected, example["note"]
