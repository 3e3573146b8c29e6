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
# Optional: RCGATE_KALLITHEA_ADMIN_USER / _USER_USER (user names, default admin / user1).
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
            user_username=os.environ.get("RCGATE_KALLITHEA_USER_USER", "user1"))
        return
    server = ks.KallitheaServer()
    try:
        server.start(home=tmp_path_factory.mktemp("kallithea"))
        yield server
    finally:
        server.stop()
# ======================================================================== end Kallithea
