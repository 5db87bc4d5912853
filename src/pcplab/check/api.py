"""The checker's entry point for the CLI and other parts (``pcplab compare`` calls :func:`run_check`).

``run_check(design, scenario="all", mode="exhaustive", bound=None, seed=0)`` explores every
requested scenario in order and stops at the first violation.  ``bound=None`` uses
:data:`DEFAULT_BOUND` preemptions in exhaustive mode; ``bound=-1`` searches without a bound.  Result dict::

    {"design", "scenario", "mode", "bound",
     "violation": None | {"kind", "function", "cpu", "message", "trace": [step dicts],
                          "report": [lines], "scenario"},
     "replay": token | None, "exhaustive": bool, "complete": bool,
     "executions", "states", "states_distinct", "steps", "seconds", "steps_per_second",
     "scenarios": [{"scenario", "executions", "states", "steps", "seconds", "exhaustive",
                    "bound_pruned", "violation"}]}

``exhaustive``: every requested scenario was explored completely within the preemption bound
(random/PCT modes are never exhaustive).  ``states`` counts distinct states when the state cache
is on (``states_distinct``), else the nodes of the search tree (random/PCT: 0).  ``complete``: additionally, no choice was cut by the
bound, i.e. the search was exhaustive without any bound.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pcplab.check.catalogue import STANDARD, get_scenario
from pcplab.check.counterexample import ReplayToken, format_report, record
from pcplab.check.dfs import explore_dfs
from pcplab.check.randomized import explore_pct, explore_random
from pcplab.check.scenario_file import load_scenario_file
from pcplab.check.scenario_language import Scenario
from pcplab.check.scenario_world import ScenarioWorld, scenario_factory
from pcplab.check.search import SearchResult, shrink
from pcplab.errors import PcplabError

#: default preemption bound of the exhaustive mode.  Chosen so that the standard set is explored
#: in well under a minute per design on the 2-core development machine and every mutant is found;
#: see benchmarks/bench_check.py for the measured times (bound 1: 1-4 s per design; bound 2:
#: workqueue 81 s, two-cpus-free-forced-drain alone 61 s — too slow for the default).
DEFAULT_BOUND = 1
MODES = ("exhaustive", "random", "pct")


def scenarios_for(
    name: str,
    scenario_file: str | None = None,
    design: Any = None,
    *,
    only_file: bool = False,
) -> list[Scenario]:
    """The scenarios ``name`` selects: ``"all"`` is the standard set, then the design's own
    (``SCENARIOS`` in its module), then those of ``scenario_file`` (added, not replacing;
    ``only_file`` runs the file's alone).  Two scenarios of one name are an error."""
    extra = load_scenario_file(scenario_file) if scenario_file else []
    own = [s for s in getattr(design, "scenarios", ()) or ()]
    for s in own:
        if not isinstance(s, Scenario):
            raise PcplabError(f"design {design.name}: SCENARIOS must hold Scenario objects, got "
                              f"{type(s).__name__}")  # fmt: skip
        s.validate()
    if only_file and not extra:
        raise PcplabError("--only-scenario-file needs --scenario-file FILE")
    if name != "all":
        return [get_scenario(name, own + extra)]
    chosen = extra if only_file else list(STANDARD) + own + extra
    seen: dict[str, str] = {}
    for s in chosen:
        where = "the scenario file" if s in extra else ("the design" if s in own else "standard")
        if s.name in seen:
            raise PcplabError(f"scenario {s.name!r} of {where} has the name of a {seen[s.name]} "
                              "scenario; rename it")  # fmt: skip
        seen[s.name] = where if where != "standard" else "standard"
    return chosen


def _design(name: str) -> Any:
    from pcplab import designs

    return designs.get(name)


def _file_hash(path: str | None) -> str:
    if not path:
        return ""
    from pcplab.designs.loader import hash_files, source_files

    real = os.path.realpath(path)
    return hash_files(source_files(real, [os.path.dirname(real)]))


def _token_design(tok: ReplayToken) -> tuple[Any, list[str]]:
    """The design a token names (from its recorded origin) and one-line notes if it changed."""
    notes: list[str] = []
    origin = tok.origin
    if origin == "registered":
        from pcplab import designs

        if tok.design not in designs.registered():
            raise PcplabError(f"design {tok.design!r} was registered from Python; register it "
                              "again (pcplab.designs.register) before replaying")  # fmt: skip
        d = _design(tok.design)
    elif origin.startswith("entry point "):
        d = _design(origin[len("entry point ") :])
    elif origin not in ("built-in", ""):
        d = _design(origin)
    else:
        d = _design(tok.design)
    if d.origin not in ("built-in", "registered"):
        # a token names code to run: say which, so a pasted token never runs a file unseen
        notes.append(f"note: running design {d.name} from {d.origin}")
    if tok.design_hash and d.source_hash and d.source_hash != tok.design_hash:
        notes.append(f"note: design {d.name} ({d.origin}) changed since this token was made "
                     f"(source {tok.design_hash} -> {d.source_hash}); replaying the current code")  # fmt: skip
    return d, notes


def run_check(
    design: str,
    scenario: str = "all",
    mode: str = "exhaustive",
    bound: int | None = None,
    seed: int = 0,
    *,
    scenario_file: str | None = None,
    only_scenario_file: bool = False,
    executions: int = 2000,
    time_limit: float | None = None,
    want: frozenset[str] | None = None,
    cache: bool | None = None,
    shorten: bool = True,
    atomic: bool | None = None,
) -> dict[str, Any]:
    """Check ``design`` on ``scenario`` (a standard name, ``"all"``, or one from ``scenario_file``).

    ``executions``: runs per scenario in random/PCT mode.  ``time_limit``: seconds per scenario
    (None: unlimited).  ``want``: only report these violation kinds (others are skipped over and
    listed in ``"other_violations"``).  ``cache``: state caching (None: only for unbounded
    searches, where it pays).  ``shorten``: shrink the counterexample (delta debugging
    over the schedule) before reporting it; the violation kind and function are kept.
    ``atomic``: scheduling points at synchronisation ops only (:func:`explore_dfs`; None: for
    unbounded searches, where the state space is otherwise too large to finish).
    """
    if mode not in MODES:
        raise PcplabError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if bound is not None and bound < -1:
        raise PcplabError("--bound must be >= 0 (or -1 for no bound)")
    d = _design(design)
    scs = scenarios_for(scenario, scenario_file, d, only_file=only_scenario_file)
    for s in scs:
        s.validate()
    eff_bound = (DEFAULT_BOUND if bound is None else bound) if mode == "exhaustive" else None
    if eff_bound == -1:
        eff_bound = None  # no preemption bound: fully exhaustive (may take long)
    if cache is None:
        # measured (benchmarks/bench_check.py): with a preemption bound the search is small and
        # computing state keys costs more than the re-executions they save; unbounded searches
        # need the cache
        cache = eff_bound is None
    if atomic is None:
        # the bounded search keeps every op a scheduling point (its verdicts and figures are
        # pinned by the golden tests); unbounded, the reduction decides whether it finishes
        atomic = eff_bound is None
    t0 = time.perf_counter()
    per: list[dict[str, Any]] = []
    found: tuple[Scenario, SearchResult] | None = None
    # a predicted violation (a broken rule, nothing gone wrong: pcplab.kernel.checks) does not
    # stop the scenario loop; a later scenario may show the concrete failure it leads to
    predicted: tuple[Scenario, SearchResult] | None = None
    others: dict[str, Any] = {}
    for sc in scs:
        factory = _factory(d, sc)
        if mode == "exhaustive":
            r = explore_dfs(factory, bound=eff_bound, time_limit=time_limit, want=want, cache=cache,
                            atomic=atomic)  # fmt: skip
        elif mode == "random":
            r = explore_random(factory, seed=seed, executions=executions, time_limit=time_limit)
        else:
            r = explore_pct(factory, seed=seed, executions=executions, time_limit=time_limit)
        for kind, (v, _sched) in r.extra.get("other", {}).items():
            others.setdefault(kind, {"scenario": sc.name, "function": v.function,
                                     "message": v.message})  # fmt: skip
        per.append(
            {
                "scenario": sc.name,
                "executions": r.executions,
                "states": r.states,
                "steps": r.steps,
                "seconds": round(r.seconds, 3),
                "exhaustive": r.exhaustive,
                "bound_pruned": r.bound_pruned,
                "violation": r.violation.kind if r.violation else None,
            }
        )
        if r.violation is not None:
            if r.extra.get("predicted"):
                if predicted is None:
                    predicted = (sc, r)
                continue
            found = (sc, r)
            break
    if found is None:
        found = predicted
    seconds = time.perf_counter() - t0
    steps = sum(p["steps"] for p in per)
    out: dict[str, Any] = {
        "design": design,
        "scenario": scenario,
        "mode": mode,
        "bound": eff_bound,
        "seed": seed if mode != "exhaustive" else None,
        "violation": None,
        "replay": None,
        "exhaustive": found is None and all(p["exhaustive"] for p in per),
        "complete": found is None and all(p["exhaustive"] and p["bound_pruned"] == 0 for p in per),
        "executions": sum(p["executions"] for p in per),
        "states": sum(p["states"] for p in per),
        # with the state cache "states" counts distinct states; without it, search-tree nodes
        "states_distinct": bool(cache) and mode == "exhaustive",
        "atomic": bool(atomic) and mode == "exhaustive",
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_second": round(steps / seconds) if seconds > 0 else 0,
        "scenarios": per,
    }
    if others:
        out["other_violations"] = others
    exp = getattr(d, "expected_violation", None)
    if exp:
        # a mutant or a known bug declares what the checker must find (issue 15)
        out["expected_violation"] = exp
        v = found[1].violation if found is not None else None
        out["expected_found"] = v is not None and v.kind == exp
    if found is not None:
        sc, r = found
        schedule = r.schedule
        if shorten and r.violation is not None:
            schedule = shrink(_factory(d, sc), schedule, r.violation)
        # absolute, so the printed replay line works from any directory
        sc_file = os.path.realpath(scenario_file) if scenario_file else None
        token = ReplayToken(
            d.name,
            sc.name,
            tuple(schedule),
            sc_file,
            origin=d.origin,
            design_hash=d.source_hash if d.origin != "built-in" else "",
            scenario_hash=_file_hash(sc_file),
        ).encode()
        out["violation"] = counterexample(d, sc, schedule, token, design)
        out["violation"]["found_after_steps"] = len(r.schedule)
        out["replay"] = token
    return out


def _factory(d: Any, sc: Scenario) -> Any:
    return scenario_factory(d, sc)


def counterexample(d: Any, sc: Scenario, schedule: list[int], token: str, name: str) -> dict:
    world = ScenarioWorld(d, sc)
    steps, v = record(world, schedule)
    if v is None:
        raise PcplabError(
            "the counterexample did not reproduce on replay; the design or scenario is not "
            "deterministic (it must not depend on hash order, time or global state)"
        )
    return {
        "kind": v.kind,
        "function": v.function,
        "cpu": v.cpu,
        "message": v.message,
        "scenario": sc.name,
        "trace": [s.as_dict() for s in steps],
        "report": format_report(name, sc.name, steps, v, world, token),
    }


def replay_token(token: str, scenario_file: str | None = None) -> dict[str, Any]:
    """Reproduce the run a token names; same dict shape as :func:`run_check`."""
    tok = ReplayToken.decode(token)
    d, notes = _token_design(tok)
    sc_file = scenario_file or tok.scenario_file
    if sc_file and not scenario_file and not os.path.exists(sc_file):
        raise PcplabError(f"the token's scenario file {sc_file} no longer exists; pass "
                          "--scenario-file with its new place")  # fmt: skip
    if sc_file:
        notes.append(f"note: running scenario file {os.path.realpath(sc_file)}")
    if tok.scenario_hash and sc_file and _file_hash(sc_file) != tok.scenario_hash:
        notes.append(f"note: scenario file {sc_file} changed since this token was made; "
                     "replaying the current file")  # fmt: skip
    sc = scenarios_for(tok.scenario, sc_file, d)[0]
    t0 = time.perf_counter()
    world = ScenarioWorld(d, sc)
    steps, v = record(world, list(tok.schedule))
    out: dict[str, Any] = {
        "design": tok.design,
        "scenario": sc.name,
        "mode": "replay",
        "violation": None,
        "notes": notes,
        "replay": token.strip(),
        "exhaustive": False,
        "executions": 1,
        "states": len(steps),
        "steps": len(steps),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if v is not None:
        out["violation"] = {
            "kind": v.kind,
            "function": v.function,
            "cpu": v.cpu,
            "message": v.message,
            "scenario": sc.name,
            "trace": [s.as_dict() for s in steps],
            "report": format_report(tok.design, sc.name, steps, v, world, token.strip()),
        }
    return out


__all__ = ["DEFAULT_BOUND", "MODES", "replay_token", "run_check", "scenarios_for"]
