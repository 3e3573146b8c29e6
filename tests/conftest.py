"""Shared pytest fixtures for rcgate."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

# ======================================================================================
# Kallithea backend fixture  (fixture `kallithea`, marker `kallithea`)
#
# Session-scoped: the first test that requests `kallithea` starts a real Kallithea 0.7.0
# (scripts/kallithea_server.py: cached install, fresh sqlite instance in a pytest tmp dir,
# an admin and a non-admin user with random API keys); it is stopped at session end, also
# when tests fail.  Tests that do not request the fixture never start it.
#
# To use an already running server instead, set all three of
#     RCGATE_KALLITHEA_URL        e.g. http://127.0.0.1:5127 (API at $URL/_admin/api)
#     RCGATE_KALLITHEA_ADMIN_KEY  API key of an admin user
#     RCGATE_KALLITHEA_USER_KEY   API key of a non-admin user
# (e.g. from the kallithea.env written by `scripts/kallithea_server.py start --home DIR`).
# Optional: RCGATE_KALLITHEA_ADMIN_USER / _USER_USER (user names, default admin / user1),
# RCGATE_KALLITHEA_HOME / _VENV (the instance directory and the install, for the tests that
# use its Mercurial or its repository folder).
# ======================================================================================
_SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _load_kallithea_server_module():
    name = "rcgate_kallithea_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _SCRIPTS / "kallithea_server.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="session")
def kallithea(tmp_path_factory):
    """A running Kallithea 0.7.0: a KallitheaServer with url, api_url, admin_key, user_key,
    admin_username/_password, user_username/_password, pid, home."""
    ks = _load_kallithea_server_module()
    url = os.environ.get("RCGATE_KALLITHEA_URL")
    admin_key = os.environ.get("RCGATE_KALLITHEA_ADMIN_KEY")
    user_key = os.environ.get("RCGATE_KALLITHEA_USER_KEY")
    if url and admin_key and user_key:
        url = url.rstrip("/")
        yield ks.KallitheaServer(
            url=url, api_url=f"{url}/_admin/api", admin_key=admin_key, user_key=user_key,
            admin_username=os.environ.get("RCGATE_KALLITHEA_ADMIN_USER", "admin"),
            user_username=os.environ.get("RCGATE_KALLITHEA_USER_USER", "user1"),
            home=_path_or_none(os.environ.get("RCGATE_KALLITHEA_HOME")),
            venv=_path_or_none(os.environ.get("RCGATE_KALLITHEA_VENV")))
        return
    server = ks.KallitheaServer()
    try:
        server.start(home=tmp_path_factory.mktemp("kallithea"))
        yield server
    finally:
        server.stop()
def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None
# ======================================================================== end Kallithea


# ======================================================================================
# RhodeCode 1.7.2 backend fixture  (fixture `rhodecode17`, marker `rhodecode17`)
#
# Like `kallithea`: session-scoped, the first test that requests it starts a real
# RhodeCode 1.7.2 (scripts/rhodecode17_server.py: the old Pylons server on Python 2.7,
# cached install, fresh sqlite instance in a pytest tmp dir, an admin and a non-admin user
# with random API keys); it is stopped at session end, also when tests fail. It yields a
# RhodeCode17Server with the attribute names of KallitheaServer. Where no Python 2.7 can
# be found, the tests that request it are skipped (with the reason), never passed.
#
# To use an already running server instead, set all three of
#     RCGATE_RHODECODE17_URL        e.g. http://127.0.0.1:5127 (API at $URL/_admin/api)
#     RCGATE_RHODECODE17_ADMIN_KEY  API key of an admin user
#     RCGATE_RHODECODE17_USER_KEY   API key of a non-admin user
# (e.g. from the rhodecode17.env written by `scripts/rhodecode17_server.py start --home DIR`).
# Optional: RCGATE_RHODECODE17_ADMIN_USER / _USER_USER (user names, default admin / user1),
# RCGATE_RHODECODE17_HOME / _VENV (the instance directory and the install: its Mercurial).
# ======================================================================================
def _load_rhodecode17_server_module():
    name = "rcgate_rhodecode17_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _SCRIPTS / "rhodecode17_server.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def pytest_configure(config):
    config.addinivalue_line("markers", "rhodecode17: talks to the real RhodeCode 1.7.2 server the suite starts")


def _register_secrets(server):
    # pytest asks only the conftests at or above the rootdir for the pytest_fixture_setup
    # of a session-scoped fixture, so the hook below never sees one from this file.
    from tests.robustness import ledger

    for attr in _SECRET_ATTRS:
        ledger.register_secret(getattr(server, attr, None))
    return server


@pytest.fixture(scope="session")
def rhodecode17(tmp_path_factory):
    """A running RhodeCode 1.7.2: a RhodeCode17Server with url, api_url, admin_key, user_key,
    admin_username/_password, user_username/_password, pid, home."""
    rs = _load_rhodecode17_server_module()
    url = os.environ.get("RCGATE_RHODECODE17_URL")
    admin_key = os.environ.get("RCGATE_RHODECODE17_ADMIN_KEY")
    user_key = os.environ.get("RCGATE_RHODECODE17_USER_KEY")
    if url and admin_key and user_key:
        url = url.rstrip("/")
        yield _register_secrets(rs.RhodeCode17Server(
            url=url, api_url=f"{url}/_admin/api", admin_key=admin_key, user_key=user_key,
            admin_username=os.environ.get("RCGATE_RHODECODE17_ADMIN_USER", "admin"),
            user_username=os.environ.get("RCGATE_RHODECODE17_USER_USER", "user1"),
            home=_path_or_none(os.environ.get("RCGATE_RHODECODE17_HOME")),
            venv=_path_or_none(os.environ.get("RCGATE_RHODECODE17_VENV"))))
        return
    server = rs.RhodeCode17Server()
    try:
        try:
            server.start(home=tmp_path_factory.mktemp("rhodecode17"))
        except rs.Python27Missing as e:
            pytest.skip(f"RhodeCode 1.7.2 not started: {e}")
        yield _register_secrets(server)
    finally:
        server.stop()
# ================================================================== end RhodeCode 1.7.2


# ======================================================================================
# Modern RhodeCode stand-in fixture  (fixture `rhodecode_standin`)
#
# A TEST STAND-IN, not RhodeCode: tests/standin/rhodecode/ answers as a recorded real
# RhodeCode CE 4.22 did (tests/standin/test_replay_recordings.py keeps it so), because a
# modern RhodeCode cannot be installed here. Function-scoped: each test gets a fresh server on
# 127.0.0.1 (a free port) in its own event loop, started in milliseconds. It yields a
# RunningStandin: url, api_url, admin_token, user_token (also as admin_key / user_key),
# admin_username, user_username, received (what the stand-in was sent) and server (state).
# ======================================================================================
@pytest.fixture
async def rhodecode_standin():
    from tests.standin.rhodecode import running_standin

    async with running_standin() as standin:
        yield standin
# ============================================================== end RhodeCode stand-in


# ======================================================================================
# Robustness bookkeeping  (tests/robustness, tests/zz_secrets)
#
# 1. Every log record of the session also goes to <basetemp>/rcgate-logs/python-logging.log
#    (rcgate's "rcgate" logger at DEBUG, every other logger at its usual level), so that
#    tests/zz_secrets can scan what rcgate logged in-process, next to the audit files and
#    the stderr logs of rcgate processes that tests leave under <basetemp>.
# 2. The credentials of the `kallithea`, `rhodecode17` and `rhodecode_standin` fixtures are
#    registered, as the fixtures are set up, as secrets of the suite (tests/robustness/ledger.py).
# 3. The terminal summary prints the robustness tally: fuzz cases, faults injected, calls
#    under load, audit records counted, files/lines/secrets scanned.
# ======================================================================================
import logging as _logging


@pytest.fixture(scope="session", autouse=True)
def rcgate_session_log(tmp_path_factory):
    path = tmp_path_factory.getbasetemp() / "rcgate-logs" / "python-logging.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(_logging.DEBUG)
    handler.setFormatter(_logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root, rcgate = _logging.getLogger(), _logging.getLogger("rcgate")
    old_level = rcgate.level
    root.addHandler(handler)
    rcgate.setLevel(_logging.DEBUG)
    try:
        yield path
    finally:
        rcgate.setLevel(old_level)
        root.removeHandler(handler)
        handler.close()


_SECRET_ATTRS = ("admin_key", "user_key", "admin_token", "user_token", "admin_password", "user_password")


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    outcome = yield
    if fixturedef.argname in ("kallithea", "rhodecode17", "rhodecode_standin") and outcome.exception is None:
        from tests.robustness import ledger

        for attr in _SECRET_ATTRS:
            ledger.register_secret(getattr(outcome.get_result(), attr, None))


def pytest_terminal_summary(terminalreporter):
    ledger = sys.modules.get("tests.robustness.ledger")
    if ledger is None or not ledger.TALLY:
        return
    terminalreporter.section("robustness")
    for name, value in sorted(ledger.TALLY.items()):
        terminalreporter.write_line(f"{name}: {value}")
    for name, note in ledger.NOTES.items():
        terminalreporter.write_line(f"{name}: {note}")
# ======================================================================= end robustness
