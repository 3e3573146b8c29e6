"""`rcgate check`: validate the mapping files, find dead rules, report coverage.

Three passes, all collecting problems instead of stopping at the first:

1. every file is validated with the schemas (`loader`), as the gateway does at start;
2. lint: every name a rule uses must exist where it points and the rule must be able
   to take effect (an alias of an absent argument, a converter on a field the dialect
   renamed away, an object rule no mapped method can reach, a converter no file
   uses, ...). Only what can be decided from the files alone is reported;
3. coverage: every method a dialect documents (`mappings/documented.yaml`) must be
   in that dialect's file, mapped or `unsupported` with a reason. The table says,
   for each, which canonical method it becomes and which method each possible
   backend dialect receives.

Everything here reads the validated spec and the compiled `Mappings`; nothing
changes what the gateway does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import yamlfile

from .mapping import loader
from .mapping.converters import CONVERTERS
from .mapping.engine import Mappings, compile_mappings
from .mapping.loader import DIALECTS, MappingError, load_mappings
from .mapping.schema import CanonicalSchema, DialectSchema

BACKEND_DIALECTS = ("kallithea", "rhodecode", "rhodecode1")  # every dialect file describes a backend too
DOCUMENTED_FILE = "documented.yaml"
CONVERTERS_FILE = "gateway/mapping/converters.py"


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.message}"


@dataclass(frozen=True)
class BackendCell:
    method: str | None  # the backend's method name, None when the call is refused
    reason: str | None = None  # why it is refused

    @property
    def text(self) -> str:
        return self.method if self.method else f"unsupported ({self.reason})"


@dataclass(frozen=True)
class Row:
    method: str
    status: str  # mapped | unsupported | missing
    documented: bool
    canonical: str | None = None
    alias_of: str | None = None
    reason: str | None = None  # for `unsupported`
    backends: dict[str, BackendCell] = field(default_factory=dict)


@dataclass
class DialectCoverage:
    name: str
    about: str
    source: str
    rows: list[Row]  # documented methods, in the order of documented.yaml
    extra: list[Row]  # methods of the file that the dialect does not document

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


@dataclass
class Report:
    directory: Path
    problems: list[Problem]
    coverage: list[DialectCoverage]  # empty when the files could not be loaded
    canonical_methods: int = 0
    versions: list[str] = field(default_factory=list)  # older versions a dialect file declares, one line each

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- entry point


def check_mappings(directory: Path | str) -> Report:
    directory = Path(directory)
    problems: list[Problem] = []
    canonical = _load(directory / "canonical.yaml", CanonicalSchema(), problems)
    dialects: dict[str, dict[str, Any]] = {}
    for name in DIALECTS:
        path = directory / f"{name}.yaml"
        spec = _load(path, DialectSchema(), problems)
        if spec is None:
            continue
        if spec["dialect"] != name:
            problems.append(Problem(str(path), "dialect", f"says `{spec['dialect']}`, the file name says `{name}`"))
        dialects[name] = spec
    if canonical is not None:
        for name, spec in dialects.items():
            problems += lint_dialect(directory / f"{name}.yaml", spec, canonical)
    if canonical is not None and len(dialects) == len(DIALECTS):
        problems += _unused_converters(dialects, canonical)

    # The gateway's own loader must agree: anything it refuses is a problem too.
    mappings = None
    try:
        mappings = compile_mappings(load_mappings(directory))
    except MappingError as exc:
        if not any(p.file == exc.file and (p.key.startswith(exc.key) or exc.key.startswith(p.key)) for p in problems):
            problems.append(Problem(exc.file, exc.key, exc.message))
    except Exception as exc:  # a compile failure is a bug in a rule the lint did not foresee
        problems.append(Problem(str(directory), "-", f"the mappings do not compile: {type(exc).__name__}: {exc}"))

    documented = _load_documented(directory / DOCUMENTED_FILE, problems)
    coverage: list[DialectCoverage] = []
    if mappings is not None and documented is not None:
        for name in DIALECTS:
            cov = _coverage(mappings, name, documented.get(name, {}))
            coverage.append(cov)
            for row in cov.rows:
                if row.status == "missing":
                    problems.append(
                        Problem(
                            str(directory / f"{name}.yaml"),
                            f"methods.{row.method}",
                            f"documented ({DOCUMENTED_FILE}) but not in this file: map it or declare it `unsupported` with a reason",
                        )
                    )
    versions = []
    for name, spec in dialects.items():
        for version, overlay in spec.get("versions", {}).items():
            versions.append(f"{name}@{version}: {overlay.get('about', '')}; an overlay of {name}.yaml: "
                            f"{len(overlay['methods'])} methods and {len(overlay['objects'])} object types answered "
                            f"in its shapes, known by {len(overlay['spellings'])} methods' argument spellings")
    return Report(directory, problems, coverage, len(canonical["methods"]) if canonical else 0, versions)


def _load(path: Path, schema: Any, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        return loader._load(path, schema)
    except MappingError as exc:
        problems.append(Problem(exc.file, exc.key, exc.message))
        return None


def _load_documented(path: Path, problems: list[Problem]) -> dict[str, dict[str, Any]] | None:
    try:
        raw = yamlfile.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(Problem(str(path), "-", "file not found: the list of documented methods per dialect"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(str(path), "-", f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), "-", "the file must be a mapping of dialect: {source, methods}"))
        return None
    out = {}
    for name, entry in raw.items():
        if name not in DIALECTS:
            problems.append(Problem(str(path), str(name), f"no such dialect (known: {', '.join(DIALECTS)})"))
            continue
        methods = entry.get("methods") if isinstance(entry, dict) else None
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            problems.append(Problem(str(path), f"{name}.methods", "must be a list of method names"))
            continue
        seen = set()
        for m in methods:
            if m in seen:
                problems.append(Problem(str(path), f"{name}.methods", f"`{m}` is listed twice"))
            seen.add(m)
        out[name] = {"source": str(entry.get("source", "")), "methods": list(dict.fromkeys(methods))}
    for name in DIALECTS:
        if name not in out and not any(p.file == str(path) and p.key.startswith(name) for p in problems):
            problems.append(Problem(str(path), name, "no list of documented methods for this dialect"))
    return out


# --------------------------------------------------------------------------- lint


def lint_dialect(path: Path, spec: dict[str, Any], canonical: dict[str, Any]) -> list[Problem]:
    """Every cross-file and dead-rule problem of one validated dialect file."""
    file = str(path)
    out: list[Problem] = []

    def problem(key: str, message: str) -> None:
        out.append(Problem(file, key, message))

    cmethods = canonical["methods"]
    methods = spec["methods"]
    for name, rules in methods.items():
        where = f"methods.{name}"
        if "alias_of" in rules:
            target = methods.get(rules["alias_of"])
            if target is None or "alias_of" in target:
                problem(f"{where}.alias_of", f"`{rules['alias_of']}` is no method of this file")
            continue
        cname = rules.get("canonical", name)
        if cname not in cmethods:
            problem(where, f"canonical method `{cname}` is not in canonical.yaml")
            continue
        if "unsupported" in rules:
            continue
        _lint_args(name, rules, cname, cmethods[cname], problem)
        _lint_object_rules(rules["result"], f"{where}.result", problem)
        _lint_fetches(name, rules, cname, cmethods, problem)

    reachable = _reachable_objects(spec, canonical)
    for obj in spec["objects"]:
        if obj not in canonical["objects"]:
            problem(f"objects.{obj}", "no such object type in canonical.yaml")
        elif obj not in reachable:
            problem(f"objects.{obj}", f"no method this file maps answers with a `{obj}`: the rule never applies")
        else:
            _lint_object_rules(spec["objects"][obj], f"objects.{obj}", problem)
    return out


def _lint_args(name: str, rules: dict, cname: str, cmethod: dict, problem) -> None:
    where = f"methods.{name}"
    known = cmethod["args"]  # canonical arg -> {kind, default?}
    absent = set(rules["absent"])
    renames = rules["args"]  # dialect name -> canonical name
    targets: dict[str, str] = {}
    for dialect_arg, canonical_arg in renames.items():
        key = f"{where}.args.{dialect_arg}"
        if canonical_arg not in known:
            problem(key, f"`{canonical_arg}` is no argument of `{cname}`")
            continue
        if canonical_arg in absent:
            problem(key, f"`{canonical_arg}` is renamed and listed in `absent`: the rename never applies")
        if canonical_arg in targets:
            problem(key, f"`{canonical_arg}` is also the target of `{targets[canonical_arg]}`: two names for one argument")
        targets[canonical_arg] = dialect_arg
        if dialect_arg != canonical_arg and dialect_arg in known and dialect_arg not in renames.values() and dialect_arg not in absent:
            problem(key, f"`{dialect_arg}` is itself an argument of `{cname}`: rename it too or list it in `absent`")
    for arg in rules["absent"]:
        if arg not in known:
            problem(f"{where}.absent", f"`{arg}` is no argument of `{cname}`")
        elif known[arg]["kind"] == "required" and arg not in rules["optional"]:
            problem(f"{where}.absent", f"`{arg}` is required by `{cname}`: the method can never be called; declare it `unsupported`")
    for arg in rules["optional"]:
        if arg not in known or known[arg]["kind"] != "required":
            problem(f"{where}.optional", f"`{arg}` is no required argument of `{cname}`: nothing to make optional")
    for arg in rules["required"]:
        if arg not in known or known[arg]["kind"] == "required":
            problem(f"{where}.required", f"`{arg}` is no optional argument of `{cname}`: nothing to make required")
    for path, parts in rules["paths"].items():
        key = f"{where}.paths.{path}"
        if path not in known:
            problem(key, f"`{path}` is no argument of `{cname}`")
        if parts.get("current") is not None and parts["current"] not in known:
            problem(f"{key}.current", f"`{parts['current']}` is no argument of `{cname}`")
        for role in ("parent", "name"):
            part = parts[role]
            if part != path and part in known and part not in absent:
                problem(f"{key}.{role}", f"`{part}` is itself an argument of `{cname}`: the two would collide")
    rename_down = {c: d for d, c in renames.items()}
    dialect_args = {rename_down.get(a, a) for a in known if a not in absent}
    for old, new in rules["aliases"].items():
        key = f"{where}.aliases.{old}"
        if new not in dialect_args:
            canonical_name = renames.get(new, new)
            if canonical_name in absent:
                problem(key, f"`{new}` is listed in `absent`: the alias is never accepted")
            else:
                problem(key, f"`{new}` is no argument of `{name}`" + _hint(new, rename_down))
        if old in dialect_args:
            problem(key, f"`{old}` is itself an argument of `{name}`: the alias would take it over")
    for arg in rules["values"]:
        if arg not in dialect_args:
            problem(f"{where}.values.{arg}", f"`{arg}` is no argument of `{name}` in this dialect" + _hint(arg, rename_down))


def _hint(name: str, rename_down: dict[str, str]) -> str:
    return f" (this dialect calls `{name}` `{rename_down[name]}`)" if name in rename_down else ""


def _lint_object_rules(rules: dict, where: str, problem) -> None:
    """Rules that can never take effect inside one object (or result) rule."""
    rename = rules.get("rename", {})  # dialect field -> canonical field
    drop = set(rules.get("drop", ()))
    canonical_only = {c: d for d, c in rename.items() if c not in rename}  # canonical names this dialect spells otherwise
    seen: dict[str, str] = {}
    for dialect_field, canonical_field in rename.items():
        if canonical_field in seen:
            problem(f"{where}.rename.{dialect_field}", f"`{canonical_field}` is also the target of `{seen[canonical_field]}`")
        seen[canonical_field] = dialect_field
        if canonical_field in drop:
            problem(f"{where}.rename.{dialect_field}", f"`{canonical_field}` is also listed in `drop`: the rename never applies")
    for kind in ("values", "enum"):
        for f in rules.get(kind, {}):
            if f in rename:
                continue
            if f in canonical_only:
                problem(f"{where}.{kind}.{f}", f"`{f}` is the canonical name; this dialect calls the field `{canonical_only[f]}`")
            elif f in drop:
                problem(f"{where}.{kind}.{f}", f"`{f}` is listed in `drop`: this dialect's answers never have it")


def _lint_fetches(name: str, rules: dict, cname: str, cmethods: dict, problem) -> None:
    result = rules["result"]
    for i, fetch in enumerate(result["fetch"]):
        where = f"methods.{name}.result.fetch[{i}]"
        target = cmethods.get(fetch["method"])
        if target is None:
            problem(f"{where}.method", f"`{fetch['method']}` is not in canonical.yaml")
            continue
        for arg, source in fetch["args"].items():
            if arg not in target["args"]:
                problem(f"{where}.args.{arg}", f"`{arg}` is no argument of `{fetch['method']}`")
            if "each" not in fetch and source not in cmethods[cname]["args"]:  # with `each`: a field of the item
                problem(f"{where}.args.{arg}", f"`{source}` is no argument of `{cname}`")
        for arg, spec in target["args"].items():
            if spec["kind"] == "required" and arg not in fetch["args"]:
                problem(f"{where}.args", f"`{fetch['method']}` requires `{arg}`: the fetch would always fail")
        if fetch["into"] in result["drop"]:
            problem(f"{where}.into", f"`{fetch['into']}` is listed in `drop`: the fetched value never reaches the caller")


def _reachable_objects(spec: dict[str, Any], canonical: dict[str, Any]) -> set[str]:
    """Object types that appear in the result of a method this dialect maps (at any depth)."""
    tree = canonical["objects"]
    seen: set[str] = set()

    def visit(shape: Any) -> None:
        if isinstance(shape, str):
            if shape not in seen:
                seen.add(shape)
                for child in tree.get(shape, {}).values():
                    visit(child)
        elif isinstance(shape, dict):
            for child in shape.values():
                visit(child)

    for name, rules in spec["methods"].items():
        if "alias_of" in rules or "unsupported" in rules:
            continue
        cmethod = canonical["methods"].get(rules.get("canonical", name))
        if cmethod is not None:
            visit(cmethod["result"])
    return seen


def _converters_in(template: Any) -> set[str]:
    """Converters a composed call's templates name (`{convert: NAME, ...}` at any depth)."""
    if isinstance(template, dict):
        found = {template["convert"]} if isinstance(template.get("convert"), str) else set()
        return found.union(*(_converters_in(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(_converters_in(v) for v in template))
    return set()


def _unused_converters(dialects: dict[str, dict[str, Any]], canonical: dict[str, Any]) -> list[Problem]:
    used: set[str] = _converters_in(canonical.get("composed", {}))
    overlays = [v for spec in dialects.values() for v in spec.get("versions", {}).values()]
    for spec in [*dialects.values(), *overlays]:  # a version overlay names methods and objects the same way
        used |= _converters_in([r.get("before", []) for r in spec["methods"].values()])
        for rules in spec["methods"].values():
            used.update(rules.get("values", {}).values())
            used.update(rules.get("result", {}).get("values", {}).values())
            if rules.get("result", {}).get("convert"):
                used.add(rules["result"]["convert"])
            used.update(f["convert"] for f in rules.get("result", {}).get("fetch", []) if f.get("convert"))
        for rules in spec["objects"].values():
            used.update(rules.get("values", {}).values())
            if rules.get("convert"):
                used.add(rules["convert"])
    return [
        Problem(CONVERTERS_FILE, name, "converter used by no mapping file: remove it or name it in a rule")
        for name in sorted(set(CONVERTERS) - used)
    ]


# --------------------------------------------------------------------------- coverage


def _coverage(mappings: Mappings, name: str, documented: dict[str, Any]) -> DialectCoverage:
    dialect = mappings.dialects[name]
    methods = mappings.spec.dialects[name]["methods"]
    listed = documented.get("methods", [])
    rows = [_row(mappings, name, m, documented=True) for m in listed]
    extra = [_row(mappings, name, m, documented=False) for m in methods if m not in set(listed)]
    return DialectCoverage(name, dialect.about, documented.get("source", ""), rows, extra)


def _row(mappings: Mappings, name: str, method: str, documented: bool) -> Row:
    rules = mappings.spec.dialects[name]["methods"].get(method)
    inbound = mappings.dialects[name].inbound.get(method)
    if rules is None or inbound is None:
        return Row(method, "missing", documented)
    alias_of = rules.get("alias_of")
    if inbound.unsupported:
        return Row(method, "unsupported", documented, inbound.canonical, alias_of, inbound.unsupported)
    backends = {b: backend_cell(mappings, b, inbound.canonical) for b in BACKEND_DIALECTS}
    return Row(method, "mapped", documented, inbound.canonical, alias_of, None, backends)


def backend_cell(mappings: Mappings, backend: str, canonical: str) -> BackendCell:
    """What a backend of this dialect receives for a canonical call (as `gateway.app._outbound` decides)."""
    outbound = mappings.dialects[backend].outbound.get(canonical)
    if outbound is None:
        return BackendCell(None, f"no mapping to a {backend} method")
    if outbound.unsupported:
        return BackendCell(None, outbound.unsupported)
    return BackendCell(outbound.method)


# --------------------------------------------------------------------------- rendering


def summary_line(cov: DialectCoverage) -> str:
    served = {b: sum(1 for r in cov.rows if r.status == "mapped" and r.backends[b].method) for b in BACKEND_DIALECTS}
    through = ", ".join(f"{n} served by a {b} backend" for b, n in served.items())
    return (
        f"{len(cov.rows)} documented: {cov.count('mapped')} mapped, {cov.count('unsupported')} unsupported, "
        f"{cov.count('missing')} missing ({through})"
    )


def render_text(report: Report) -> str:
    lines: list[str] = []
    for cov in report.coverage:
        lines.append(f"{cov.name}: {cov.about}")
        lines.append(f"  {summary_line(cov)}")
        lines.append(f"  documented: {cov.source}")
        notes: dict[str, int] = {}

        def cell_text(text: str, reason: str | None) -> str:
            if reason is None:
                return text
            number = notes.setdefault(reason, len(notes) + 1)
            return f"unsupported [{number}]"

        header = ["method", "status", "canonical", *(f"{b} backend" for b in BACKEND_DIALECTS)]
        table = [header]
        for row in [*cov.rows, *cov.extra]:
            method = row.method if row.documented else f"{row.method} *"
            status = row.status if row.status != "unsupported" else cell_text("", row.reason)
            canonical = row.canonical or ""
            if row.alias_of:
                canonical += f" (alias of {row.alias_of})"
            cells = [
                cell_text(c.text, c.reason) if row.status == "mapped" else ""
                for c in (row.backends.get(b, BackendCell("")) for b in BACKEND_DIALECTS)
            ]
            table.append([method, status, canonical, *cells])
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        for r in table:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if cov.extra:
            lines.append(f"  * in {cov.name}.yaml, not documented for this dialect")
        for reason, number in notes.items():
            lines.append(f"  [{number}] {reason}")
        lines.append("")
    if report.coverage:
        lines.append(f"canonical: {report.canonical_methods} methods")
        lines += [f"version {v}" for v in report.versions]
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    lines = [
        "# Coverage of the mapping files",
        "",
        f"Generated by `rcgate check --markdown > docs/coverage.md` from `{report.directory.as_posix()}/`; do not edit.",
        "",
        "For every method a dialect documents (`mappings/documented.yaml`): `mapped` (the canonical",
        "method it becomes, and the method each backend dialect receives), `unsupported` (with the",
        "reason the caller gets) or `missing`. Methods a file has beyond the documented ones follow",
        "each table.",
        "",
        "| dialect | documented | mapped | unsupported | missing | "
        + " | ".join(f"served by a {b} backend" for b in BACKEND_DIALECTS) + " |",
        "|---|---|---|---|---|" + "---|" * len(BACKEND_DIALECTS),
    ]
    for cov in report.coverage:
        served = [sum(1 for r in cov.rows if r.status == "mapped" and r.backends[b].method) for b in BACKEND_DIALECTS]
        lines.append(
            f"| {cov.name} | {len(cov.rows)} | {cov.count('mapped')} | {cov.count('unsupported')} | "
            f"{cov.count('missing')} | " + " | ".join(str(n) for n in served) + " |"
        )
    lines.append(f"\nCanonical API (`mappings/canonical.yaml`): {report.canonical_methods} methods.\n")
    if report.versions:
        lines += ["Older versions, answered in their own shapes (`versions:` of a dialect file):", ""]
        lines += [f"- `{v.split(':', 1)[0]}`:{v.split(':', 1)[1]}" for v in report.versions] + [""]
    for cov in report.coverage:
        lines += [f"## {cov.name}", "", f"{cov.about}. Documented: {cov.source}.", ""]
        lines += _md_table(cov.rows)
        if cov.extra:
            lines += ["", f"In `{cov.name}.yaml` but not documented for this dialect:", ""]
            lines += _md_table(cov.extra)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md_table(rows: list[Row]) -> list[str]:
    out = ["| method | status | canonical | " + " | ".join(f"{b} backend" for b in BACKEND_DIALECTS) + " |",
           "|---|---|---|" + "---|" * len(BACKEND_DIALECTS)]
    for row in rows:
        status = f"unsupported: {row.reason}" if row.status == "unsupported" else row.status
        canonical = f"`{row.canonical}`" if row.canonical else ""
        if row.alias_of:
            canonical += f" (alias of `{row.alias_of}`)"
        cells = []
        for b in BACKEND_DIALECTS:
            cell = row.backends.get(b)
            if cell is None:
                cells.append("")
            elif cell.method:
                cells.append(f"`{cell.method}`")
            else:
                cells.append(f"unsupported: {cell.reason}")
        out.append(f"| `{row.method}` | {_md(status)} | {canonical} | " + " | ".join(_md(c) for c in cells) + " |")
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_problems(report: Report) -> list[str]:
    return [f"rcgate check: {p}" for p in report.problems]
