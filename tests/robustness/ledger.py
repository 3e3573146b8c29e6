"""What the robustness tests did, for the closing summary; and the secrets the suite used.

`TALLY` counts fuzz cases (per test and in total), injected backend faults, calls
under load, audit records checked, files and lines scanned for secrets. `SECRETS`
holds every credential a test sent or a fixture created; `tests/zz_secrets` checks
that none of them appears in any log line rcgate wrote.
"""
from __future__ import annotations

import collections
import secrets as _secrets

TALLY: collections.Counter = collections.Counter()
NOTES: dict[str, str] = {}

# Tokens the robustness tests use as API keys and passwords: random per run, long
# enough that a match in a log line cannot be a coincidence.
CALLER_KEY = "rk-" + _secrets.token_hex(20)
OTHER_KEY = "rk-" + _secrets.token_hex(20)
PASSWORD = "Pw-" + _secrets.token_hex(12)
# Fixed passwords the Kallithea tests use (tests/integration, scripts/kallithea_server.py).
FIXED_PASSWORDS = ("Secr3tPass", "Adm1nPass", "Us3rPass1")

SECRETS: set[str] = {CALLER_KEY, OTHER_KEY, PASSWORD, *FIXED_PASSWORDS}


def register_secret(value: object) -> None:
    if isinstance(value, str) and len(value) >= 6:
        SECRETS.add(value)


def count(name: str, n: int = 1) -> None:
    TALLY[name] += n
