"""Counterexamples a kernel engineer can read, and replay tokens.

A counterexample is the schedule replayed with recording on: numbered steps (CPU, task, the op's
``describe()``, the kernel function ``op.func``), then the violation shaped like the kernel report it
corresponds to (an oops for a NULL dereference, a lockdep/might_sleep splat, a hung-task report for
a deadlock), the call trace of the offending task, and the allocator state at that point.

A replay token is ``pcp1.`` + base64url(zlib(JSON {design, scenario, schedule[, scenario file's
absolute path and hash, the design's origin and source hash]})): compact, copy-pasteable, usable
from any directory, and exactly reproducible because worlds are deterministic.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any

from pcplab.check.world import Violation, World, generator_chain
from pcplab.errors import PcplabError
from pcplab.kernel.state import BLOCKED

TOKEN_PREFIX = "pcp1."
#: decode limits: a real token is a few hundred characters (schedules of at most a few thousand
#: steps over at most a few dozen tasks)
MAX_TOKEN_CHARS = 1 << 20
MAX_TOKEN_JSON = 4 << 20
MAX_TASK_INDEX = 100_000


@dataclass(frozen=True)
class ReplayToken:
    design: str
    scenario: str
    schedule: tuple[int, ...]
    scenario_file: str | None = None
    #: where the design came from (an absolute path or module spec; "built-in") and its source
    #: hash, and the scenario file's hash, so a replay can say that either changed
    origin: str = "built-in"
    design_hash: str = ""
    scenario_hash: str = ""

    def encode(self) -> str:
        payload: dict[str, Any] = {"d": self.design, "s": self.scenario, "x": list(self.schedule)}
        if self.scenario_file:
            payload["f"] = self.scenario_file
        if self.origin != "built-in":
            payload["o"] = self.origin
        if self.design_hash:
            payload["h"] = self.design_hash
        if self.scenario_hash:
            payload["fh"] = self.scenario_hash
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> ReplayToken:
        """Parse a token; anything damaged, oversized or of the wrong shape is one PcplabError.

        Unknown keys are ignored (newer pcplab versions may add fields).  Limits: the token at
        most :data:`MAX_TOKEN_CHARS`, its JSON at most :data:`MAX_TOKEN_JSON` bytes (a zlib bomb
        is cut off there), schedule entries task indices in ``0..MAX_TASK_INDEX``."""
        damaged = "replay token is damaged; copy it whole from the report"
        if not isinstance(token, str):
            raise PcplabError(damaged)
        token = token.strip()
        if not token.startswith(TOKEN_PREFIX):
            raise PcplabError(
                f"replay token must start with {TOKEN_PREFIX!r}; copy it whole from the "
                "'replay:' line of a pcplab check report"
            )
        if len(token) > MAX_TOKEN_CHARS:
            raise PcplabError(f"replay token is over {MAX_TOKEN_CHARS} characters; {damaged[20:]}")
        body = token[len(TOKEN_PREFIX) :]
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, MAX_TOKEN_JSON)
            if inflater.unconsumed_tail or not inflater.eof:
                raise PcplabError(damaged)
            p = json.loads(raw)
        except PcplabError:
            raise
        except (binascii.Error, zlib.error, ValueError, RecursionError):
            raise PcplabError(damaged) from None
        if not isinstance(p, dict):
            raise PcplabError(damaged)
        design, scenario, sched, file = p.get("d"), p.get("s"), p.get("x"), p.get("f")
        if not (isinstance(design, str) and design and isinstance(scenario, str) and scenario):
            raise PcplabError(f"{damaged} (no design or scenario name)")
        if not isinstance(sched, list) or not all(
            type(x) is int and 0 <= x <= MAX_TASK_INDEX for x in sched
        ):
            raise PcplabError(f"{damaged} (its schedule is not a list of task numbers)")
        if file is not None and not (isinstance(file, str) and file and "\0" not in file):
            raise PcplabError(f"{damaged} (bad scenario file name)")
        extra = {}
        for key, name in (("o", "origin"), ("h", "design_hash"), ("fh", "scenario_hash")):
            v = p.get(key)
            if v is not None:
                if not (isinstance(v, str) and v and "\0" not in v and len(v) < 4096):
                    raise PcplabError(f"{damaged} (bad {name})")
                extra[name] = v
        return cls(design, scenario, tuple(sched), file, **extra)


@dataclass
class TraceStep:
    n: int
    cpu: int
    task: str
    what: str
    func: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = {"step": self.n, "cpu": self.cpu, "task": self.task, "op": self.what,
             "function": self.func}  # fmt: skip
        if self.note:
            d["note"] = self.note
        return d


def record(world: World, schedule: list[int]) -> tuple[list[TraceStep], Violation | None]:
    """Replay ``schedule`` on a fresh ``world`` with every check on, recording each step."""
    steps: list[TraceStep] = []
    violation = world.check_state()
    if violation is not None:
        return steps, violation
    for n, idx in enumerate(schedule, 1):
        if idx not in world.enabled():
            raise PcplabError(
                f"replay diverged at step {n}: task {idx} cannot run there; the token does not "
                "match this version of the design or scenario"
            )
        t = world.tasks[idx]
        op = t.op
        what = op.describe() if op is not None else "starts"
        func = (getattr(op, "func", "") or "") if op is not None else ""
        v = world.step(idx)
        if v is None:
            v = world.check_state()
        note = "blocks" if world.last_result is BLOCKED else ""
        if v is not None and v.kind in ("null-deref", "oops"):
            note = f"then {v.function} faults"
        steps.append(TraceStep(n, t.cpu, t.name, what, func, note))
        if v is not None:
            violation = v
            break
    if violation is None and not world.enabled():
        violation = world.at_end()
    return steps, violation


_HEADLINE = {
    "list-race": "BUG: pcp list corruption: two CPUs inside one list set",
    "lock": "BUG: lock discipline violated",
    "deadlock": "INFO: tasks blocked forever (deadlock)",
    "page-lost": "BUG: page accounting broken",
    "double-alloc": "BUG: Bad page state: page handed out twice",
    "postcondition": "WARNING: drain postcondition violated",
    "oops": "Oops: exception in kernel code",
}


def format_report(
    design: str,
    scenario: str,
    steps: list[TraceStep],
    v: Violation,
    world: World,
    token: str,
) -> list[str]:
    lines = [f"pcplab check: design {design}, scenario {scenario}: {v.kind} found", ""]
    lines.append(
        " step  cpu   task            op                                               function"
    )
    for s in steps:
        what = s.what + (f"  [{s.note}]" if s.note else "")
        lines.append(f" {s.n:4}  cpu{s.cpu:<2} {s.task:<15} {what:<48} {s.func}")
    lines.append("")
    lines.extend(oops_lines(v, world))
    state = describe_state(world)
    if state:
        lines.append("")
        lines.append("State at the violation:")
        lines.extend("  " + x for x in state)
    lines.append("")
    lines.append(f"replay: pcplab check --replay {token}")
    return lines


def oops_lines(v: Violation, world: World) -> list[str]:
    out = []
    comm = v.task or "?"
    msg = v.message
    if v.kind == "null-deref":
        out.append(f"BUG: kernel NULL pointer dereference, address: {v.address or 0:016x}")
    elif "BUG: " in msg:
        head, msg = msg.split("BUG: ", 1)[1], msg
        out.append("BUG: " + head.split(":", 1)[0])
    else:
        out.append(_HEADLINE.get(v.kind, "BUG"))
    out.append(msg)
    if v.cpu is not None:
        out.append(f"CPU: {v.cpu} Comm: {comm}")
    out.append(f"RIP: {v.function or '?'}")
    trace = v.call_trace
    if not trace:
        task = next((t for t in world.tasks if t.name == v.task), None)
        if task is not None:
            trace = generator_chain(task)
    if trace:
        out.append("Call Trace:")
        out.extend(f" {f}" for f in trace)
    for d in v.details:
        out.append(d)
    return out


def describe_state(world: World) -> list[str]:
    fn = getattr(world, "describe_state", None)
    return list(fn()) if callable(fn) else []


__all__ = ["ReplayToken", "TraceStep", "format_report", "oops_lines", "record"]
