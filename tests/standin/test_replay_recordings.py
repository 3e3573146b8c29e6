"""The modern RhodeCode TEST STAND-IN against every recorded answer of a real RhodeCode CE 4.22.

One stand-in starts on the recorded world; every example of every method file of
`tests/standin/recordings/rhodecode-4.22/` is replayed in request-id order (the order of the
real run), each with the token of its `as`, and every raw exchange of `_envelope.json`; each
answer is compared with the recorded one: HTTP status, the envelope's keys and their order,
the outcome, error texts and error objects exactly, and results key by key, in order, type by
type, list by list, value by value. The only values not compared for equality are the ones the
server generates, listed in EXCEPTIONS below.

The replay runs once (module fixture); each example is its own test, named by file, index and
note, and a failure names the JSON path that differs.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp
import pytest

from tests.standin.rhodecode import recordings, rpc, running_standin, seed

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_START = seed.run_started()
RUN_START_EPOCH = seed.run_started_epoch()
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?$")
ISO_TIME_IN_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?")

# _envelope.json was recorded at 13:30:43-45 (its Date headers): after get_audit_logs (id 402,
# whose answer holds no comment of its example 46) and the user audit logs (ids 408-411), and
# before the deletions (its examples 47/48 still find ref_user and ref_inactive).
ENVELOPE_AFTER_ID = 411
# get_repos examples 3-5 (ids 5005+) come from a supplemental run that first created the repos
# their answers show (README); the replay creates them the same way before those examples.
SUPPLEMENTAL_FROM_ID = 5000


# ============================================================================ the exceptions
# Values the real server generated and the stand-in cannot reproduce. Each is still compared
# for type (and shape); everything else is compared for equality.

TIMESTAMP = "timestamp"  # set when the run did something: equal if recorded before the run, else same type/shape
GENERATED = "generated"  # random/derived ids: the same recorded value must map to the same new value everywhere
MASKED = "masked"  # text with a time, a duration or an id in it: equal once those are masked
SHAPE = "shape"  # an HTTP header with a fresh value per answer: present, and of the recorded form
TRANSPORT = "transport"  # an HTTP header of the real server's web stack, not of the API: not compared


def _random_id(value: Any, parents: list[Any]) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9]{20}", value) is not None


def _of_pull_request_made_in_the_run(value: Any, parents: list[Any]) -> bool:
    pull_request = next((p for p in reversed(parents) if isinstance(p, dict) and "pull_request_id" in p), None)
    return pull_request is not None and not _before_run(pull_request.get("created_on"))


@dataclass(frozen=True)
class Rule:
    pattern: str  # JSON path: `**.` any prefix, `*` any key, `[*]` any index
    kind: str
    reason: str
    method: str | None = None  # only in this method's answers
    only_if: Callable[[Any, list[Any]], bool] | None = None  # (recorded value, recorded ancestors)
    shape: str | None = None  # the regular expression the value must match (SHAPE) or that is masked

    def regex(self) -> re.Pattern[str]:
        text = re.escape(self.pattern).replace(r"\*\*\.", "(?:.*\\.)?").replace(r"\[\*\]", r"\[\d+\]")
        return re.compile("^" + text.replace(r"\*", r"[^.\[]+") + "$")


EXCEPTIONS: tuple[Rule, ...] = (
    Rule("**.created_on", TIMESTAMP, "creation time of objects the replay creates"),
    Rule("**.updated_on", TIMESTAMP, "time a pull request or a commit cache was last written"),
    Rule("**.modified_at", TIMESTAMP, "modification time of gists the replay creates"),
    Rule("**.last_activity", TIMESTAMP, "a user's last audited action, stamped by the replay"),
    Rule("**.action_date", TIMESTAMP, "time of audit entries the replay causes"),
    Rule("**.comment_created_on", TIMESTAMP, "creation time of comments the replay creates"),
    Rule("**.locked_date", TIMESTAMP, "time a repository was locked by the replay"),
    Rule("result.locked_since", TIMESTAMP, "time a repository was locked by the replay", "lock"),
    Rule("**.expires", TIMESTAMP, "expiry of gists with a lifetime (creation time + lifetime)"),
    Rule("**.last_changeset.date", TIMESTAMP, "date of the merge commit the replay makes"),
    Rule("result.msg", MASKED, "names the time the repository was locked", "lock"),
    Rule("result.execution_time", MASKED, "measured search duration", "search"),
    Rule("**.auth_tokens[*]", GENERATED, "random token of a user the replay creates (known tokens must be equal)"),
    Rule("**.access_id", GENERATED, "random access id of a private gist created without one", only_if=_random_id),
    Rule("**.merge.reference.commit_id", GENERATED, "commit id of the shadow merge or the merge of a pull request "
         "the replay makes", only_if=_of_pull_request_made_in_the_run),
    Rule("result.merge_commit_id", GENERATED, "commit id of the merge the replay makes", "merge_pull_request"),
    Rule("result.merge_ref.commit_id", GENERATED, "commit id of the merge the replay makes", "merge_pull_request"),
    # raw HTTP (_envelope.json, and the crash answers of the method files)
    Rule("header.RhodeCode-Exception-Id", SHAPE, "id of the crash in the server's exception store", shape=r"\d+"),
    Rule("header.Set-Cookie", SHAPE, "a new anonymous session on every answer",
         shape=r"rhodecode=\w+; httponly; Path=/"),
    Rule("html.exception_id", MASKED, "the HTML error page names the crash's exception id", shape=r"\d{12,}"),
    Rule("header.Server", TRANSPORT, "gunicorn's name; the stand-in is aiohttp"),
    Rule("header.Date", TRANSPORT, "time of the answer"),
    Rule("header.Connection", TRANSPORT, "gunicorn's keep-alive header; aiohttp keeps HTTP/1.1 connections alive"),
    Rule("header.Content-Length", TRANSPORT, "recorded for the answer before placeholders were put in"),
)
_RULES = [(rule, rule.regex()) for rule in EXCEPTIONS]

# Examples that cannot be reproduced: (file, index) -> concrete reason. Empty: every one passes.
XFAIL: dict[tuple[str, int], str] = {}


def _header_problem(name: str, value: str | None, recorded: str) -> str | None:
    """Check one recorded HTTP header: equal, or as its rule says."""
    rule = _rule(f"header.{name}", "", recorded, [])
    if rule is not None and rule.kind == TRANSPORT:
        return None
    if value is None:
        return f"header {name} missing"
    if rule is not None and rule.kind == SHAPE:
        return None if re.fullmatch(rule.shape, value) else f"header {name}: {value!r} is not of the form {rule.shape}"
    return None if value == recorded else f"header {name}: {value!r}, recorded {recorded!r}"


def _mask_exception_ids(text: str) -> str:
    rule = _rule("html.exception_id", "", "", [])
    assert rule is not None and rule.shape
    return re.sub(rule.shape, "<EXCEPTION_ID>", text)


def _rule(path: str, method: str, expected: Any, parents: list[Any]) -> Rule | None:
    for rule, regex in _RULES:
        if (rule.method is None or rule.method == method) and regex.match(path) and (
                rule.only_if is None or rule.only_if(expected, parents)):
            return rule
    return None


# ============================================================================ comparison


@dataclass
class Learned:
    """Generated values seen so far: recorded -> the stand-in's, one to one."""

    values: dict[str, str] = field(default_factory=dict)

    def bind(self, recorded: str, actual: str) -> str | None:
        if recorded in self.values:
            return None if self.values[recorded] == actual else \
                f"{recorded!r} was {self.values[recorded]!r} before, now {actual!r}"
        if actual in self.values.values() and recorded != actual:
            return f"{actual!r} already stands for another recorded value"
        self.values[recorded] = actual
        if re.fullmatch(r"[0-9a-f]{40}", recorded) and re.fullmatch(r"[0-9a-f]{40}", actual):
            self.values.setdefault(recorded[:12], actual[:12])  # the commit's short id
        return None

    def apply(self, value: Any) -> Any:
        """`value` with the learned recorded values replaced (in strings, keys and lists)."""
        if not self.values:
            return value
        if isinstance(value, str):
            for recorded in sorted(self.values, key=len, reverse=True):
                if recorded in value:
                    value = value.replace(recorded, self.values[recorded])
            return value
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        if isinstance(value, dict):
            return {self.apply(k): self.apply(v) for k, v in value.items()}
        return value


def _kind(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "string", type(None): "null", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)


def _before_run(value: Any) -> bool:
    if isinstance(value, str) and ISO_TIME.match(value):
        return dt.datetime.fromisoformat(value) < RUN_START
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value < RUN_START_EPOCH
    return False


def compare(expected: Any, actual: Any, path: str, method: str, learned: Learned,
            parents: list[Any] | None = None) -> str | None:
    """The first difference between a recorded and an actual JSON value, or None."""
    parents = parents or []
    if path and expected is not None and not isinstance(expected, (dict, list)):
        rule = _rule(path, method, expected, parents)
        if rule is not None:
            return _compare_generated(rule, expected, actual, path, learned)
    if _kind(expected) != _kind(actual):
        return f"{path}: type {_kind(actual)} ({actual!r:.80}), recorded {_kind(expected)} ({expected!r:.80})"
    if isinstance(expected, dict):
        if list(expected) != list(actual):
            return f"{path}: keys {list(actual)}, recorded {list(expected)}"
        for key in expected:
            problem = compare(expected[key], actual[key], f"{path}.{key}" if path else key, method, learned,
                              parents + [expected])
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"{path}: {len(actual)} items, recorded {len(expected)}: {json.dumps(actual)[:300]}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = compare(e, a, f"{path}[{i}]", method, learned, parents + [expected])
            if problem:
                return problem
        return None
    if isinstance(expected, str):
        expected = learned.apply(expected)
    if expected != actual:
        return f"{path}: {actual!r:.300}, recorded {expected!r:.300}"
    return None


def _compare_generated(rule: Rule, expected: Any, actual: Any, path: str, learned: Learned) -> str | None:
    if _kind(expected) != _kind(actual):
        return f"{path}: type {_kind(actual)} ({actual!r:.80}), recorded {_kind(expected)} ({expected!r:.80})"
    if rule.kind == TIMESTAMP:
        if _before_run(expected):
            return None if expected == actual else f"{path}: {actual!r}, recorded {expected!r} (before the run)"
        if isinstance(expected, str) and not (ISO_TIME.match(actual) or re.fullmatch(r"\d+(\.\d+)?", actual)):
            return f"{path}: {actual!r} is not a time like the recorded {expected!r}"
        return None
    if rule.kind == MASKED:
        def mask(text: str) -> str:
            return re.sub(r"\d+\.\d+ seconds", "<N> seconds", ISO_TIME_IN_TEXT.sub("<TIME>", text))
        expected = learned.apply(expected)
        return None if mask(expected) == mask(actual) else f"{path}: {actual!r}, recorded {expected!r} (masked)"
    problem = learned.bind(expected, actual)
    return f"{path}: {problem}" if problem else None


# ============================================================================ the replay


def _case_id(file: str, index: int, note: str) -> str:
    words = re.sub(r"[^A-Za-z0-9_]+", "-", note)[:40].strip("-")
    return f"{file}#{index}-{words}"


CASES = [(_case_id(e.file, e.index, e.note), e.file, e.index, e.note) for e in recordings.examples()] + \
        [(_case_id("_envelope", i, x["note"]), "_envelope", i, x["note"])
         for i, x in enumerate(recordings.envelope_exchanges())]


class Replay:
    """Talks to the stand-in as the recorded run talked to the real server."""

    def __init__(self, standin: Any, session: aiohttp.ClientSession) -> None:
        self.standin = standin
        self.session = session
        self.placeholders = dict(standin.server.placeholders)
        # what the test knows (the stand-in's tokens, URL, paths) is never a generated value
        self.learned = Learned({v: v for v in self.placeholders.values()})
        self.problems: dict[str, str | None] = {}

    def expected(self, value: Any) -> Any:
        return self.learned.apply(recordings.substitute(value, self.placeholders))

    async def call(self, method: str, args: Any, caller: str, rpc_id: Any = 1) -> tuple[int, Any, Any]:
        token = self.placeholders[recordings.TOKEN_OF_CALLER[caller]]
        body = {"id": rpc_id, "auth_token": token, "method": method, "args": args}
        async with self.session.post(self.standin.api_url, data=json.dumps(body)) as response:
            return response.status, response.headers, json.loads(await response.read())

    async def example(self, ex: recordings.Example) -> None:
        key = _case_id(ex.file, ex.index, ex.note)
        args = self.expected(ex.args)
        status, headers, answer = await self.call(ex.method, args, ex.caller, ex.request_id)
        self.problems[key] = self.check_method_answer(ex, status, headers, answer)

    def check_method_answer(self, ex: recordings.Example, status: int, headers: Any, answer: Any) -> str | None:
        if status != ex.http_status:
            return f"HTTP {status}, recorded {ex.http_status}"
        recorded = recordings.substitute(ex.response, self.placeholders)
        if list(answer) != list(recorded):
            return f"envelope keys {list(answer)}, recorded {list(recorded)}"
        for name, value in ex.extra_headers:
            problem = _header_problem(name, headers.get(name), value)
            if problem:
                return problem
        if ex.extra_headers and "Content-Type" in headers:
            return f"Content-Type {headers['Content-Type']!r}: a crash answer carries none"
        for key in recorded:  # error (text or object), [DEPRECATION_WARNING,] id, result
            problem = compare(recorded[key], answer[key], key, ex.method, self.learned)
            if problem:
                return problem
        return None

    async def envelope(self, index: int, exchange: dict[str, Any]) -> None:
        key = _case_id("_envelope", index, exchange["note"])
        request, recorded = exchange["request"], exchange["response"]
        raw = request["raw_body"]
        data = None if raw is None else self.expected(raw).encode()
        headers = {"Content-Type": request["content_type"]} if request["content_type"] else {}
        skip = () if request["content_type"] else ("Content-Type",)
        async with self.session.request(request["http_method"], self.standin.api_url, data=data, headers=headers,
                                        skip_auto_headers=skip) as response:
            body = (await response.read()).decode()
            self.problems[key] = self.check_envelope_answer(recorded, response.status, response.headers, body)

    def check_envelope_answer(self, recorded: dict[str, Any], status: int, headers: Any, body: str) -> str | None:
        status_recorded = int(recorded["status_line"].split()[1])
        if status != status_recorded:
            return f"HTTP {status}, recorded {status_recorded}"
        if headers.get("Content-Type") != recorded["content_type"]:
            return f"Content-Type {headers.get('Content-Type')!r}, recorded {recorded['content_type']!r}"
        for name, value in recorded.get("headers", []):  # where the full header list was recorded
            problem = _header_problem(name, headers.get(name), self.expected(value))
            if problem:
                return problem
        expected = self.expected(recorded["body_text"])
        if status_recorded == 500:  # the HTML page names its exception id
            expected, body = _mask_exception_ids(expected), _mask_exception_ids(body)
        elif recorded.get("parsed") is not None:
            problem = compare(self.expected(recorded["parsed"]), json.loads(body), "", "", self.learned)
            if problem:
                return problem
        if body != expected:
            return f"body {body[:300]!r}, recorded {expected[:300]!r}"
        return None

    async def supplemental_setup(self, examples: list[recordings.Example]) -> None:
        """Create the repositories (and their groups) the supplemental run's answers show."""
        repos = {r["repo_id"]: r for ex in examples for r in self.expected(ex.response)["result"] or []}
        for repo in sorted(repos.values(), key=lambda r: r["repo_id"]):
            parts = repo["repo_name"].split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                await self.call("create_repo_group", {"group_name": "/".join(parts[:depth])}, "admin")
            _s, _h, answer = await self.call("create_repo", {
                "repo_name": repo["repo_name"], "repo_type": repo["repo_type"],
                "description": repo["description"], "landing_rev": ":".join(repo["landing_rev"])}, "admin")
            assert answer["error"] is None, answer


async def _replay_all() -> dict[str, str | None]:
    async with running_standin() as standin, aiohttp.ClientSession() as session:
        replay = Replay(standin, session)
        examples = list(recordings.examples())
        envelope_done = supplemental_done = False
        for ex in examples:
            if not envelope_done and ex.request_id > ENVELOPE_AFTER_ID:
                for index, exchange in enumerate(recordings.envelope_exchanges()):
                    await replay.envelope(index, exchange)
                envelope_done = True
            if not supplemental_done and ex.request_id >= SUPPLEMENTAL_FROM_ID:
                await replay.supplemental_setup([e for e in examples if e.request_id >= SUPPLEMENTAL_FROM_ID])
                supplemental_done = True
            await replay.example(ex)
        return replay.problems


@pytest.fixture(scope="module")
def replayed() -> dict[str, str | None]:
    return asyncio.run(_replay_all())


@pytest.mark.parametrize("key,file,index,note", [
    pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason=XFAIL[(case[1], case[2])]))
    if (case[1], case[2]) in XFAIL else case for case in CASES], ids=[c[0] for c in CASES])
def test_recorded_answer(replayed: dict[str, str | None], key: str, file: str, index: int, note: str) -> None:
    assert key in replayed, f"{file}#{index} was not replayed"
    problem = replayed[key]
    assert problem is None, f"{file}.json example {index} ({note}): {problem}"


def test_every_recorded_example_is_replayed(replayed: dict[str, str | None]) -> None:
    assert {c[0] for c in CASES} <= set(replayed)
    assert len(CASES) == len(recordings.examples()) + len(recordings.envelope_exchanges())


# ============================================================================ the stand-in's own behaviour


def _recorded_signatures() -> dict[str, tuple[set[str], dict[str, str]]]:
    """rhodecode-4.22-api.md: method -> (required arguments, optional argument -> default)."""
    found = {}
    for line in recordings.SIGNATURES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        required = set(re.findall(r"`([^`]+)`", cells[1]))
        optional = dict(re.findall(r"(\w+) \((.*?)\)(?:, |$)", cells[2]))
        found[cells[0].strip("`")] = (required, optional)
    return found


def _declared(method: rpc.Method) -> tuple[set[str], dict[str, str]]:
    required = {n for n, d in method.params if d is rpc.REQUIRED}
    optional = {}
    for name, default in method.params:
        if default is not rpc.REQUIRED:
            text = repr(default)
            optional[name] = text if default.attr else text[len("<Optional:"):-1]
    return required, optional


def test_every_method_has_the_recorded_signature() -> None:
    recorded = _recorded_signatures()
    assert len(recorded) > 80
    declared = {name: _declared(m) for name, m in rpc.methods().items()}
    assert set(declared) == set(recorded)
    for name, (required, optional) in recorded.items():
        assert declared[name] == (required, optional), name


def test_methods_register_in_the_recorded_order() -> None:
    listed = next(e for e in recordings.examples() if e.method == "get_method" and not e.args)
    assert list(rpc.methods()) == listed.response["result"]
    assert not [n for n in rpc.methods() if "license" in n]  # CE 4.22 has neither get_license_info nor set_license_key


async def _post(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(url, data=json.dumps(body)) as response:
        assert response.status == 200
        return json.loads(await response.read())


async def test_running_standin_interface_and_what_it_received() -> None:
    async with running_standin(admin_token="a" * 40, user_token="b" * 40) as standin, \
            aiohttp.ClientSession() as session:
        assert standin.api_url == f"{standin.url}/_admin/api" and standin.url.startswith("http://127.0.0.1:")
        assert (standin.admin_key, standin.user_key) == ("a" * 40, "b" * 40)
        assert (standin.admin_username, standin.user_username) == ("admin", "regular_user")
        body = {"id": 7, "auth_token": "b" * 40, "method": "get_user", "args": {"extra": 1}}
        answer = await _post(session, standin.api_url, body)
        assert answer["result"]["username"] == "regular_user" and "b" * 40 in answer["result"]["auth_tokens"]
        (received,) = standin.received
        assert received.method == "POST" and received.body == body  # the parsed body, all arguments as sent
        async with session.put(standin.api_url, data=b"{}") as response:
            assert (await response.json())["error"] == 'unsupported request method "PUT". Please use POST'
        assert standin.received[-1].body == {}


async def test_each_standin_has_its_own_world_and_tokens() -> None:
    async with running_standin() as one, running_standin() as two, aiohttp.ClientSession() as session:
        assert len({one.admin_token, two.admin_token, one.user_token, two.user_token}) == 4
        made = await _post(session, one.api_url, {"id": 1, "auth_token": one.admin_token, "method": "create_user",
                                                  "args": {"username": "only_here", "email": "o@example.com"}})
        assert made["error"] is None
        other = await _post(session, two.api_url, {"id": 1, "auth_token": two.admin_token, "method": "get_user",
                                                   "args": {"userid": "only_here"}})
        assert other["error"] == "user `only_here` does not exist"
        users = await _post(session, two.api_url, {"id": 1, "auth_token": two.admin_token, "method": "get_users",
                                                   "args": {}})
        assert "<" not in json.dumps(users)  # no placeholder of the recordings reaches an answer
        assert one.admin_token not in json.dumps(users)


async def test_envelope_rules() -> None:
    async with running_standin() as standin, aiohttp.ClientSession() as session:
        admin, url = standin.admin_token, standin.api_url
        # the method is looked up before the key is checked
        answer = await _post(session, url, {"id": 1, "auth_token": "bad", "method": "get_usr", "args": {}})
        assert answer["error"].startswith("No such method: get_usr. Similar methods: get_locks, get_gist, ")
        assert (await _post(session, url, {"id": 1, "auth_token": "bad", "method": "get_user", "args": {}}))[
            "error"] == "Invalid API KEY"
        # api_key first; an empty one falls back to auth_token
        answer = await _post(session, url, {"id": 1, "api_key": "", "auth_token": admin, "method": "get_user",
                                            "args": {}})
        assert answer["error"] is None and list(answer) == ["error", "id", "result"]
        assert (await _post(session, url, {"id": 1, "method": "get_user", "args": {}}))["error"] == \
            "Incorrect JSON data. Missing 'api_key or auth_token'"
        assert await _post(session, url, {"id": 3, "auth_token": admin, "method": "get_repo", "args": {"x": 1}}) == {
            "error": "Missing non optional `repoid` arg in JSON DATA", "id": 3, "result": None}
        # a feed token is known but may not call the API
        feed = standin.server.placeholders["<ADMIN_OTHER_TOKEN_1>"]
        assert (await _post(session, url, {"id": 4, "auth_token": feed, "method": "get_user", "args": {}}))[
            "error"] == "API KEY invalid or, has bad role for an API call"
        # a falsy id: the bare string ""
        async with session.post(url, data=json.dumps({"id": 0, "auth_token": admin, "method": "get_users",
                                                      "args": {}})) as response:
            assert await response.read() == b'""'
        # a deprecated alias adds its warning between error and id
        answer = await _post(session, url, {"id": 5, "auth_token": admin, "method": "show_ip", "args": {}})
        assert list(answer) == ["error", "DEPRECATION_WARNING", "id", "result"]


async def test_standin_runs_as_a_subprocess_without_printing_secrets(tmp_path: Path) -> None:
    help_text = subprocess.run([sys.executable, "-m", "tests.standin.rhodecode", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "TEST STAND-IN" in help_text.stdout and "4.22" in help_text.stdout
    tokens = tmp_path / "standin.env"
    env = {**os.environ, "RHODECODE_STANDIN_ADMIN_TOKEN": "a" * 40}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.standin.rhodecode", "--port", "0", "--tokens-file", str(tokens),
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("rhodecode stand-in listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert oct(tokens.stat().st_mode & 0o777) == "0o600"
        values = dict(x.split("=", 1) for x in tokens.read_text().split())
        assert values["RHODECODE_STANDIN_URL"] == url and values["RHODECODE_STANDIN_ADMIN_TOKEN"] == "a" * 40
        async with aiohttp.ClientSession() as session:
            answer = await _post(session, f"{url}/_admin/api",
                                 {"id": 1, "auth_token": values["RHODECODE_STANDIN_USER_TOKEN"],
                                  "method": "get_user", "args": {}})
            assert answer["result"]["username"] == "regular_user"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    printed = line + out.decode() + err.decode()
    assert "a" * 40 not in printed and values["RHODECODE_STANDIN_USER_TOKEN"] not in printed


async def test_calls_stay_fast() -> None:
    """It doubles as a fast backend for load tests: many calls, no sleeps, no re-reading."""
    async with running_standin() as standin, aiohttp.ClientSession() as session:
        started = asyncio.get_running_loop().time()
        for i in range(300):
            answer = await _post(session, standin.api_url, {"id": i + 1, "auth_token": standin.admin_token,
                                                            "method": "get_repo", "args": {"repoid": "demo-hg"}})
            assert answer["error"] is None
        assert asyncio.get_running_loop().time() - started < 15
