"""rcgate side-by-side benchmark: `python -m bench` (or `make bench`).

Measures, in one run on this machine:
  (a) the fast local JSON-RPC backend called directly,
  (b) a bare aiohttp pass-through proxy in front of it (bytes forwarded, no translation),
  (b2) the same proxy forwarding through rcgate's own backend client instead of aiohttp's,
  (c) rcgate in front of it (full translation, audit log on),
with the same mix of calls in each dialect (bench/calls.py): throughput at a fixed
concurrency, p50/p99 latency at concurrency 1 and under that load, (c)/(b) and (c)-(a);
rcgate with 50 route rules over two backends against (c); rcgate --workers 2 against
one worker; rcgate's resident memory after 10 000 and
200 000 calls; and a short end-to-end series against a real Kallithea 0.7.0 with
rcgate's share of each call's time. Prints tables and whether each target is met.
The numbers are reported, never asserted: the exit code is 0 whenever the bench ran.

How it stays fair on a small machine: the load generator is wrk (C, one thread).
With 2 or more CPUs, the server under test ((a)'s backend, (b)'s proxy, (c)'s rcgate)
runs alone on CPU 1, and wrk plus the backend behind (b), (b2) and (c) run on CPU 0; the
CPU each side used is printed, so a saturated driver would show. Rounds alternate
(a), (b), (b2), (c) so that background noise hits all alike; medians are reported.
The --workers comparison runs unpinned (everything shares every CPU).

Every process is bound to 127.0.0.1, started by the bench and stopped by PID at the
end, also on Ctrl-C or failure.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import calls, wrk
from .procs import Proc, Procs, cpu_busy, free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rcgate_bin(arg: str | None) -> str:
    if arg:
        return arg
    beside = Path(PY).parent / "rcgate"
    return str(beside) if beside.exists() else (shutil.which("rcgate") or "rcgate")


def rcgate_has_workers(rcgate: str) -> bool:
    try:
        out = subprocess.run([rcgate, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--workers" in out


def metrics(port: int) -> dict[str, float]:
    """rcgate's /metrics, summed over labels: {name: value}."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def check_answers(port: int, what: str) -> None:
    """Each call of the mix once: HTTP 200, JSON-RPC, no error, the caller's id back, a result."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for label, path, body in calls.mix_bodies():
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            raise RuntimeError(f"{what}: {label}: HTTP {resp.status}, not JSON: {raw[:200]!r}") from None
        sent = json.loads(body)
        if resp.status != 200 or answer.get("error") is not None or answer.get("id") != sent["id"] \
                or not answer.get("result"):
            raise RuntimeError(f"{what}: {label}: unexpected answer (HTTP {resp.status}): {raw[:300]!r}")
    conn.close()


@dataclass
class Run:
    """One wrk run and the CPU each side used meanwhile."""

    result: wrk.WrkResult
    server_cpu: float  # CPU-seconds per second used by the server under test
    server_us_per_call: float  # its CPU time per call: robust to background noise, unlike req/s
    driver_cpu: float  # ... by wrk and, for (b)/(c), the backend behind
    other_cpu: float  # ... by everything else on the machine (background noise)


@dataclass
class Target:
    key: str
    title: str
    port: int
    server: Proc
    helpers: list[Proc] = field(default_factory=list)  # the backend behind, on the driver side
    latency1: list[Run] = field(default_factory=list)
    load: list[Run] = field(default_factory=list)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs = Procs()
        self.wrk_running: list[subprocess.Popen] = []
        ncpu = len(os.sched_getaffinity(0))
        self.pinned = ncpu >= 2 and not args.no_pin
        self.sut_cpus = {1} if self.pinned else None
        self.drv_cpus = {0} if self.pinned else None
        self.ncpu = ncpu
        self.report: list[str] = []
        self.targets_met: list[tuple[str, str, str]] = []  # (status, target, measured)

    # ----------------------------------------------------------------- plumbing

    def start(self, name: str, cmd: list[str], cpus: set[int] | None, **kw) -> Proc:
        return self.procs.start(name, cmd, self.work / f"{name}.log", cpus=cpus, cwd=ROOT, **kw)

    def backend(self, name: str, cpus: set[int] | None) -> tuple[Proc, int]:
        port = free_port()
        proc = self.start(name, [PY, "-m", "bench.fast_backend", "--port", str(port)], cpus)
        proc.wait_http(port, "/", "POST", b"{}")
        return proc, port

    def bare_proxy(self, name: str, backend_url: str, client: str, cpus: set[int] | None) -> tuple[Proc, int]:
        port = free_port()
        proc = self.start(name, [PY, "-m", "bench.bare_proxy", "--port", str(port), "--backend-url", backend_url,
                                 "--client", client], cpus)
        proc.wait_http(port, "/", "POST", b"{}")
        return proc, port

    def rcgate(self, name: str, backend_url: str, cpus: set[int] | None, workers: int = 1) -> tuple[Proc, int]:
        port = free_port()
        cmd = [self.rcgate_cmd, "serve", "--config", str(ROOT / "config.yaml"), "--listen", f"127.0.0.1:{port}",
               "--backend-url", backend_url, "--audit-log", str(self.work / f"{name}.audit.jsonl")]
        if workers != 1:
            cmd += ["--workers", str(workers)]
        proc = self.start(name, cmd, cpus)
        proc.wait_http(port, "/healthz", timeout=60)
        return proc, port

    def wrk_run(self, target: Target, connections: int, seconds: float) -> Run:
        before_cpu = cpu_busy()
        server0 = target.server.cpu_seconds()
        drivers = target.helpers
        driver0 = sum(p.cpu_seconds() for p in drivers)
        t0 = time.monotonic()
        proc = wrk.start(f"http://127.0.0.1:{target.port}", self.script, connections, seconds, self.drv_cpus)
        self.wrk_running.append(proc)
        try:
            # wrk's own CPU: children times of this process after it is reaped
            c0 = os.times()
            result = wrk.finish(proc, timeout=seconds + 60)
            c1 = os.times()
        finally:
            self.wrk_running.remove(proc)
        wall = time.monotonic() - t0
        wrk_cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
        server_s = target.server.cpu_seconds() - server0
        server = server_s / wall
        driver = (sum(p.cpu_seconds() for p in drivers) - driver0 + wrk_cpu) / wall
        busy = sum(cpu_busy().values()) - sum(before_cpu.values())
        other = max(0.0, busy / wall - server - driver)
        if result.errors:
            log(f"  warning: {target.key}: wrk counted {result.errors} socket/HTTP errors")
        per_call = server_s / result.requests * 1e6 if result.requests else float("nan")
        return Run(result, server, per_call, driver, other)

    # ----------------------------------------------------------------- sections

    def setup(self) -> None:
        a = self.args
        self.script = wrk.write_script(self.work / "mix.lua", calls.mix_bodies())
        be_sut, be_sut_port = self.backend("backend-a", self.sut_cpus)
        be_drv, be_drv_port = self.backend("backend", self.drv_cpus)
        self.backend_url = f"http://127.0.0.1:{be_drv_port}"
        self.backend_proc = be_drv
        proxy, px_port = self.bare_proxy("bare-proxy", self.backend_url, "aiohttp", self.sut_cpus)
        proxy2, px2_port = self.bare_proxy("bare-proxy-b2", self.backend_url, "rcgate", self.sut_cpus)
        rc, rc_port = self.rcgate("rcgate", self.backend_url, self.sut_cpus)
        self.a = Target("a", "(a) backend, called directly", be_sut_port, be_sut)
        self.b = Target("b", "(b) bare aiohttp pass-through proxy", px_port, proxy, [be_drv])
        self.b2 = Target("b2", "(b2) the same on rcgate's backend client", px2_port, proxy2, [be_drv])
        self.c = Target("c", "(c) rcgate: translation + audit on", rc_port, rc, [be_drv])
        for t in (self.a, self.b, self.b2, self.c):
            check_answers(t.port, t.title)
        log(f"processes up; each call of the mix answered correctly by (a), (b), (b2) and (c); "
            f"concurrency {a.concurrency}, {a.seconds:g} s per run")

    def memory(self) -> None:
        """rcgate's RSS after 10 000 and after 200 000 calls (fresh process, load at the fixed concurrency)."""
        a = self.args
        first, last = a.memory_calls
        log(f"memory: loading rcgate to {last:,} calls (RSS read at {first:,} and {last:,}) ...")
        c = self.c
        proc = wrk.start(f"http://127.0.0.1:{c.port}", self.script, a.concurrency, a.memory_timeout + 5,
                         self.drv_cpus)
        self.wrk_running.append(proc)
        rss_first = rss_last = 0
        calls_at_first = calls_at_last = 0
        t0 = time.monotonic()
        queue_max = 0.0
        try:
            while time.monotonic() - t0 < a.memory_timeout and proc.poll() is None:
                time.sleep(0.2)
                m = metrics(c.port)
                n = int(m.get("rcgate_calls_total", 0))
                queue_max = max(queue_max, m.get("rcgate_audit_queue_depth", 0.0))
                if not rss_first and n >= first:
                    rss_first, calls_at_first = c.server.rss_kb(), n
                if n >= last:
                    rss_last, calls_at_last = c.server.rss_kb(), n
                    break
            else:
                m = metrics(c.port)
                calls_at_last = int(m.get("rcgate_calls_total", 0))
                rss_last = c.server.rss_kb()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)  # wrk stops and reports on SIGINT
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
            self.wrk_running.remove(proc)
        elapsed = time.monotonic() - t0
        self.mem = (rss_first, calls_at_first, rss_last, calls_at_last, elapsed, queue_max)
        log(f"memory: {calls_at_last:,} calls in {elapsed:.0f} s; RSS {rss_first / 1024:.1f} MiB at "
            f"{calls_at_first:,}, {rss_last / 1024:.1f} MiB at {calls_at_last:,}")

    def side_by_side(self) -> None:
        a = self.args
        trio = [self.a, self.b, self.b2, self.c]
        for t in trio:  # warm-up, not counted
            self.wrk_run(t, a.concurrency, 2)
        log("latency at concurrency 1 ...")
        for r in range(a.rounds):
            for t in (trio if r % 2 == 0 else trio[::-1]):
                t.latency1.append(self.wrk_run(t, 1, a.seconds_c1))
        log(f"throughput at concurrency {a.concurrency} ...")
        for r in range(a.rounds):
            for t in (trio if r % 2 == 0 else trio[::-1]):
                t.load.append(self.wrk_run(t, a.concurrency, a.seconds))
                log(f"  round {r + 1}: {t.key} {t.load[-1].result.rps:,.0f} req/s")

    def routes(self) -> None:
        """rcgate with 50 route rules over two backends beside the single-backend rcgate (c): what routing costs."""
        a = self.args
        log("routes: rcgate with 50 route rules over two backends, alternating with (c) ...")
        be2, be2_port = self.backend("backend-second", self.drv_cpus)
        config = self.work / "routes.yaml"
        rules = [f'  - {{repo: "wave{i}/*", backend: second}}' for i in range(47)]
        rules += ['  - {method: [create_repo, fork_repo], dialect: rhodecode1, backend: second}',
                  '  - {repo: [r1, "lib/*"], backend: first}',  # the mix's repository: reached after 48 rules
                  '  - {caller: bench, method: write, backend: second}',
                  '  - {backend: first}']
        config.write_text("\n".join([
            f"mappings: {ROOT / 'mappings'}",
            "backends:",
            f'  first: {{url: "{self.backend_url}", dialect: kallithea}}',
            f'  second: {{url: "http://127.0.0.1:{be2_port}", dialect: kallithea}}',
            "callers:",
            f'  bench: ["{"0" * 12}"]',
            "routes:", *rules]) + "\n")
        port = free_port()
        proc = self.start("rcgate-routes", [self.rcgate_cmd, "serve", "--config", str(config), "--listen",
                                            f"127.0.0.1:{port}", "--audit-log",
                                            str(self.work / "rcgate-routes.audit.jsonl")], self.sut_cpus)
        proc.wait_http(port, "/healthz", timeout=60)
        self.r = Target("r", "(c50) rcgate, 50 routes, two backends", port, proc, [self.backend_proc, be2])
        check_answers(port, self.r.title)
        pair = [self.c, self.r]
        self.routed = {"c": [], "r": [], "c1": [], "r1": []}
        for t in pair:
            self.wrk_run(t, a.concurrency, 2)
        for r in range(a.rounds_routes):
            for t in (pair if r % 2 == 0 else pair[::-1]):
                run = self.wrk_run(t, a.concurrency, a.seconds)
                self.routed[t.key].append(run)
                self.routed[f"{t.key}1"].append(self.wrk_run(t, 1, a.seconds_c1))
        self.procs.stop(proc)
        self.procs.stop(be2)
        self.route_us = in_process_route_cost(config)

    def profile(self) -> None:
        spy = Path(PY).parent / "py-spy"
        spy = str(spy) if spy.exists() else shutil.which("py-spy")
        if not spy:
            self.report.append("profile: py-spy not found (pip install py-spy)")
            return
        out = self.work / "profile.txt"
        log(f"profile: py-spy on rcgate (pid {self.c.server.pid}) under load, {self.args.profile_seconds:g} s ...")
        proc = wrk.start(f"http://127.0.0.1:{self.c.port}", self.script, self.args.concurrency,
                         self.args.profile_seconds + 4, self.drv_cpus)
        self.wrk_running.append(proc)
        try:
            time.sleep(1)
            subprocess.run([spy, "record", "-p", str(self.c.server.pid), "-d", str(int(self.args.profile_seconds)),
                            "-r", "200", "-f", "raw", "-o", str(out), "--gil"],
                           capture_output=True, timeout=self.args.profile_seconds + 60, check=False)
            proc.communicate(timeout=self.args.profile_seconds + 30)
        finally:
            self.wrk_running.remove(proc)
        if out.exists():
            from .profile import summarise

            self.profile_text = summarise(out, 15)
            keep = Path(self.args.profile_out) if self.args.profile_out else None
            if keep:
                shutil.copy(out, keep)
        else:
            self.profile_text = "py-spy wrote no profile (ptrace not permitted?)"

    def workers(self) -> None:
        a = self.args
        if not rcgate_has_workers(self.rcgate_cmd):
            self.workers_result = "workers: not available (this rcgate has no --workers flag)"
            log(self.workers_result)
            return
        log("workers: rcgate --workers 1 vs --workers 2, unpinned ...")
        be, be_port = self.backend("backend-free", None)
        url = f"http://127.0.0.1:{be_port}"
        saved = self.drv_cpus
        self.drv_cpus = None  # unpinned: wrk, backend and rcgate share every CPU
        try:
            w1, w1_port = self.rcgate("rcgate-w1", url, None, 1)
            try:
                w2, w2_port = self.rcgate("rcgate-w2", url, None, 2)
            except RuntimeError as exc:
                self.workers_result = f"workers: not available (rcgate --workers 2 did not start: " \
                                      f"{str(exc).splitlines()[0]})"
                log(self.workers_result)
                return
            t1 = Target("w1", "rcgate --workers 1", w1_port, w1, [be])
            t2 = Target("w2", "rcgate --workers 2", w2_port, w2, [be])
            for t in (t1, t2):
                check_answers(t.port, t.title)
                self.wrk_run(t, a.concurrency, 2)
            for r in range(a.rounds_workers):
                for t in ((t1, t2) if r % 2 == 0 else (t2, t1)):
                    t.load.append(self.wrk_run(t, a.concurrency, a.seconds))
            self.w = (t1, t2, len(w2.pids()))
        finally:
            self.drv_cpus = saved
            for p in [p for p in self.procs.items if p.name in ("rcgate-w1", "rcgate-w2", "backend-free")]:
                self.procs.stop(p)

    def kallithea(self) -> None:
        a = self.args
        sys.path.insert(0, str(ROOT / "scripts"))
        from kallithea_server import KallitheaServer  # noqa: E402  (stdlib only)

        log("kallithea: starting a real Kallithea 0.7.0 (installs into ~/.cache/rcgate the first time) ...")
        server = KallitheaServer()
        self.procs.finalizers.append(server.stop)
        server.start(home=self.work / "kallithea", port=free_port())
        rc, rc_port = self.rcgate("rcgate-kallithea", server.url, None)
        kport = int(server.url.rsplit(":", 1)[1])
        key = server.admin_key
        series = [  # (label, rcgate path, body to rcgate, body to Kallithea)
            ("kallithea get_user", "/_admin/api",
             {"id": 1, "api_key": key, "method": "get_user", "args": {}},
             {"id": 1, "api_key": key, "method": "get_user", "args": {}}),
            ("rhodecode1 get_user", "/rhodecode1/_admin/api",
             {"id": 2, "api_key": key, "method": "get_user", "args": {"userid": "admin"}},
             {"id": 2, "api_key": key, "method": "get_user", "args": {"userid": "admin"}}),
            ("rhodecode get_user", "/_admin/api",
             {"id": "c-3", "auth_token": key, "method": "get_user", "args": {"userid": "admin"}},
             {"id": 3, "api_key": key, "method": "get_user", "args": {"userid": "admin"}}),
            ("kallithea get_users", "/_admin/api",
             {"id": 4, "api_key": key, "method": "get_users", "args": {}},
             {"id": 4, "api_key": key, "method": "get_users", "args": {}}),
        ]
        proxies = {}  # the bare proxies of the table, in front of Kallithea: what any extra hop costs here
        for name, client in (("b", "aiohttp"), ("b2", "rcgate")):
            proc, port = self.bare_proxy(f"bare-proxy-kallithea-{name}", server.url, client, None)
            proxies[name] = (proc, http.client.HTTPConnection("127.0.0.1", port, timeout=60))
        direct = http.client.HTTPConnection("127.0.0.1", kport, timeout=60)
        via = http.client.HTTPConnection("127.0.0.1", rc_port, timeout=60)

        def call(conn: http.client.HTTPConnection, path: str, body: bytes) -> float:
            t0 = time.perf_counter()
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            raw = conn.getresponse().read()
            elapsed = time.perf_counter() - t0
            answer = json.loads(raw)
            if answer.get("error") is not None:
                raise RuntimeError(f"kallithea series: {path}: error {answer['error']!r}")
            return elapsed * 1000

        rows = []
        log(f"kallithea: {a.kallithea_calls} rounds per row (direct, through rcgate, through (b), through (b2), "
            f"in rotating order) ...")
        for label, path, via_body, direct_body in series:
            vb, db = json.dumps(via_body).encode(), json.dumps(direct_body).encode()
            ways = [(direct, "/_admin/api", db), (via, path, vb),
                    (proxies["b"][1], "/_admin/api", db), (proxies["b2"][1], "/_admin/api", db)]
            for _ in range(5):  # warm-up
                for conn, url_path, body in ways:
                    call(conn, url_path, body)
            m0 = metrics(rc_port)
            cpu0 = rc.run_ns() / 1e9
            times: list[list[float]] = [[] for _ in ways]
            for i in range(a.kallithea_calls):
                for k in range(len(ways)):  # each way goes first, second, ... equally often
                    j = (i + k) % len(ways)
                    times[j].append(call(*ways[j]))
            cpu1 = rc.run_ns() / 1e9
            m1 = metrics(rc_port)
            n = m1["rcgate_call_duration_seconds_count"] - m0["rcgate_call_duration_seconds_count"]
            inside = ((m1["rcgate_call_duration_seconds_sum"] - m0["rcgate_call_duration_seconds_sum"])
                      - (m1["rcgate_backend_duration_seconds_sum"] - m0["rcgate_backend_duration_seconds_sum"]))
            d, v, pb, pb2 = times
            rows.append(KallitheaRow(
                label, median(d), median(v), median([x - y for x, y in zip(v, d)]),
                median([x - y for x, y in zip(pb, d)]), median([x - y for x, y in zip(pb2, d)]),
                inside / n * 1000 if n else float("nan"), (cpu1 - cpu0) / len(v) * 1000))
        direct.close()
        via.close()
        for proc, conn in proxies.values():
            conn.close()
            self.procs.stop(proc)
        self.kallithea_rows = rows
        self.procs.stop(rc)
        self.idle_cost = self.idle_cost_of_the_machine()

    def idle_cost_of_the_machine(self, calls_each: int = 150, pause: float = 0.02) -> tuple[float, float]:
        """CPU per call of the fast backend, back to back and with pauses between calls (microseconds).

        At concurrency 1 against Kallithea every process idles between its turns; on a
        small VM a process woken from idle runs its code several times slower (cold
        caches, halted virtual CPUs). This puts a number on that for the report."""
        be, port = self.backend("backend-idle", None)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = b'{"id": 1, "api_key": "k", "method": "get_user", "args": {}}'

        def per_call(gap: float) -> float:
            t0 = be.run_ns()
            for _ in range(calls_each):
                conn.request("POST", "/_admin/api", body, {"Content-Type": "application/json"})
                conn.getresponse().read()
                if gap:
                    time.sleep(gap)
            return (be.run_ns() - t0) / calls_each / 1000

        try:
            per_call(0)  # warm-up
            return per_call(0), per_call(pause)
        finally:
            conn.close()
            self.procs.stop(be)

    # ----------------------------------------------------------------- report

    def tables(self) -> str:
        a = self.args
        out = []
        w = out.append
        cpu_note = (f"server under test alone on CPU 1; wrk (+ the backend behind (b), (b2), (c)) on CPU 0"
                    if self.pinned else "unpinned (fewer than 2 CPUs, or --no-pin)")
        w("")
        w(f"rcgate bench — {self.ncpu} CPUs; {cpu_note}")
        w(f"mix: {len(calls.MIX)} calls, 3 per dialect (rhodecode1, kallithea, rhodecode): "
          + ", ".join(sorted({m for m in (lbl.split()[1] for lbl, _, _ in calls.MIX)})))
        w(f"load generator: wrk, 1 thread; {a.rounds} alternating rounds per figure, medians; "
          f"{a.seconds:g} s per load run, {a.seconds_c1:g} s per concurrency-1 run")
        w("CPU columns: server = the process under test; driver = wrk (+ the backend behind (b), (b2), (c)), below 100 % "
          "= not the bottleneck; other = the rest of the machine; us/call = the server's CPU time per call")
        w("")
        c = a.concurrency
        head = (f"{'':40s} {'req/s':>9s} | {'c=1 p50':>8s} {'c=1 p99':>8s} | {f'c={c} p50':>8s} {f'c={c} p99':>8s} |"
                f" {'server':>7s} {'driver':>7s} {'other':>6s} | {'us/call':>7s}")
        w(f"{'':40s} {f'c={c}':>9s} | {'latency, ms':^17s} | {'latency, ms':^17s} | {'CPU, % of one CPU':^22s} |"
          f" {'server':>7s}")
        w(head)
        w("-" * len(head))
        stats = {}
        for t in (self.a, self.b, self.b2, self.c):
            rps = median([r.result.rps for r in t.load])
            s = dict(
                rps=rps,
                p50_1=median([r.result.p50_ms for r in t.latency1]), p99_1=median([r.result.p99_ms for r in t.latency1]),
                p50_c=median([r.result.p50_ms for r in t.load]), p99_c=median([r.result.p99_ms for r in t.load]),
                cpu_s=median([r.server_cpu for r in t.load]) * 100, cpu_d=median([r.driver_cpu for r in t.load]) * 100,
                cpu_o=median([r.other_cpu for r in t.load]) * 100,
                us=median([r.server_us_per_call for r in t.load]),
            )
            stats[t.key] = s
            w(f"{t.title:40s} {s['rps']:9,.0f} | {s['p50_1']:8.3f} {s['p99_1']:8.3f} | {s['p50_c']:8.2f} {s['p99_c']:8.2f} |"
              f" {s['cpu_s']:6.0f}% {s['cpu_d']:6.0f}% {s['cpu_o']:5.0f}% | {s['us']:7.0f}")
        sa, sb, sb2, sc = stats["a"], stats["b"], stats["b2"], stats["c"]
        w("-" * len(head))
        ratio = sc["rps"] / sb["rps"] if sb["rps"] else float("nan")
        w(f"{'(c)/(b)':40s} {ratio:9.2f} | {sc['p50_1'] / sb['p50_1']:8.2f} {sc['p99_1'] / sb['p99_1']:8.2f} |"
          f" {sc['p50_c'] / sb['p50_c']:8.2f} {sc['p99_c'] / sb['p99_c']:8.2f} | {'':22s} | {sc['us'] / sb['us']:7.2f}")
        added = sc["p50_1"] - sa["p50_1"]
        w(f"{'(c)-(a), ms':40s} {'':9s} | {added:+8.3f} {sc['p99_1'] - sa['p99_1']:+8.3f} |"
          f" {sc['p50_c'] - sa['p50_c']:+8.2f} {sc['p99_c'] - sa['p99_c']:+8.2f} |")
        w(f"{'(b)-(a), ms':40s} {'':9s} | {sb['p50_1'] - sa['p50_1']:+8.3f} {sb['p99_1'] - sa['p99_1']:+8.3f} |"
          f" {sb['p50_c'] - sa['p50_c']:+8.2f} {sb['p99_c'] - sa['p99_c']:+8.2f} |")
        w(f"{'(c)/(b2): what translation + audit cost':40s} {sc['rps'] / sb2['rps']:9.2f} |"
          f" {sc['p50_1'] / sb2['p50_1']:8.2f} {sc['p99_1'] / sb2['p99_1']:8.2f} |"
          f" {sc['p50_c'] / sb2['p50_c']:8.2f} {sc['p99_c'] / sb2['p99_c']:8.2f} | {'':22s} | {sc['us'] / sb2['us']:7.2f}")
        per_round = ", ".join(f"{c_.result.rps / b_.result.rps:.2f}" for b_, c_ in zip(self.b.load, self.c.load))
        w(f"(c)/(b) throughput per round: {per_round}; by CPU per call (insensitive to other load): "
          f"(b)/(c) = {sb['us'] / sc['us']:.2f}")
        if max(sb["cpu_o"], sc["cpu_o"]) > 15:
            w(f"warning: other processes used up to {max(sb['cpu_o'], sc['cpu_o']):.0f}% of a CPU during the runs: "
              "the machine was not quiet; compare rounds")
        self.targets_met.append(_target(ratio >= 0.9, "throughput (c) >= 0.9 x (b), audit on", f"{ratio:.2f} x"))
        self.targets_met.append(_target(added <= 0.5, "added p50 latency at c=1 <= 0.5 ms over (a)", f"{added:+.3f} ms"))

        if hasattr(self, "routed"):
            rc_, rr = self.routed["c"], self.routed["r"]
            us_c, us_r = median([x.server_us_per_call for x in rc_]), median([x.server_us_per_call for x in rr])
            p_c, p_r = median([x.result.p50_ms for x in self.routed["c1"]]), median([x.result.p50_ms for x in self.routed["r1"]])
            rps_c, rps_r = median([x.result.rps for x in rc_]), median([x.result.rps for x in rr])
            per_round = ", ".join(f"{y.server_us_per_call - x.server_us_per_call:+.1f}" for x, y in zip(rc_, rr))
            w("")
            w(f"routes ({a.rounds_routes} alternating rounds, c={c} and c=1): (c) one backend vs (c50) 50 route rules "
              "over two backends (the mix's repository matches rule 48)")
            w(f"  (c)   {rps_c:9,.0f} req/s, {us_c:6.1f} us/call, c=1 p50 {p_c:.3f} ms")
            w(f"  (c50) {rps_r:9,.0f} req/s, {us_r:6.1f} us/call, c=1 p50 {p_r:.3f} ms")
            w(f"  added by routing: {us_r - us_c:+.1f} us of rcgate CPU per call (per round: {per_round}); "
              f"c=1 p50 {(p_r - p_c) * 1000:+.0f} us")
            routed_us, single_us = self.route_us
            w(f"  the routing step alone, in-process on the mix: {routed_us:.2f} us per call with the 50 rules, "
              f"{single_us:.2f} us with one backend ({routed_us - single_us:+.2f} us)")
            self.targets_met.append(_target(routed_us - single_us <= 10, "50 route rules add <= 10 us per call",
                                            f"{routed_us - single_us:+.2f} us in-process; {us_r - us_c:+.1f} us of "
                                            f"CPU per call under load"))

        if hasattr(self, "mem"):
            first, n1, last, n2, secs, qmax = self.mem
            growth = (last - first) / first * 100 if first else float("nan")
            w("")
            w(f"memory (rcgate, one process, audit on, c={c}): RSS {first / 1024:.1f} MiB after {n1:,} calls, "
              f"{last / 1024:.1f} MiB after {n2:,} calls ({growth:+.1f} %); {n2 / secs:,.0f} calls/s sustained; "
              f"audit queue at most {qmax:,.0f} records")
            reached = n2 >= self.args.memory_calls[1]
            self.targets_met.append(_target(
                reached and abs(growth) <= 5,
                f"RSS after {self.args.memory_calls[1]:,} calls within 5 % of after {self.args.memory_calls[0]:,}",
                f"{growth:+.1f} %" + ("" if reached else f" (only {n2:,} calls in {secs:.0f} s)")))

        if hasattr(self, "w"):
            t1, t2, nproc = self.w
            r1, r2 = median([r.result.rps for r in t1.load]), median([r.result.rps for r in t2.load])
            cpu1 = median([r.server_cpu for r in t1.load]) * 100
            cpu2 = median([r.server_cpu for r in t2.load]) * 100
            drv2 = median([r.driver_cpu + r.other_cpu for r in t2.load]) * 100
            w("")
            w(f"workers (unpinned, c={c}, {a.rounds_workers} alternating rounds): --workers 1 {r1:,.0f} req/s "
              f"(rcgate used {cpu1:.0f}% of a CPU), --workers 2 {r2:,.0f} req/s ({nproc} processes, {cpu2:.0f}%); "
              f"ratio {r2 / r1:.2f}")
            ceiling = (self.ncpu * 100 - drv2) / cpu1 if cpu1 else float("nan")
            w(f"  while --workers 2 ran, wrk + backend + other processes used {drv2:.0f}% of a CPU, leaving rcgate "
              f"{self.ncpu * 100 - drv2:.0f}% of the machine's {self.ncpu * 100}%")
            w(f"  so this machine's ceiling for the ratio is {ceiling:.2f} (CPU left to rcgate / CPU one worker used); "
              f"measured {r2 / r1 / ceiling * 100:.0f} % of it")
            self.targets_met.append(_target(r2 / r1 >= 1.7, "--workers 2 >= 1.7 x one worker", f"{r2 / r1:.2f} x"))
        elif hasattr(self, "workers_result"):
            w("")
            w(self.workers_result)
            self.targets_met.append(("n/a", "--workers 2 >= 1.7 x one worker", "workers: not available"))

        if hasattr(self, "kallithea_rows"):
            w("")
            w(f"real Kallithea 0.7.0, concurrency 1, {a.kallithea_calls} rounds per row, one call each way in rotating "
              f"order (medians, ms):")
            w(f"  {'':22s} {'':>8s} {'through rcgate':^23s} | {'added through':^19s} |")
            w(f"  {'call':22s} {'direct':>8s} {'ms':>8s} {'added':>7s} {'share':>6s} | {'(b)':>9s} {'(b2)':>9s} |"
              f" {'rcgate CPU':>10s} {'in-process':>10s}")
            worst = worst_b = 0.0
            for r in self.kallithea_rows:
                share = r.added / r.via * 100
                if r.label.endswith("get_user"):
                    worst = max(worst, share)
                    worst_b = max(worst_b, r.added_b / (r.direct + r.added_b) * 100)
                w(f"  {r.label:22s} {r.direct:8.2f} {r.via:8.2f} {r.added:+7.2f} {share:5.1f}% | {r.added_b:+9.2f}"
                  f" {r.added_b2:+9.2f} | {r.rcgate_cpu:10.2f} {r.in_process:10.2f}")
            w("  added = median of (through - direct) over rounds, wall clock; share = added / through rcgate: the")
            w("  target's measure. (b), (b2) = the bare proxies of the first table in front of Kallithea: what a proxy")
            w("  that does nothing adds here. rcgate CPU = all CPU time of the rcgate process per call (schedstat):")
            w("  aiohttp and translation on the call's path, the audit writer and timers off it; in-process = its")
            w("  handler's time outside the wait for Kallithea (its /metrics).")
            if hasattr(self, "idle_cost"):
                hot, cold = self.idle_cost
                w(f"  For scale: woken from idle, code runs slower on this machine. The fast backend (a) costs {hot:.0f} us of")
                w(f"  CPU per call back to back and {cold:.0f} us with 20 ms pauses ({cold / hot:.1f} x); rcgate costs "
                  f"{sc['us']:.0f} us per call under load (above).")
            self.targets_met.append(_target(worst <= 3, "rcgate <= 3 % of a get_user call's time (real Kallithea)",
                                            f"{worst:.1f} % (worst dialect; the bare proxy (b): {worst_b:.1f} %)"))
        if hasattr(self, "profile_text"):
            w("")
            w("profile of rcgate under load (py-spy --gil: samples of the thread holding the GIL, i.e. Python CPU time):")
            w("\n".join("  " + line for line in self.profile_text.splitlines()))
        w("")
        w("targets:")
        for status, title, value in self.targets_met:
            w(f"  [{status:^7s}] {title:55s} {value}")
        return "\n".join(out)

    # ----------------------------------------------------------------- main

    def run(self) -> int:
        a = self.args
        started = time.monotonic()
        if not wrk.wrk_path():
            print("bench: wrk not found; on Debian: apt-get install wrk (make bench installs it)", file=sys.stderr)
            return 2
        self.rcgate_cmd = rcgate_bin(a.rcgate)
        self.work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="rcgate-bench-"))
        self.work.mkdir(parents=True, exist_ok=True)
        log(f"work directory {self.work} (logs, audit files); rcgate: {self.rcgate_cmd}")
        try:
            self.setup()
            if not a.skip_memory:
                self.memory()
            self.side_by_side()
            if not a.skip_routes:
                self.routes()
            if a.profile:
                self.profile()
            self.audit_check()
            if not a.skip_workers:
                self.workers()
            if not a.skip_kallithea:
                try:
                    self.kallithea()
                except Exception as exc:  # report, keep the rest of the results
                    log(f"kallithea series failed: {exc}")
                    self.targets_met.append(("n/a", "rcgate <= 3 % of a get_user call's time (real Kallithea)",
                                             f"failed: {str(exc).splitlines()[0][:60]}"))
        finally:
            for proc in list(self.wrk_running):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.procs.stop_all()
        print(self.tables())
        if hasattr(self, "audit_summary"):
            print(self.audit_summary)
        print(f"\nbench took {time.monotonic() - started:.0f} s; logs in {self.work}")
        if not a.keep and not a.workdir:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0

    def audit_check(self) -> None:
        """Stop the measured rcgate (it writes every queued record) and count what it wrote."""
        rc = self.c.server
        answered = int(metrics(self.c.port).get("rcgate_calls_total", 0))
        self.procs.stop(rc)
        path = self.work / "rcgate.audit.jsonl"
        data = b"".join(p.read_bytes() for p in sorted(self.work.glob("rcgate.audit.jsonl*")))
        lines, ok = data.count(b"\n"), data.count(b'"outcome":"ok"')
        self.audit_summary = (f"audit ({path.name}): {lines:,} records for {answered:,} calls answered, "
                              f"{ok:,} with outcome ok")


def in_process_route_cost(config_path: Path, repeat: int = 20_000) -> tuple[float, float]:
    """(us per call with the 50 rules, us per call with one backend) of the routing step alone, on the mix:
    gateway.app.choose_route and the listing check, timed in this process (the wrk figures are noisier)."""
    from gateway import app as gw_app
    from gateway.audit import key_fingerprint
    from gateway.config import load_config

    out = []
    for config in (load_config(config_path), None):
        snap = gw_app.build_snapshot(config) if config else gw_app.build_snapshot(
            load_config(ROOT / "config.yaml").override(mappings=ROOT / "mappings"))
        work = []
        for _, path, body in calls.MIX:
            dialect = snap.mappings.dialects[path.split("/")[1] if path.count("/") > 2 else
                                             snap.detector.detect(body)]
            work.append((dialect, body["method"], body["args"], key_fingerprint(calls.KEY)))
        t0 = time.perf_counter()
        for _ in range(repeat):
            for dialect, method, args, fp in work:
                gw_app.choose_route(snap, dialect, method, args, fp)
        out.append((time.perf_counter() - t0) / (repeat * len(work)) * 1e6)
    return out[0], out[1]


@dataclass
class KallitheaRow:
    """One row of the Kallithea series: medians in ms."""

    label: str
    direct: float
    via: float  # through rcgate
    added: float  # through rcgate - direct
    added_b: float  # through the bare aiohttp proxy (b) - direct
    added_b2: float  # through the bare proxy on rcgate's client (b2) - direct
    in_process: float
    rcgate_cpu: float


def _target(met: bool, title: str, value: str) -> tuple[str, str, str]:
    return ("MET" if met else "NOT MET", title, value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--concurrency", type=int, default=32, help="connections for the load runs (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=6, help="length of each load run (default: %(default)s)")
    p.add_argument("--seconds-c1", type=float, default=4, help="length of each concurrency-1 run (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a), (b), (b2), (c) (default: %(default)s)")
    p.add_argument("--rounds-workers", type=int, default=2, help="alternating rounds of --workers 1 / 2 (default: %(default)s)")
    p.add_argument("--memory-calls", type=lambda s: tuple(int(x) for x in s.split(",")), default=(10_000, 200_000),
                   metavar="FIRST,LAST", help="calls after which RSS is read (default: 10000,200000)")
    p.add_argument("--memory-timeout", type=float, default=180, help="give up the memory run after S seconds (default: %(default)s)")
    p.add_argument("--kallithea-calls", type=int, default=150,
                   help="rounds per row against Kallithea, one call each way (default: %(default)s)")
    p.add_argument("--rounds-routes", type=int, default=4,
                   help="alternating rounds of (c) and the 50-route rcgate (default: %(default)s)")
    p.add_argument("--skip-memory", action="store_true", help="no memory run")
    p.add_argument("--skip-routes", action="store_true", help="no comparison with 50 route rules over two backends")
    p.add_argument("--skip-workers", action="store_true", help="no --workers comparison")
    p.add_argument("--skip-kallithea", action="store_true", help="no series against a real Kallithea")
    p.add_argument("--profile", action="store_true", help="also profile rcgate under load with py-spy and print a summary")
    p.add_argument("--profile-seconds", type=float, default=15, help="length of the profile (default: %(default)s)")
    p.add_argument("--profile-out", metavar="FILE", help="keep py-spy's raw profile (collapsed stacks) in FILE")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--rcgate", metavar="PATH", help="the rcgate executable (default: the one beside this Python)")
    p.add_argument("--workdir", metavar="DIR", help="keep logs and audit files in DIR (default: a temporary directory)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def on_term(signum, frame):  # stop like Ctrl-C: the finally clauses stop every process
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (`cmd &`)
    try:
        return Bench(args).run()
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started was stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
