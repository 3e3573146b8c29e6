"""`rcgate check --config`: the routes of a config, against the compiled mappings.

Reported (each as FILE: routes[N]: MESSAGE):
- a rule no call can reach: an earlier rule matches every call it matches, or its
  `method` names no canonical method;
- a `repo` condition on methods that never name a repository (it can never match);
- a rule that sends a method it names explicitly to a backend that cannot serve it;
- a credential map that cannot be used (missing, readable by others, a variable unset).
Loading the config already refused unknown backends and caller groups.
"""
from __future__ import annotations

import fnmatch
from .check import Problem
from .config import Config, RouteConfig
from .credentials import CredentialError, read_map
from .mapping.engine import Mappings


def check_routes(config: Config, mappings: Mappings) -> list[Problem]:
    file = str(config.source or "config")
    problems: list[Problem] = []
    canonical = mappings.canonical
    backends = {b.name: b for b in config.backend_list()}
    routes = config.route_list()

    def methods_of(rule: RouteConfig) -> frozenset[str]:
        if rule.method is None:
            return frozenset(canonical)
        return frozenset(n for n, spec in canonical.items()
                         if any(p == spec.kind or fnmatch.fnmatchcase(n, p) for p in rule.method))

    for i, rule in enumerate(routes):
        where = f"routes[{rule.index}]"
        methods = methods_of(rule)
        if rule.method is not None and not methods:
            problems.append(Problem(file, f"{where}.method", f"`{' | '.join(rule.method)}` names no canonical method: "
                                    "the rule matches only methods forwarded as sent"))
        for earlier in routes[:i]:
            if _covers(earlier, rule, methods_of(earlier), methods):
                problems.append(Problem(file, where, f"never reached: routes[{earlier.index}] matches every call it "
                                        "matches"))
                break
        if rule.repo is not None and methods and not any(
                canonical[m].subject is not None or canonical[m].lists is not None for m in methods):
            problems.append(Problem(file, f"{where}.repo", "none of its methods names a repository or a repository "
                                    "group: the rule never matches"))
        target = mappings.dialects[backends[rule.backend].dialect]
        for name in rule.method or ():
            if name in canonical:
                outbound = target.outbound.get(name)
                if outbound is None or outbound.unsupported:
                    reason = outbound.unsupported if outbound else "not mapped"
                    problems.append(Problem(file, f"{where}.method", f"`{name}` goes to backend `{rule.backend}` "
                                            f"({target.name}), which cannot serve it: {reason}"))
    for b in backends.values():
        if b.credentials is not None:
            try:
                read_map(b.credentials, resolve=True)
            except CredentialError as exc:
                problems.append(Problem(file, f"backends.{b.name}.credentials", str(exc)))
    return problems


def _covers(earlier: RouteConfig, later: RouteConfig, earlier_methods: frozenset[str],
            later_methods: frozenset[str]) -> bool:
    """Does `earlier` match every call `later` matches (so `later` is never reached)?"""
    if earlier.method is not None and not later_methods <= earlier_methods:
        return False
    if earlier.method is not None and later.method is None:
        return False  # forwarded methods: `later` may still match them
    for cond in ("caller", "dialect"):
        mine, theirs = getattr(earlier, cond), getattr(later, cond)
        if mine is not None and (theirs is None or not set(theirs) <= set(mine)):
            return False
    if earlier.repo is not None:
        if later.repo is None:
            return False
        if not all(any(fnmatch.fnmatchcase(g, p) for p in earlier.repo) for g in later.repo):
            return False  # a glob of `later` is not (as text) inside one of `earlier`
    return True
