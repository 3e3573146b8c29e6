"""Command line: `rcgate serve | check | translate | audit | shadow | credentials`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import ConfigError, load_config
from .mapping.loader import DIALECTS, MappingError

DESCRIPTION = """\
rcgate is a drop-in /_admin/api endpoint for scripts written against RhodeCode 1.x,
Kallithea or modern RhodeCode. It rewrites every call through the mapping files into
one canonical call, sends it to the backend in the backend's own dialect, rewrites
the answer back into the caller's dialect, and writes one audit line per call."""


CHECK_DESCRIPTION = """\
Validate every mapping file, look for dead rules, and print a coverage table:
for each dialect, every method it documents (mappings/documented.yaml) is
`mapped` (to which canonical method, and which method a kallithea or rhodecode
backend receives, or why that backend cannot serve it), `unsupported (reason)`
or `missing`.

Exit 1 when a file is invalid, a documented method is missing, or a rule is dead:
an alias, rename, `absent` or `values` entry naming an argument the method does
not have (or has listed absent); an object rule for a type no mapped method
answers with; a converter on a field the same rule renames or drops; a `fetch`
into a method or with arguments that do not exist; a converter no file uses.
Problems are printed to standard error as FILE: KEY: MESSAGE.

Regenerate the committed table with:
    rcgate check --markdown > docs/coverage.md"""

TRANSLATE_DESCRIPTION = """\
Dry-run one JSON-RPC request through the mapping files, offline: nothing is sent.
Prints the canonical call and the call the backend would receive (key redacted).
The request needs a key field, as the gateway does; its value is never printed.

With --response, the input is instead the backend's answer to the caller's
--method: a JSON-RPC response body {"id", "result", "error"} or a bare result
(e.g. "Pulled from `r`" for pull). Prints the canonical result and the result
the caller gets. A `fetch:` read is not performed offline (the field stays null).

An error (bad JSON, unknown method, missing argument, unsupported method or
argument, a backend error) is printed as the JSON-RPC answer the caller would
get, and the exit code is 1.

examples:
  echo '{"id":1,"api_key":"k","method":"get_users_group","args":{"usersgroupid":"devs"}}' \\
    | rcgate translate --from rhodecode1 --backend kallithea --explain
  echo '"Pulled from `r`"' | rcgate translate --from rhodecode1 --backend rhodecode --response --method pull"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rcgate", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the gateway",
        description="Run the gateway. Flags override the values of the config file.",
    )
    serve.add_argument("--config", default="config.yaml", type=Path, help="config file (default: %(default)s)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on, e.g. 127.0.0.1:8080")
    serve.add_argument("--backend-url", metavar="URL", help="the backend's base URL; its API is at URL/_admin/api")
    serve.add_argument("--backend-dialect", choices=list(DIALECTS),
                       help="what the one backend speaks (with `backends:` in the config, each says it there)")
    serve.add_argument(
        "--inbound-dialect",
        choices=["auto", *DIALECTS],
        help="dialect served at /_admin/api (auto: detect per call; see the README)",
    )
    serve.add_argument("--audit-log", metavar="PATH", help="audit log file, or - for standard output")
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="processes sharing the port (SO_REUSEPORT); each writes its own audit file (default: 1)",
    )
    serve.epilog = ("Signals: SIGTERM/SIGINT stop accepting, finish in-flight calls, write every queued audit "
                    "record, then exit. SIGHUP re-reads the config file and the mappings; a bad file is refused "
                    "and the previous set keeps serving.")
    serve.set_defaults(run=_serve)

    check = sub.add_parser(
        "check",
        help="validate the mapping files and report what each dialect maps",
        description=CHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--mappings", type=Path, metavar="DIR", help="mapping directory (default: mappings, or the "
                       "config's)")
    check.add_argument("--config", type=Path, metavar="FILE",
                       help="also check this config's routes and credential maps against the mappings")
    check.add_argument(
        "--markdown",
        action="store_true",
        help="print the coverage table as Markdown (problems still go to standard error)",
    )
    check.set_defaults(run=_check)

    translate = sub.add_parser(
        "translate",
        help="dry-run one call (or one answer) through the mappings, offline",
        description=TRANSLATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    translate.add_argument(
        "file", nargs="?", default="-", metavar="FILE",
        help="the JSON-RPC request (with --response: the backend's answer); default or -: standard input",
    )
    translate.add_argument(
        "--from", dest="from_dialect", required=True, metavar="DIALECT",
        help=f"the caller's dialect: {', '.join(DIALECTS)}, an older version the mapping files declare "
             "(rhodecode1@1.3), or auto (detect it as /_admin/api does, falling back to kallithea)",
    )
    translate.add_argument(
        "--backend", choices=list(DIALECTS), help="the dialect the backend speaks (or --config: its routes decide)"
    )
    translate.add_argument(
        "--config", type=Path, metavar="FILE",
        help="a config file: its routes choose the backend (and its dialect), and --explain shows which rule matched "
             "and why; its mappings directory is used unless --mappings is given",
    )
    translate.add_argument("--explain", action="store_true", help="list every rule applied and the file and key declaring it")
    translate.add_argument(
        "--response", action="store_true",
        help="the input is the backend's answer (a JSON-RPC response or a bare result) to --method",
    )
    translate.add_argument("--method", metavar="NAME", help="with --response: the method the caller called, as the caller names it")
    translate.add_argument("--mappings", type=Path, metavar="DIR", help="mapping directory (default: mappings)")
    translate.set_defaults(run=_translate)
    _add_audit_parser(sub)
    _add_shadow_parser(sub)
    _add_credentials_parser(sub)
    return parser


CREDENTIALS_DESCRIPTION = """\
Manage a backend's credential map (the file named by `backends.NAME.credentials`):
for a caller's key, the key rcgate sends to that backend instead. The map holds
the SHA-256 of each caller key, never the key itself.

`add` reads two lines from standard input: the caller's key (as the scripts send
it) and the key to send instead (or env:NAME, read from the environment when
rcgate starts). On a terminal it asks for both without echoing them. Keys are
never read from the command line, where other users could see them.

The file is written readable by its owner only (rcgate refuses any other mode).
Send SIGHUP to a running rcgate to use the new map.

example:
  printf '%s\n%s\n' "$OLD_KEY" "$NEW_KEY" | rcgate credentials add --file credentials/new.yaml"""


def _add_credentials_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    creds = sub.add_parser("credentials", help="manage the credential map of a backend",
                           description=CREDENTIALS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    creds_sub = creds.add_subparsers(dest="credentials_command", metavar="COMMAND", required=True)
    add = creds_sub.add_parser("add", help="map a caller's key to the key this backend accepts (keys from stdin)",
                               description=CREDENTIALS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--file", type=Path, required=True, metavar="PATH", help="the credential map (created if missing)")
    add.set_defaults(run=_credentials_add)


def _credentials_add(args: argparse.Namespace) -> int:
    from .credentials import CredentialError, add_entry, read_two_keys, stdin_is_terminal

    try:
        old, new = read_two_keys(sys.stdin, interactive=stdin_is_terminal())
        replaced = add_entry(args.file, old, new)
    except CredentialError as exc:
        print(f"rcgate credentials: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"rcgate credentials: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"{args.file}: {'replaced the entry' if replaced else 'added an entry'} for that caller key")
    return 0


SHADOW_REPORT_DESCRIPTION = """\
Summarise a diff log (the `shadow_log:` of a config, or what `rcgate shadow replay`
wrote): per canonical method, the calls compared, the share that was equal, the
failed ones (shadow down or too slow), and every path where the two instances
differed, with in how many calls and one example. List items are shown by their
key: `$.users[username=john].email` is counted under `$.users[*].email`. The
per-worker files of `rcgate serve --workers N` (NAME.w1.EXT, ...) beside a given
LOG are read with it.

With --max-diff-rate R the exit code is 1 when any method differed in more than R
of its compared calls (0.0 - 1.0), so that a cut-over can wait for a clean report:
    rcgate shadow report shadow-diff.jsonl --max-diff-rate 0.01 && ./move-next-wave"""

SHADOW_REPLAY_DESCRIPTION = """\
Replay the reads recorded in audit logs against two backends of a config, offline,
and write their comparison to a diff log (read it with `rcgate shadow report`).
Rotated and per-worker audit files beside a given AUDIT_LOG are read with it.
Each read is sent as its canonical call to both backends (through their credential
maps) with the key read from standard input (one line; prompted without echo on a
terminal), the same key for every call. Writes, reads whose answer is about the
instance itself (canonical.yaml `compare.not_compared`) and calls whose recorded
arguments were redacted are skipped.

example:
    rcgate shadow replay run/audit.jsonl --config bridge.yaml --primary old --shadow new \\
        --out replay-diff.jsonl < admin.key
    rcgate shadow report replay-diff.jsonl"""


def _add_shadow_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    shadow = sub.add_parser(
        "shadow", help="compare two instances: report a diff log, replay an audit log",
        description="The shadow diff: evidence that a new instance answers like the old one. Routes with "
                    "`shadow:` write a diff log as traffic flows; these commands read it or make one.",
    )
    shadow_sub = shadow.add_subparsers(dest="shadow_command", metavar="COMMAND", required=True)
    report = shadow_sub.add_parser("report", help="per method: calls compared, share equal, differing paths",
                                   description=SHADOW_REPORT_DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("paths", nargs="+", type=Path, metavar="LOG", help="diff log file(s)")
    report.add_argument("--json", action="store_true", help="the summary as one JSON object")
    report.add_argument("--max-diff-rate", type=float, metavar="R",
                        help="exit 1 when a method differs in more than R (0.0 - 1.0) of its compared calls")
    report.set_defaults(run=_shadow_report)
    replay = shadow_sub.add_parser("replay", help="replay an audit log's reads against two backends",
                                   description=SHADOW_REPLAY_DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("paths", nargs="+", type=Path, metavar="AUDIT_LOG", help="audit log file(s)")
    replay.add_argument("--config", type=Path, required=True, metavar="FILE", help="the config naming both backends")
    replay.add_argument("--primary", required=True, metavar="NAME", help="the backend answering as before")
    replay.add_argument("--shadow", required=True, metavar="NAME", help="the backend compared with it")
    replay.add_argument("--out", type=Path, required=True, metavar="LOG", help="the diff log to append to")
    replay.add_argument("--noise-check", action="store_true",
                        help="ask the primary twice: what differs between its own answers is noise")
    replay.add_argument("--limit", type=int, metavar="N", help="replay at most N calls")
    replay.set_defaults(run=_shadow_replay)


def _shadow_report(args: argparse.Namespace) -> int:
    import json

    from . import shadow_report as sr
    from .audit_report import records

    from .audit_report import expand

    missing = [str(p) for p in args.paths if not expand([p])]
    if missing:
        print(f"rcgate shadow report: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.max_diff_rate is not None and not 0.0 <= args.max_diff_rate <= 1.0:
        print("rcgate shadow report: --max-diff-rate is a share, 0.0 - 1.0", file=sys.stderr)
        return 2
    summary = sr.summarize(records(expand(args.paths)))  # with the per-worker files beside each
    print(json.dumps(sr.as_json(summary), indent=2) if args.json else sr.format_text(summary), end="\n" if args.json else "")
    if args.max_diff_rate is not None:
        over = sr.over_rate(summary, args.max_diff_rate)
        for s in over:
            print(f"rcgate shadow report: {s.method} differs in {s.different} of {s.compared} calls "
                  f"({s.diff_rate:.1%}), over {args.max_diff_rate:.1%}", file=sys.stderr)
        return 1 if over else 0
    return 0


def _shadow_replay(args: argparse.Namespace) -> int:
    import asyncio

    from . import shadow_report as sr
    from .app import build_snapshot
    from .credentials import CredentialError, stdin_is_terminal
    from .shadow import DiffLog

    try:
        config = load_config(args.config)
        snapshot = build_snapshot(config)
    except (ConfigError, MappingError, CredentialError) as exc:
        print(f"rcgate shadow replay: {exc}", file=sys.stderr)
        return 2
    for name in (args.primary, args.shadow):
        if name not in snapshot.targets:
            print(f"rcgate shadow replay: no backend named `{name}` in {args.config} (backends: "
                  f"{', '.join(snapshot.targets)})", file=sys.stderr)
            return 2
    from .audit_report import expand

    missing = [str(p) for p in args.paths if not expand([p])]
    if missing:
        print(f"rcgate shadow replay: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if stdin_is_terminal():
        import getpass

        key = getpass.getpass("key to replay the calls with: ").strip()
    else:
        key = sys.stdin.readline().strip()
    if not key:
        print("rcgate shadow replay: no key on standard input (one line)", file=sys.stderr)
        return 2
    out = DiffLog(args.out, frozenset(config.audit_redact))
    try:
        counts = asyncio.run(sr.replay(expand(args.paths), snapshot, args.primary, args.shadow, key, out,
                                       noise_check=args.noise_check, limit=args.limit))
    finally:
        out.close()
    print(f"replayed {counts['replayed']} of {counts['read']} calls: {counts['equal']} equal, {counts['different']} "
          f"different, {counts['failed']} failed, {counts['skipped']} skipped; diff log: {args.out}")
    return 0


def _add_audit_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    audit = sub.add_parser(
        "audit",
        help="read the audit log: usage report, live tail",
        description="Read rcgate's audit log (JSON lines). Rotated files (PATH.1, PATH.2, ...) and per-worker "
                    "files (NAME.w1.EXT, ...) beside a given PATH are read too.",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    report = audit_sub.add_parser(
        "report",
        help="calls per caller x dialect x method: the list for retiring legacy scripts",
        description="Summarise audit logs per caller (key fingerprint) x dialect x method: calls, errors, "
                    "last seen.",
    )
    report.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audit log file(s)")
    report.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")
    report.set_defaults(run=_audit_report)
    tail = audit_sub.add_parser(
        "tail",
        help="follow an audit log, with filters",
        description="Print audit records as they are written (follows rotation). Filters combine with AND.",
    )
    tail.add_argument("path", type=Path, metavar="PATH", help="audit log file")
    tail.add_argument("--dialect", choices=list(DIALECTS), help="only calls in this inbound dialect (its older versions included)")
    tail.add_argument("--method", help="only calls of this method (as the caller named it)")
    tail.add_argument("--caller", metavar="FINGERPRINT", help="only calls with this key fingerprint")
    tail.add_argument("--outcome", choices=["ok", "error"], help="only successful or failed calls")
    tail.add_argument("--json", action="store_true", help="print the JSON records instead of table rows")
    tail.add_argument("--existing", action="store_true", help="print the matching records already in the file first")
    tail.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    tail.set_defaults(run=_audit_tail)


def _audit_report(args: argparse.Namespace) -> int:
    import json

    from . import audit_report as ar

    missing = [str(p) for p in args.paths if not ar.expand([p])]
    if missing:
        print(f"rcgate audit report: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    usage = ar.report(ar.records(ar.expand(args.paths)))
    if args.json:
        for u in usage:
            print(json.dumps(u.__dict__))
    else:
        print(ar.report_table(usage) if usage else "no calls recorded")
    return 0


def _audit_tail(args: argparse.Namespace) -> int:
    import json

    from . import audit_report as ar

    filters = {k: getattr(args, k) for k in ar.FILTERS}
    show = (lambda r: print(json.dumps(r), flush=True)) if args.json else (lambda r: print(ar.tail_line(r), flush=True))
    if not args.json:
        print("  ".join(ar.TAIL_COLUMNS), flush=True)
    try:
        if args.existing and args.path.exists():
            for record in ar.records([args.path]):
                if ar.matches(record, filters):
                    show(record)
        for record in ar.follow(args.path, stop_after=args.seconds):
            if ar.matches(record, filters):
                show(record)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args)


def _serve(args: argparse.Namespace) -> int:
    from .server import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s rcgate %(levelname)s %(message)s", stream=sys.stderr)
    try:
        overrides = dict(listen=args.listen, backend_url=args.backend_url, backend_dialect=args.backend_dialect,
                         inbound_dialect=args.inbound_dialect, audit_path=args.audit_log)
        config = load_config(args.config).override(**overrides)
        if args.workers < 1:
            raise ConfigError("--workers must be 1 or more")
        return run(config, lambda: load_config(args.config).override(**overrides), workers=args.workers)
    except (ConfigError, MappingError) as exc:
        print(f"rcgate: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    from .check import Problem, check_mappings, render_markdown, render_problems, render_text

    config = None
    if args.config is not None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"rcgate check: {exc}", file=sys.stderr)
            return 1
    report = check_mappings(args.mappings or (config.mappings if config else Path("mappings")))
    if config is not None and report.ok:
        from .check_routes import check_routes
        from .mapping.engine import compile_mappings
        from .mapping.loader import load_mappings

        report.problems.extend(check_routes(config, compile_mappings(load_mappings(report.directory))))
    elif config is not None:
        report.problems.append(Problem(str(args.config), "routes", "not checked: the mappings have problems"))
    if report.coverage:
        print(render_markdown(report) if args.markdown else render_text(report), end="" if args.markdown else "\n")
    for line in render_problems(report):
        print(line, file=sys.stderr)
    if not args.markdown:
        print(f"{len(report.problems)} problem(s)" if report.problems else "ok: no problems")
    return 0 if report.ok else 1


def _translate(args: argparse.Namespace) -> int:
    from . import translate

    if args.response and not args.method:
        print("rcgate translate: --response needs --method NAME (the caller's method)", file=sys.stderr)
        return 2
    if (args.backend is None) == (args.config is None):
        print("rcgate translate: give --backend DIALECT or --config FILE (whose routes choose the backend)",
              file=sys.stderr)
        return 2
    if args.config is not None and args.response:
        print("rcgate translate: --response takes --backend DIALECT (the backend that answered)", file=sys.stderr)
        return 2
    config = None
    try:
        if args.config is not None:
            config = load_config(args.config)
        mappings = translate.load(args.mappings or (config.mappings if config else Path("mappings")))
    except (ConfigError, MappingError) as exc:
        print(f"rcgate translate: {exc}", file=sys.stderr)
        return 2
    if args.from_dialect != "auto" and args.from_dialect not in mappings.dialects:
        print(f"rcgate translate: --from {args.from_dialect}: no such dialect (the mapping files have: "
              f"{', '.join(mappings.dialects)}, or auto)", file=sys.stderr)
        return 2
    try:
        body = sys.stdin.buffer.read() if str(args.file) == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"rcgate translate: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.response:
        result = translate.translate_response(
            body, method=args.method, dialect=args.from_dialect, backend=args.backend, mappings=mappings
        )
        sys.stdout.write(translate.format_response(result, explain=args.explain))
        return 0 if result["ok"] else 1
    routed = None
    if config is not None:
        routed = translate.route_request(body, dialect=args.from_dialect, config=config, mappings=mappings)
    result = translate.translate_request(body, dialect=args.from_dialect, mappings=mappings,
                                         backend=routed["dialect"] if routed else args.backend)
    if routed is not None:
        translate.explain_route(result, routed, str(args.config))
    sys.stdout.write(translate.format_request(result, explain=args.explain))
    return 0 if result["ok"] else 1
