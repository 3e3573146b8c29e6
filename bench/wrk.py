"""wrk as the load generator: a Lua script that cycles through the request mix and
prints its results as one JSON line, and a runner that parses it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_LUA = """\
local bodies = {
%(bodies)s
}
local reqs = {}
local n = 0
init = function(args)
  for i, r in ipairs(bodies) do
    reqs[i] = wrk.format("POST", r[1], {["Content-Type"] = "application/json"}, r[2])
  end
end
request = function()
  n = n %% #reqs + 1
  return reqs[n]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"errors":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"mean_us":%%.1f,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def write_script(path: Path, mix: list[tuple[str, str, bytes]]) -> Path:
    """The Lua script for wrk; bodies as long strings (they hold no `]==]`)."""
    lines = []
    for _, url_path, body in mix:
        text = body.decode()
        assert "]==]" not in text
        lines.append(f'  {{"{url_path}", [==[{text}]==]}},')
    path.write_text(_LUA % {"bodies": "\n".join(lines)})
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def start(url: str, script: Path, connections: int, seconds: float, cpus: set[int] | None,
          timeout_s: float = 5.0) -> subprocess.Popen:
    cmd = [wrk_path() or "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s",
           "-s", str(script), url]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )


def finish(proc: subprocess.Popen, timeout: float) -> WrkResult:
    out, _ = proc.communicate(timeout=timeout)
    return parse(out, proc.returncode)


def parse(out: str, returncode: int | None = 0) -> WrkResult:
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            d = json.loads(line[8:])
            return WrkResult(
                requests=d["requests"], seconds=d["duration_us"] / 1e6, errors=d["errors"],
                p50_ms=d["p50_us"] / 1000, p90_ms=d["p90_us"] / 1000, p99_ms=d["p99_us"] / 1000,
                mean_ms=d["mean_us"] / 1000, max_ms=d["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk failed (exit {returncode}): {out.strip()[-500:]}")
