"""Subprocesses of the bench: started in their own session, optionally pinned to
CPUs, measured through /proc (CPU time, resident memory, whole process tree), and
stopped by PID (SIGTERM to the process group, SIGKILL after a grace period)."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    kids = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def run_ns(pid: int) -> int:
    """Nanoseconds on a CPU, all threads (schedstat: exact, where /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        pass
    return total


def cpu_busy() -> dict[int, float]:
    """Busy seconds of each CPU since boot (everything but idle and iowait)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals]
                out[int(name[3:])] = (sum(v[:8]) - v[3] - v[4]) / CLK_TCK
    return out


class Proc:
    def __init__(self, name: str, cmd: list[str], log: Path, cpus: set[int] | None = None,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.name, self.cmd, self.log, self.cpus = name, cmd, log, cpus
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                start_new_session=True,  # its own process group: stopping it stops its workers too
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pids(self) -> list[int]:
        return tree(self.pid) if self.alive() else []

    def rss_kb(self) -> int:
        return sum(rss_kb(p) for p in self.pids())

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids())

    def run_ns(self) -> int:
        return sum(run_ns(p) for p in self.pids())

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return
            except PermissionError:
                self.popen.send_signal(sig)
            try:
                self.popen.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def wait_http(self, port: int, path: str, method: str = "GET", body: bytes | None = None,
                  timeout: float = 30.0) -> None:
        """Until anything on 127.0.0.1:port answers HTTP 200 at `path`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited (code {self.popen.returncode}); log {self.log}:\n{self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request(method, path, body)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer on port {port} within {timeout:.0f} s; log {self.log}:\n{self.tail()}")


class Procs:
    """Every process the bench started, stopped in reverse order at the end (also on Ctrl-C or failure)."""

    def __init__(self) -> None:
        self.items: list[Proc] = []
        self.finalizers: list = []

    def start(self, *args, **kwargs) -> Proc:
        proc = Proc(*args, **kwargs)
        self.items.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        while self.items:
            self.items.pop().stop()
        while self.finalizers:
            try:
                self.finalizers.pop()()
            except Exception as exc:  # keep stopping the rest
                print(f"bench: cleanup: {exc}", flush=True)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
