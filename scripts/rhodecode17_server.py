#!/usr/bin/env python3
"""Start / stop a real RhodeCode 1.7.2 server on 127.0.0.1 (stdlib only).

Used by the test suite (``tests/conftest.py``, fixture ``rhodecode17``).

    python scripts/rhodecode17_server.py start --home DIR [--port N]
    python scripts/rhodecode17_server.py stop --home DIR

``start`` installs RhodeCode 1.7.2 if needed (``scripts/rhodecode17-install.sh``: Python 2.7,
cached under ~/.cache/rcgate), creates a fresh instance in DIR (new ini on 127.0.0.1, new
sqlite db, empty repos dir, no anonymous access, log level WARNING, TZ=UTC), gives the admin
and a second, non-admin user random 40-character API keys, starts ``paster serve`` detached
and waits until the JSON-RPC API answers.  It writes

    DIR/rhodecode17.env  KEY=VALUE lines: RHODECODE17_URL, RHODECODE17_API_URL,
                         RHODECODE17_ADMIN_KEY, RHODECODE17_USER_KEY, user names / passwords,
                         RHODECODE17_PID, RHODECODE17_HOME
    DIR/server.pid       the PID of the server (its own process group)
    DIR/server.log       the server's stdout + stderr

The API keys are only written to rhodecode17.env (mode 0600), never printed.
``stop`` terminates the server named in DIR/server.pid (SIGTERM, after 10 s SIGKILL).
Without a usable Python 2.7 both ``start`` and the install script exit with code 3.
RhodeCode needs ``git`` on PATH for git repositories.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
INSTALL_SCRIPT = SCRIPTS / "rhodecode17-install.sh"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
NO_PYTHON27 = 3            # exit code of the install script (and of `start`) without Python 2.7


def _log(msg: str) -> None:
    print(f"[rhodecode17-server] {msg}", file=sys.stderr, flush=True)


class Python27Missing(RuntimeError):
    """No usable Python 2.7 on this machine: RhodeCode 1.7.2 cannot be installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as waitress does: TIME_WAIT is ok
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def api_call(api_url: str, api_key: str, method: str, args: dict | None = None,
             timeout: float = 30.0) -> dict:
    """One JSON-RPC call; returns the decoded response object.

    RhodeCode 1.x URL-decodes the whole body before parsing it, so no value sent here may
    contain '+' or '%'.  The body goes as text/plain, as RhodeCode's own clients send it."""
    body = json.dumps({"id": 1, "api_key": api_key, "method": method,
                       "args": args or {}}).encode()
    req = urllib.request.Request(api_url, body, {"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.load(res)


def configure_ini(text: str, port: int) -> str:
    """The ini of `paster make-config`, made ours: port, no debug, every logger and handler
    at WARNING (INFO would log each SQL statement with its parameters, DEBUG each API call's
    arguments)."""
    text, n = re.subn(r"(?m)^port = \d+$", f"port = {port}", text)
    if n != 1:
        raise RuntimeError("could not set the port in the generated ini")
    if not re.search(r"(?m)^host = 127\.0\.0\.1$", text):
        raise RuntimeError("the generated ini does not listen on 127.0.0.1")
    if not re.search(r"(?m)^sqlalchemy\.db1\.url = sqlite:", text):
        raise RuntimeError("the generated ini is not on sqlite")
    text = re.sub(r"(?m)^debug = true$", "debug = false", text)
    # the views scripts download with ?api_key= (the 1.7 ini's recommended list, commented out there)
    text, n = re.subn(r"(?m)^api_access_controllers_whitelist =\s*$",
                      "api_access_controllers_whitelist = ChangesetController:changeset_patch, "
                      "ChangesetController:changeset_raw, FilesController:raw, FilesController:rawfile, "
                      "FilesController:archivefile", text)
    if n != 1:
        raise RuntimeError("could not set api_access_controllers_whitelist in the generated ini")
    out, section = [], ""
    for line in text.splitlines(keepends=True):
        m = re.match(r"\[(.+)\]\s*$", line)
        if m:
            section = m.group(1)
        elif section.startswith(("logger_", "handler_")) and re.match(r"level\s*=", line):
            line = "level = WARNING\n"
        out.append(line)
    return "".join(out)


@dataclasses.dataclass
class RhodeCode17Server:
    home: Path | None = None
    port: int | None = None
    url: str = ""
    api_url: str = ""
    admin_username: str = "admin"
    admin_password: str = "Adm1nPass"
    admin_email: str = "admin@example.com"
    admin_key: str = dataclasses.field(default="", repr=False)
    user_username: str = "user1"
    user_password: str = "Us3rPass1"
    user_email: str = "user1@example.com"
    user_key: str = dataclasses.field(default="", repr=False)
    pid: int | None = None
    venv: Path | None = None
    _proc: subprocess.Popen | None = dataclasses.field(default=None, repr=False)

    # ------------------------------------------------------------------ start
    def start(self, home: Path | str | None = None, port: int | None = None) -> "RhodeCode17Server":
        if home is not None:
            self.home = Path(home)
        if self.home is None:
            raise ValueError("home directory required")
        if port is not None:
            self.port = port
        self.home = self.home.resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} on 127.0.0.1 is already in use")
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/_admin/api"
        self.admin_key = secrets.token_hex(20)
        self.user_key = secrets.token_hex(20)

        t0 = time.monotonic()
        self.venv = self._install()
        t1 = time.monotonic()
        self._create_instance()
        t2 = time.monotonic()
        self._serve()
        try:
            self._wait_ready()
            t3 = time.monotonic()
            self._create_user()
        except BaseException:
            self.stop()
            raise
        _log(f"install {t1 - t0:.1f} s, instance {t2 - t1:.1f} s, "
             f"server up {t3 - t2:.1f} s, user {time.monotonic() - t3:.1f} s")
        return self

    def _install(self) -> Path:
        # stderr is passed on line by line (and its end kept for the reason of a failure);
        # stdout's last line is the venv path
        proc = subprocess.Popen(["bash", str(INSTALL_SCRIPT)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        err_tail: list[str] = []
        assert proc.stderr and proc.stdout
        for line in proc.stderr:
            sys.stderr.write(line)
            err_tail = (err_tail + [line.rstrip("\n")])[-5:]
        out = proc.stdout.read()
        rc = proc.wait()
        if rc == NO_PYTHON27:
            reason = err_tail[-1] if err_tail else "no usable Python 2.7"
            raise Python27Missing(reason.removeprefix("[rhodecode17-install] "))
        if rc != 0:
            raise RuntimeError(f"{INSTALL_SCRIPT.name} failed (exit {rc})")
        lines = [ln for ln in out.splitlines() if ln.strip()]
        venv = Path(lines[-1].strip()) if lines else None
        if venv is None or not (venv / "bin" / "paster").exists():
            raise RuntimeError(f"{INSTALL_SCRIPT.name} printed no usable venv path: {out!r}")
        return venv

    def _env(self) -> dict:
        env = dict(os.environ, TZ="UTC", PYTHONHASHSEED="0")   # 0: Python 2's fixed hash order
        for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONWARNINGS"):
            env.pop(var, None)
        env["PATH"] = f"{self.venv}/bin:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    def _create_instance(self) -> None:
        assert self.home and self.venv
        paster = str(self.venv / "bin" / "paster")
        inst, repos = self.home / "instance", self.home / "repos"
        for d in (inst, repos):
            if d.exists():
                subprocess.run(["rm", "-rf", str(d)], check=True)
            d.mkdir(parents=True)
        log = self.home / "create.log"
        with open(log, "w") as out:
            def run(*cmd: str) -> None:
                r = subprocess.run([paster, *cmd], cwd=inst, env=self._env(), stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                if r.returncode != 0:
                    raise RuntimeError(f"paster {cmd[0]} failed:\n{_tail(log)}")
            run("make-config", "RhodeCode", "production.ini")
            ini = inst / "production.ini"
            ini.write_text(configure_ini(ini.read_text(), self.port))
            # --force-yes answers every question; --no-public-access: the anonymous
            # `default` user is created inactive
            run("setup-rhodecode", "production.ini", f"--user={self.admin_username}",
                f"--password={self.admin_password}", f"--email={self.admin_email}",
                f"--repos={repos}", "--force-yes", "--no-public-access")
        self._set_api_key(self.admin_username, self.admin_key)

    def _set_api_key(self, username: str, key: str) -> None:
        """users.api_key is plain text in RhodeCode 1.7.2 and looked up per request, so a
        committed update is seen by the running server."""
        assert self.home
        con = sqlite3.connect(self.home / "instance" / "rhodecode.db", timeout=30)
        try:
            n = con.execute("UPDATE users SET api_key=? WHERE username=?",
                            (key, username)).rowcount
            con.commit()
        finally:
            con.close()
        if n != 1:
            raise RuntimeError(f"user {username!r} not found in rhodecode.db")

    def _serve(self) -> None:
        assert self.home and self.venv
        inst = self.home / "instance"
        with open(self.home / "server.log", "ab") as log:
            self._proc = subprocess.Popen(
                [str(self.venv / "bin" / "paster"), "serve", "production.ini"],
                cwd=inst, env=self._env(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._proc.pid
        (self.home / "server.pid").write_text(f"{self.pid}\n")

    def _poll_dead(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is not None
        return self.pid is None or not _alive(self.pid)

    def _wait_ready(self) -> None:
        assert self.home
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._poll_dead():
                raise RuntimeError("RhodeCode server died during start; tail of "
                                   f"{self.home / 'server.log'}:\n{_tail(self.home / 'server.log')}")
            try:
                res = api_call(self.api_url, self.admin_key, "get_user", timeout=5)
            except (OSError, ValueError):
                time.sleep(0.2)
                continue
            if (res.get("result") or {}).get("username") == self.admin_username:
                return
            raise RuntimeError(f"unexpected answer from get_user: error={res.get('error')!r}")
        raise RuntimeError(f"RhodeCode did not answer within {START_TIMEOUT:.0f} s; tail of "
                           f"server.log:\n{_tail(self.home / 'server.log')}")

    def _create_user(self) -> None:
        res = api_call(self.api_url, self.admin_key, "create_user", {
            "username": self.user_username, "email": self.user_email,
            "password": self.user_password, "firstname": "Test", "lastname": "User",
            "active": True, "admin": False})
        if res.get("error"):
            raise RuntimeError(f"create_user failed: {res['error']}")
        self._set_api_key(self.user_username, self.user_key)
        res = api_call(self.api_url, self.user_key, "get_user")
        got = res.get("result") or {}
        if got.get("username") != self.user_username or got.get("admin") is not False:
            raise RuntimeError(f"user key not effective: error={res.get('error')!r}")

    # ------------------------------------------------------------------- stop
    def stop(self) -> None:
        """SIGTERM the server (its whole process group), SIGKILL after 10 s. Idempotent."""
        pid, self.pid = self.pid, None
        proc, self._proc = self._proc, None
        if pid is None:
            return

        def signal_it(sig: int) -> None:
            try:
                os.killpg(pid, sig)          # we made it a session / group leader
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

        def gone() -> bool:
            if proc is not None:
                return proc.poll() is not None
            return not _alive(pid)

        if not gone():
            signal_it(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline and not gone():
                time.sleep(0.1)
            if not gone():
                signal_it(signal.SIGKILL)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not gone():
                    time.sleep(0.1)
        if self.home is not None:
            pidfile = self.home / "server.pid"
            try:
                if pidfile.read_text().strip() == str(pid):
                    pidfile.unlink()
            except OSError:
                pass

    # ------------------------------------------------------------- env file
    def env(self) -> dict[str, str]:
        return {
            "RHODECODE17_URL": self.url,
            "RHODECODE17_API_URL": self.api_url,
            "RHODECODE17_ADMIN_USER": self.admin_username,
            "RHODECODE17_ADMIN_PASSWORD": self.admin_password,
            "RHODECODE17_ADMIN_KEY": self.admin_key,
            "RHODECODE17_USER_USER": self.user_username,
            "RHODECODE17_USER_PASSWORD": self.user_password,
            "RHODECODE17_USER_KEY": self.user_key,
            "RHODECODE17_PID": str(self.pid or ""),
            "RHODECODE17_HOME": str(self.home or ""),
            "RHODECODE17_VENV": str(self.venv or ""),
        }

    def summary(self) -> str:
        return (f"RhodeCode 1.7.2 at {self.url} (pid {self.pid}, home {self.home}); "
                f"admin={self.admin_username} user={self.user_username}; "
                f"keys in {self.home / 'rhodecode17.env' if self.home else '?'}")


# ----------------------------------------------------------------------- CLI
def _is_our_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return _alive(pid)           # no /proc: trust the PID file
    return "paster" in cmdline and "serve" in cmdline


def _cmd_start(a: argparse.Namespace) -> int:
    home = Path(a.home).resolve()
    pidfile = home / "server.pid"
    if pidfile.exists():
        try:
            old = int(pidfile.read_text().strip())
        except ValueError:
            old = 0
        if old and _alive(old) and _is_our_server(old):
            _log(f"a server is already running (pid {old}); run `stop --home {a.home}` first")
            return 1
    srv = RhodeCode17Server(home=home, port=a.port)
    srv.start()
    srv._proc = None                         # detach: leave it running after we exit
    envfile = home / "rhodecode17.env"
    fd = os.open(envfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)                     # also when the file existed with other bits
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k}={v}\n" for k, v in srv.env().items())
    print(srv.summary(), flush=True)
    return 0


def _cmd_stop(a: argparse.Namespace) -> int:
    home = Path(a.home).resolve()
    pidfile = home / "server.pid"
    if not pidfile.exists():
        _log(f"no {pidfile}; nothing to stop")
        return 0
    try:
        pid = int(pidfile.read_text().strip())
    except ValueError:
        pid = 0
    if not pid or not _alive(pid):
        _log(f"pid {pid or '?'} is not running; removing stale {pidfile}")
    elif not _is_our_server(pid):
        _log(f"pid {pid} is not a paster server any more; removing stale {pidfile}")
    else:
        RhodeCode17Server(home=home, pid=pid).stop()
        _log(f"stopped pid {pid}")
    pidfile.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="rhodecode17_server.py", description=__doc__.split("\n\n")[0],
        epilog="start writes DIR/rhodecode17.env (URL, API keys, users), DIR/server.pid and "
               "DIR/server.log and leaves the server running; stop kills the PID in "
               "DIR/server.pid (SIGTERM, then SIGKILL after 10 s). Exit code 3: no Python 2.7.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="install if needed, create a fresh instance in DIR, start it")
    s.add_argument("--home", required=True, metavar="DIR", help="instance directory (recreated)")
    s.add_argument("--port", type=int, default=None, help="TCP port (default: a free one)")
    s.set_defaults(func=_cmd_start)
    t = sub.add_parser("stop", help="stop the server started with --home DIR")
    t.add_argument("--home", required=True, metavar="DIR")
    t.set_defaults(func=_cmd_stop)
    a = p.parse_args(argv)
    try:
        return a.func(a)
    except Python27Missing as e:
        _log(f"skipped: {e}")
        return NO_PYTHON27
    except RuntimeError as e:
        _log(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
