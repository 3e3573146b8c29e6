"""TEST STAND-IN (a test double) for a RhodeCode CE 4.22 JSON-RPC server. It is NOT RhodeCode.

A modern RhodeCode cannot be installed in the test environment, so rcgate's modern backend
dialect is tested against this small aiohttp server. It imitates RhodeCode Community Edition
4.22.0 (VCSServer 4.22.0, Python 2.7, sqlite) as recorded in `tests/standin/recordings/`: the
method signatures of `rhodecode-4.22-api.md` and the answers of `rhodecode-4.22/*.json`.

What it imitates: the HTTP and JSON-RPC envelope (order of checks, texts, pretty-printing,
the bare `""` for a falsy id, the HTML page of a crash, the Internal-server-error answers);
every method 4.22 registers, with its required and optional arguments; the error texts and
validation error objects; the result shapes with keys in the server's (Python 2 dict) order;
permissions (super-admin, owner, default user, user groups, granted permissions) including
"does not exist" for what a caller may not see; and the state changes of the API, starting
from the world of the recorded run (users, groups, repositories, pull requests, comments,
gists, audit log, the fixture repositories' commits, refs and files), derived from the
recorded answers at load time (seed.py).

What it simplifies: there is no Mercurial or Git. Repositories serve the commits, refs and
files the recordings show; a repository created at run time is empty until a fork copies
content or a clone/pull from this stand-in's own repository URLs does; a merge makes a
merge commit with a made-up id. Search finds nothing (the recorded server had no index).
Server information is the recorded one. Generated values (tokens, ids of private gists,
shadow-merge and merge commit ids) are random or made up; dates come from the world's clock,
which starts at the recorded run's start and runs in real time. Name-keyed maps of the
initial world keep the recorded order; new names follow in creation order. Permissions follow
4.22's model without branch permissions, IP whitelists or user-group inheritance switches.

It is fast (no sleeps; each call's work grows with the state, never with the recordings,
which are read once per process), so it doubles as a backend for load tests. It records what
it received (`received`, bounded) so tests can check exactly what a client sent:

    async with running_standin() as standin:          # in-process, on 127.0.0.1:<free port>
        standin.url, standin.admin_token, standin.user_token, standin.received

    python -m tests.standin.rhodecode --port 0 --tokens-file /tmp/t.env   # as a subprocess

The subprocess prints one line, its URL; the tokens (random unless
RHODECODE_STANDIN_ADMIN_TOKEN / RHODECODE_STANDIN_USER_TOKEN are set) are never printed: they
go to `--tokens-file` (mode 0600) when asked.
"""
from .runner import RunningStandin, main, running_standin
from .server import Received, RhodecodeStandin

__all__ = ["Received", "RhodecodeStandin", "RunningStandin", "main", "running_standin"]
