"""Command line: `rcgate serve | check`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import ConfigError, load_config
from .mapping.loader import DIALECTS, MappingError, load_mappings

DESCRIPTION = """\
rcgate is a drop-in /_admin/api endpoint for scripts written against RhodeCode 1.x,
Kallithea or modern RhodeCode. It rewrites every call through the mapping files into
one canonical call, sends it to the backend in the backend's own dialect, rewrites
the answer back into the caller's dialect, and writes one audit line per call."""


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
    serve.add_argument("--backend-dialect", choices=["kallithea", "rhodecode"], help="what the backend speaks")
    serve.add_argument(
        "--inbound-dialect",
        choices=["auto", *DIALECTS],
        help="dialect served at /_admin/api (auto: detect per call; see the README)",
    )
    serve.add_argument("--audit-log", metavar="PATH", help="audit log file, or - for standard output")
    serve.set_defaults(run=_serve)

    check = sub.add_parser(
        "check",
        help="validate the mapping files",
        description="Validate every mapping file and report what each dialect maps. Exit 1 on any problem.",
    )
    check.add_argument("--mappings", default="mappings", type=Path, help="mapping directory (default: %(default)s)")
    check.set_defaults(run=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def _serve(args: argparse.Namespace) -> int:
    from .server import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s rcgate %(levelname)s %(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config).override(
            listen=args.listen,
            backend_url=args.backend_url,
            backend_dialect=args.backend_dialect,
            inbound_dialect=args.inbound_dialect,
            audit_path=args.audit_log,
        )
        return run(config)
    except (ConfigError, MappingError) as exc:
        print(f"rcgate: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    try:
        spec = load_mappings(args.mappings)
    except MappingError as exc:
        print(f"rcgate check: {exc}", file=sys.stderr)
        return 1
    for name, dialect in spec.dialects.items():
        methods = dialect["methods"]
        unsupported = sum(1 for m in methods.values() if "unsupported" in m)
        print(f"{name:<11} {len(methods) - unsupported:>3} methods mapped, {unsupported:>3} unsupported")
    print(f"canonical   {len(spec.canonical['methods']):>3} methods")
    return 0
