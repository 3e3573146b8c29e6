#!/usr/bin/env python3
"""`make run`: a real Kallithea on 127.0.0.1, rcgate in front of it, and curl calls to paste.

    python scripts/run_local.py [--gateway 127.0.0.1:8080] [--kallithea-port 5000] [--home run]

Installs Kallithea on first use (cached under ~/.cache/rcgate), creates a fresh
instance under HOME with a demo user group and repository, starts rcgate, prints
one ready-to-paste curl call per dialect (and one web view) and waits. Ctrl-C stops both servers.
`--smoke` runs the printed calls, checks their answers, and stops (used by the tests).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from kallithea_server import KallitheaServer, api_call, port_in_use  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="127.0.0.1:8080", metavar="HOST:PORT", help="where rcgate listens")
    parser.add_argument("--kallithea-port", type=int, default=5000, help="Kallithea's port on 127.0.0.1")
    parser.add_argument("--home", type=Path, default=ROOT / "run", help="instance, logs and audit log go here")
    parser.add_argument("--smoke", action="store_true", help="run the printed calls, check them, and stop")
    args = parser.parse_args(argv)

    host, port = args.gateway.rsplit(":", 1)
    if port_in_use(int(port)):
        sys.exit(f"run: {args.gateway} is already in use; choose another with --gateway")
    home = args.home.resolve()
    kallithea = KallitheaServer().start(home=home / "kallithea", port=args.kallithea_port)
    gateway = None
    try:
        seed_demo_data(kallithea)
        audit = home / "audit.jsonl"
        gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(ROOT / "config.yaml"),
             "--listen", args.gateway, "--backend-url", kallithea.url, "--audit-log", str(audit)],
            cwd=ROOT, stderr=open(home / "rcgate.log", "ab"),
        )
        url = f"http://{host}:{port}/_admin/api"
        wait_for(url, gateway)
        calls = example_calls(url, kallithea.admin_key)
        print(f"\nKallithea 0.7.0  {kallithea.url}   (pid {kallithea.pid}, log {kallithea.home}/server.log)")
        print(f"rcgate           {url}   (pid {gateway.pid}, audit log {audit})\n")
        for title, argv_ in calls:
            print(f"# {title}\n{shlex.join(argv_)}\n")
        if args.smoke:
            return smoke(calls)
        print("Ctrl-C stops both servers.")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
        kallithea.stop()


def seed_demo_data(k: KallitheaServer) -> None:
    for method, call_args in [
        ("create_user_group", {"group_name": "developers", "description": "demo group"}),
        ("add_user_to_user_group", {"usergroupid": "developers", "userid": k.user_username}),
        ("create_repo", {"repo_name": "demo", "repo_type": "hg", "description": "demo repository"}),
    ]:
        answer = api_call(k.api_url, k.admin_key, method, call_args)
        if answer.get("error"):
            raise RuntimeError(f"{method}: {answer['error']}")


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("run: rcgate exited at start; see run/rcgate.log")
        try:
            urllib.request.urlopen(urllib.request.Request(url, b"{}"), timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("run: rcgate did not answer in time")


def example_calls(url: str, key: str) -> list[tuple[str, list[str]]]:
    def curl(body: dict, target: str = url) -> list[str]:
        return ["curl", "-s", target, "-H", "Content-Type: text/plain", "--data-binary", json.dumps(body)]

    rc1 = url.replace("/_admin/api", "/rhodecode1/_admin/api")
    return [
        ("RhodeCode 1.x: get_users_group answers the group with `members`",
         curl({"id": 1, "api_key": key, "method": "get_users_group", "args": {"usersgroupid": "developers"}})),
        ("RhodeCode 1.x: pull answers a bare string (this demo repository has no remote: an error)",
         curl({"id": 2, "api_key": key, "method": "pull", "args": {"repo_name": "demo"}})),
        ("RhodeCode 1.x: create_repo answers {msg, repo}",
         curl({"id": 3, "api_key": key, "method": "create_repo", "args": {"repo_name": "from-rc1", "owner": "admin"}}, rc1)),
        ("Kallithea: get_user_group answers exactly what Kallithea answers",
         curl({"id": 4, "api_key": key, "method": "get_user_group", "args": {"usergroupid": "developers"}})),
        ("modern RhodeCode: auth_token; get_user_group answers with `users`, pretty-printed",
         curl({"id": 5, "auth_token": key, "method": "get_user_group", "args": {"usergroupid": "developers"}})),
        ("a web view with a key, through rcgate: the demo repository's RSS feed (4.x spelling: feed-rss)",
         ["curl", "-s", url.replace("/_admin/api", f"/demo/feed-rss?auth_token={key}")]),
    ]


def smoke(calls: list[tuple[str, list[str]]]) -> int:
    outputs = [subprocess.run(argv, capture_output=True, check=True).stdout for _, argv in calls]
    answers = [json.loads(out) for out in outputs[:5]]
    checks = [
        "members" in answers[0]["result"] and answers[0]["id"] == 1,
        answers[1] == {"id": 2, "result": None, "error": "Unable to pull changes from `demo`"},
        set(answers[2]["result"]) == {"msg", "repo"} and answers[2]["result"]["repo"]["landing_rev"] == "tip",
        "members" in answers[3]["result"] and "users" not in answers[3]["result"],
        "users" in answers[4]["result"] and "members" not in answers[4]["result"],
        b"<rss" in outputs[5] and b"demo" in outputs[5],
    ]
    for (title, _), ok in zip(calls, checks):
        print(f"{'ok  ' if ok else 'FAIL'} {title}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
