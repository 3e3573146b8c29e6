"""Routes: which backend serves a call. Compiled once from `routes:` in the config.

A rule matches a call when every condition it has matches (a condition left out
matches everything); the first matching rule names the backend, and the last rule,
which has no condition, is the default. Conditions, all read from the canonical
call, so that one rule covers every dialect's spelling:

- `method`: canonical method names or globs, or `read` / `write` (canonical.yaml's
  `kind`). A method the caller's dialect does not list (forwarded as sent to a
  backend of the same dialect) has no canonical name: only a name or glob
  matches it, as spelled.
- `repo`: name globs of the repository or repository group the call is about
  (canonical.yaml's `repo:` / `repo_group:` argument). `*` matches across `/`.
  A call about no repository never matches a rule with `repo`.
- `caller`: names of groups under `callers:` (key fingerprints as in the audit log).
- `dialect`: the caller's dialect.

Numeric repository ids are per instance, so a name glob cannot match one:
`numeric_repo_ids` says what happens to a call naming its repository by id
(an int, or a string of digits as RhodeCode 1.x and Kallithea read it): `follow`
(default: rules with `repo` do not match it, the others apply), `refuse`, or the
name of the backend the ids come from.

Lists of repositories (canonical.yaml's `lists:`) are answered by every backend a
rule may send such a call to (`candidates`), each entry kept only from the backend
that the routes send that repository to (`choose_for_name`).
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable

from .canonical import CanonicalMethod
from .config import RouteConfig

_CACHE_MAX = 8192  # distinct (method, dialect, caller, repository) decisions remembered


@dataclass(frozen=True, slots=True)
class Route:
    backend: str
    index: int  # the rule's place in `routes:`
    reason: str  # why it matched, for --explain
    shadow: str | None = None  # the backend a sample of this route's reads also goes to
    shadow_sample: float = 1.0


class NumericRepoId(Exception):
    """The call names its repository by id while the config says `numeric_repo_ids: refuse`."""

    def __init__(self, value: Any, arg: str) -> None:
        super().__init__(value)
        self.value, self.arg = value, arg


@dataclass(frozen=True)
class _Rule:
    config: RouteConfig
    methods: frozenset[str] | None  # canonical methods matched (globs, read/write expanded)
    method_patterns: tuple[str, ...]  # the patterns as written, for methods without a canonical name
    repo: re.Pattern[str] | None
    callers: frozenset[str] | None  # 12-digit fingerprints
    dialects: frozenset[str] | None

    def matches_names(self, cmethod: str | None, raw_method: str, dialect: str) -> bool:
        if self.dialects is not None and dialect not in self.dialects:
            return False
        if self.methods is None:
            return True
        if cmethod is not None:
            return cmethod in self.methods
        return any(fnmatch.fnmatchcase(raw_method, p) for p in self.method_patterns)

    def matches_caller(self, fingerprint: str | None) -> bool:
        return self.callers is None or fingerprint in self.callers

    def describe(self) -> str:
        c = self.config
        parts = [f"{k} {' | '.join(v)}" for k, v in (("method", c.method), ("repo", c.repo), ("caller", c.caller),
                                                       ("dialect", c.dialect)) if v]
        return " and ".join(parts) if parts else "the default route"


class Router:
    def __init__(self, routes: tuple[RouteConfig, ...], callers: dict[str, tuple[str, ...]],
                 canonical: dict[str, CanonicalMethod], numeric_repo_ids: str = "follow") -> None:
        self.canonical = canonical
        self.numeric_repo_ids = numeric_repo_ids
        self.rules = tuple(_compile(r, callers, canonical) for r in routes)
        self.backends = tuple(dict.fromkeys(r.config.backend for r in self.rules))
        self.trivial = len(self.rules) == 1  # one rule without conditions: nothing to decide
        self.by_repo = any(r.repo is not None for r in self.rules)
        last = self.rules[-1].config
        self._default = Route(last.backend, last.index, "the default route", last.shadow, last.shadow_sample)
        self._names_cache: dict[tuple[str | None, str, str], tuple[_Rule, ...]] = {}
        self._cache: dict[tuple[Any, ...], Route] = {}

    # ------------------------------------------------------------------ one call

    def choose(self, dialect: str, cmethod: str | None, raw_method: str, fingerprint: str | None,
               canonical_args: Callable[[], dict[str, Any]]) -> Route:
        """The route of one call; `canonical_args` is asked only when a rule looks at the repository."""
        if self.trivial:
            return self._default
        subject, numeric = None, False
        spec = self.canonical[cmethod] if cmethod is not None else None
        if self.by_repo and spec is not None and spec.subject is not None and spec.lists is None:
            value = canonical_args().get(spec.subject[1])
            if _is_numeric(value):
                numeric = True
                if self.numeric_repo_ids == "refuse":
                    raise NumericRepoId(value, spec.subject[1])
                if self.numeric_repo_ids != "follow":
                    return Route(self.numeric_repo_ids, -1, f"{spec.subject[1]} is a numeric id: numeric_repo_ids")
            elif isinstance(value, str):
                subject = value
        key = (cmethod, raw_method if cmethod is None else "", dialect, fingerprint, subject, numeric)
        route = self._cache.get(key)
        if route is None:
            route = self._decide(cmethod, raw_method, dialect, fingerprint, subject)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = route
        return route

    def _decide(self, cmethod: str | None, raw_method: str, dialect: str, fingerprint: str | None,
                subject: str | None) -> Route:
        for rule in self._by_names(cmethod, raw_method, dialect):
            if not rule.matches_caller(fingerprint):
                continue
            if rule.repo is not None and (subject is None or not rule.repo.fullmatch(subject)):
                continue
            why = rule.describe() + (f" (`{subject}`)" if rule.repo is not None else "")
            return Route(rule.config.backend, rule.config.index, why, rule.config.shadow, rule.config.shadow_sample)
        return self._default  # unreachable: the last rule has no condition

    def _by_names(self, cmethod: str | None, raw_method: str, dialect: str) -> tuple[_Rule, ...]:
        key = (cmethod, raw_method if cmethod is None else "", dialect)
        rules = self._names_cache.get(key)
        if rules is None:
            rules = self._names_cache[key] = tuple(r for r in self.rules if r.matches_names(cmethod, raw_method, dialect))
        return rules

    # ------------------------------------------------------------------ lists across backends

    def candidates(self, dialect: str, cmethod: str, fingerprint: str | None) -> tuple[str, ...]:
        """Every backend a rule may send this listing's entries to, in rule order."""
        found: dict[str, None] = {}
        for rule in self._by_names(cmethod, cmethod, dialect):
            if not rule.matches_caller(fingerprint):
                continue
            found[rule.config.backend] = None
            if rule.repo is None:
                break  # every later rule is shadowed for this call
        return tuple(found)

    def choose_view(self, repo: str | None, write: bool, fingerprint: str | None) -> Route:
        """The route of a web view, a download or an hg/git request about `repo` (None: the server's own
        pages). A rule's `method` matches it only through `read` / `write`; a rule with a `dialect`
        condition never does (such a request has no dialect)."""
        kind = "write" if write else "read"
        for rule in self.rules:
            c = rule.config
            if c.dialect is not None or (c.method is not None and kind not in c.method):
                continue
            if not rule.matches_caller(fingerprint):
                continue
            if rule.repo is not None and (repo is None or not rule.repo.fullmatch(repo)):
                continue
            why = rule.describe() + (f" (`{repo}`)" if rule.repo is not None else "")
            return Route(c.backend, c.index, why)
        return self._default

    def choose_for_name(self, dialect: str, cmethod: str, fingerprint: str | None, name: str) -> str:
        """The backend that owns one entry of a listing (the repository or group called `name`)."""
        return self.choose_listed(dialect, cmethod, fingerprint, name).backend

    def choose_listed(self, dialect: str, cmethod: str, fingerprint: str | None, name: str) -> Route:
        key = (cmethod, "#list", dialect, fingerprint, name, False)
        route = self._cache.get(key)
        if route is None:
            route = self._decide(cmethod, cmethod, dialect, fingerprint, name)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[key] = route
        return route


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def _compile(route: RouteConfig, callers: dict[str, tuple[str, ...]], canonical: dict[str, CanonicalMethod]) -> _Rule:
    methods = None
    if route.method is not None:
        methods = frozenset(name for name, spec in canonical.items()
                            if any(p == spec.kind or fnmatch.fnmatchcase(name, p) for p in route.method))
    repo = None
    if route.repo is not None:
        repo = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in route.repo))
    fingerprints = None
    if route.caller is not None:
        fingerprints = frozenset(f[:12] for group in route.caller for f in callers[group])
    dialects = frozenset(route.dialect) if route.dialect is not None else None
    patterns = tuple(p for p in route.method or () if p not in ("read", "write"))
    return _Rule(route, methods, patterns, repo, fingerprints, dialects)
