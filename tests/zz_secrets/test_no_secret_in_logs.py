"""Last of the suite (`zz_`): no secret the suite used appears in any log line rcgate wrote.

Secrets: the random keys and password of tests/robustness/ledger.py, the fixed
passwords of the Kallithea tests, the keys and passwords of the `kallithea` and
`rhodecode_standin` fixtures (registered by tests/conftest.py as they are set up),
and the API key of every Kallithea user in every Kallithea instance this session
created under the pytest base temp dir (read from its kallithea.db).

Also any `?api_key=` or `?auth_token=` value in a query string (a proxied web view's key),
whoever's key it is.

rcgate's logs: every audit file (`*.jsonl`, rotated `*.jsonl.N`), every `*.log` that
is not inside a Kallithea home, and the session's in-process log
(`rcgate-logs/python-logging.log`, every Python log record of the session).
Kallithea's own logs (server.log, create.log: written by Kallithea, not rcgate) are
scanned too and reported separately; they do not fail the test.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.robustness import ledger

LOG_NAME = re.compile(r".*\.(jsonl|log)(\.\d+)?$")


def kallithea_homes(base: Path) -> list[Path]:
    return sorted(db.parent.parent for db in base.rglob("instance/kallithea.db"))


def kallithea_keys(homes: list[Path]) -> set[str]:
    keys: set[str] = set()
    for home in homes:
        con = sqlite3.connect(f"file:{home / 'instance' / 'kallithea.db'}?mode=ro", uri=True, timeout=10)
        try:
            keys.update(k for (k,) in con.execute("SELECT api_key FROM users") if k)
            try:
                keys.update(k for (k,) in con.execute("SELECT api_key FROM user_api_keys") if k)
            except sqlite3.Error:
                pass
        finally:
            con.close()
    return keys


# a key in a query string (a proxied web view's ?api_key= / ?auth_token=), whoever's key it is
QUERY_KEY = re.compile(r"[?&](api_key|auth_token)=(?!%3Credacted|<redacted>)([^&\s\"'<]+)")


def scan(files: list[Path], secrets: set[str]) -> tuple[int, list[str]]:
    lines, hits = 0, []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                lines += 1
                for secret in secrets:
                    if secret in line:
                        hits.append(f"{path}:{number}: a secret ({secret[:3]}...) in: {line[:160]!r}")
                m = QUERY_KEY.search(line)
                if m:
                    hits.append(f"{path}:{number}: a key in a query string ({m.group(1)}=...) in: {line[:160]!r}")
    return lines, hits


def test_no_secret_in_any_rcgate_log_line(tmp_path_factory, rcgate_session_log):
    base = tmp_path_factory.getbasetemp()
    homes = kallithea_homes(base)
    secrets = {s for s in ledger.SECRETS | kallithea_keys(homes) if len(s) >= 6}
    in_home = lambda p: any(h in p.parents for h in homes)  # noqa: E731
    logs = sorted(p for p in base.rglob("*") if p.is_file() and LOG_NAME.match(p.name))
    rcgate_logs = [p for p in logs if not in_home(p)]
    kallithea_logs = [p for p in logs if in_home(p)]
    assert rcgate_session_log in rcgate_logs

    lines, hits = scan(rcgate_logs, secrets)
    k_lines, k_hits = scan(kallithea_logs, secrets)
    audit_files = [p for p in rcgate_logs if ".jsonl" in p.name]
    ledger.count("secrets scanned for", len(secrets))
    ledger.count("rcgate log files scanned", len(rcgate_logs))
    ledger.count("rcgate log lines scanned", lines)
    ledger.count("rcgate audit files among them", len(audit_files))
    ledger.NOTES["kallithea logs (not rcgate's)"] = (
        f"{len(kallithea_logs)} files, {k_lines} lines, {len(k_hits)} lines with a secret")
    print(f"\nsecret scan: {len(secrets)} secrets ({len(ledger.SECRETS)} registered, "
          f"{len(secrets - ledger.SECRETS)} more from {len(homes)} Kallithea database(s)); rcgate: "
          f"{len(rcgate_logs)} files ({len(audit_files)} audit), {lines} lines, {len(hits)} hits; "
          f"Kallithea's own logs: {len(kallithea_logs)} files, {k_lines} lines, {len(k_hits)} lines with a secret")
    for hit in k_hits[:5]:
        print("  (Kallithea's log, not rcgate's)", hit)
    assert hits == [], "\n".join(hits[:20])


def test_the_scan_would_find_a_secret(tmp_path):
    """The scanner itself: a planted secret is found, its absence is not reported."""
    log = tmp_path / "planted.log"
    log.write_text("line one\nkey=" + ledger.CALLER_KEY + " here\n")
    lines, hits = scan([log], {ledger.CALLER_KEY})
    assert lines == 2 and len(hits) == 1
    assert scan([log], {"not-there-at-all"})[1] == []
    log.write_text('{"path": "/r/raw/tip/f?api_key=0123456789abcdef"}\n{"path": "/r/raw/tip/f?x=%3Credacted%3E"}\n')
    assert [h.split(": ", 1)[1][:28] for h in scan([log], set())[1]] == ["a key in a query string (api"]
