"""Summarise a py-spy profile (`py-spy record -f raw`: one collapsed stack per line).

    python -m bench.profile PROFILE.txt [--top N]

Prints where the samples went: by component (self time: the frame that was
running, grouped by module), then the heaviest functions by self and by
inclusive time.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")

# (component, file-path fragment): first match wins; checked against the leaf frame's file
COMPONENTS: list[tuple[str, str]] = [
    ("rcgate: mapping engine (translation)", "gateway/mapping/"),
    ("rcgate: audit (record + writer thread)", "gateway/audit.py"),
    ("rcgate: JSON codec", "gateway/jsoncodec.py"),
    ("rcgate: envelope", "gateway/envelope.py"),
    ("rcgate: dialect detection", "gateway/dialects.py"),
    ("rcgate: backend client (own code)", "gateway/backend.py"),
    ("rcgate: backend HTTP client (incl. its socket writes)", "gateway/http_client.py"),
    ("rcgate: metrics", "gateway/metrics.py"),
    ("rcgate: pipeline (app.py)", "gateway/app.py"),
    ("rcgate: other", "gateway/"),
    ("structlog (audit rendering)", "structlog/"),
    ("logging (audit file handler)", "logging/"),
    ("prometheus_client (metrics)", "prometheus_client/"),
    ("aiohttp client (to the backend)", "aiohttp/client"),
    ("aiohttp client (to the backend)", "aiohttp/connector.py"),
    ("aiohttp server (from the caller)", "aiohttp/web"),
    ("aiohttp common (HTTP I/O, helpers)", "aiohttp/"),
    ("yarl / multidict", "yarl/"),
    ("yarl / multidict", "multidict/"),
    ("uuid / datetime / hashlib", "uuid.py"),
    ("asyncio event loop", "asyncio/"),
    ("threads (audit thread hand-off)", "threading.py"),
    ("threads (audit thread hand-off)", "concurrent/"),
]


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw.strip())
            frames.append((m["func"], m["file"]) if m else (raw.strip(), "?"))
        stacks.append((frames, int(count)))
    return stacks


def component(file: str) -> str:
    for name, fragment in COMPONENTS:
        if fragment in file:
            return name
    return "other (interpreter, stdlib)"


def summarise(path: Path, top: int = 15) -> str:
    stacks = parse(path)
    total = sum(c for _, c in stacks) or 1
    by_component: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        by_component[component(file)] += count
        self_time[f"{func} ({file})"] += count
        for name in {f"{f} ({fl})" for f, fl in frames}:
            inclusive[name] += count
    out = [f"{total} samples", "", "self time by component:"]
    out += [f"  {100 * c / total:5.1f} %  {name}" for name, c in by_component.most_common()]
    out += ["", f"top {top} functions, self time:"]
    out += [f"  {100 * c / total:5.1f} %  {name}" for name, c in self_time.most_common(top)]
    gateway = [(n, c) for n, c in inclusive.most_common() if "gateway/" in n]
    out += ["", f"top {top} rcgate functions, inclusive time:"]
    out += [f"  {100 * c / total:5.1f} %  {name}" for name, c in gateway[:top]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=15)
    a = p.parse_args(argv)
    print(summarise(a.profile, a.top))


if __name__ == "__main__":
    main()
