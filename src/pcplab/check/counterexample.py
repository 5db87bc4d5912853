"""Counterexamples a kernel engineer can read, and replay tokens.

A counterexample is the schedule replayed with recording on: the scenario's starting state (what
the prefill left on each pcp list), numbered steps (CPU, task, the op's ``describe()``, the kernel
function ``op.func``) with each CPU's context printed where it changed (user/kernel/idle,
nohz_full, IRQs, preempt count, locks held, RCU nesting) and notes for what would otherwise pass in
silence (a CPU the drain mask skipped), then the violation shaped like the kernel report it
corresponds to (an oops for a NULL dereference, a lockdep/might_sleep splat, a KCSAN report, a
hung-task report for a deadlock), the call trace of the offending task, and the allocator state at
that point.

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
    #: the CPUs whose context this step changed: "cpu1: kernel, IRQs off, preempt 1, ..."
    context: tuple[str, ...] = ()
    #: what the step decided silently (e.g. a CPU the drain mask skipped)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"step": self.n, "cpu": self.cpu, "task": self.task, "op": self.what,
                             "function": self.func}  # fmt: skip
        if self.note:
            d["note"] = self.note
        if self.context:
            d["context"] = list(self.context)
        if self.notes:
            d["notes"] = list(self.notes)
        return d


def cpu_context(kernel: Any, c: Any) -> tuple[Any, ...]:
    """What a trace says about one CPU's context (a tuple, compared step to step)."""
    r = c.running
    locks = tuple(str(x) for x in c.held_locks)
    return (c.mode, c.nohz_full, bool(c.irq_depth), c.preempt_count, locks, c.rcu_nesting,
            r.name if r is not None else None, r.kind == "irq" if r is not None else False)  # fmt: skip


def context_text(cpu: int, ctx: tuple[Any, ...]) -> str:
    mode, nohz, irqs_off, preempt, locks, rcu, who, in_irq = ctx
    parts = [mode + (" (nohz_full)" if nohz else "")]
    if in_irq:
        parts.append("in IRQ")
    parts.append("IRQs off" if irqs_off else "IRQs on")
    parts.append(f"preempt {preempt}")
    parts.append("locks: " + (", ".join(locks) if locks else "none"))
    parts.append(f"RCU nesting {rcu}")
    head = f"cpu{cpu}" + (f" [{who}]" if who else "")
    return f"{head}: " + ", ".join(parts)


def starting_state(world: World) -> list[str]:
    """The state the search starts from: the scenario's prefill and what it left on the lists."""
    out: list[str] = []
    sc = getattr(world, "scenario", None)
    if sc is not None:
        if sc.prefill:
            out.extend(f"prefill: cpu{cpu} allocated and freed {n} order-0 page(s) of zone{z}"
                       for cpu, z, n in sc.prefill)  # fmt: skip
        else:
            out.append("prefill: none (every pcp list starts empty)")
        nohz = ",".join(map(str, sc.nohz_full))
        out.append(f"kernel: {'PREEMPT_RT' if sc.preempt_rt else 'non-RT'}"
                   + (f", nohz_full={nohz}" if nohz else ""))  # fmt: skip
    out.extend(describe_state(world))
    return out


def record(world: World, schedule: list[int]) -> tuple[list[TraceStep], Violation | None]:
    """Replay ``schedule`` on a fresh ``world`` with every check on, recording each step."""
    steps: list[TraceStep] = []
    world.start_state = starting_state(world)  # type: ignore[attr-defined]
    violation = world.check_state()
    if violation is not None:
        return steps, violation
    kernel = world.kernel
    shown = {c.id: cpu_context(kernel, c) for c in kernel.cpus}
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
        kernel.trace_notes = []
        v = world.step(idx)
        notes = tuple(kernel.trace_notes)
        kernel.trace_notes = None
        changed = []
        for c in kernel.cpus:
            now = cpu_context(kernel, c)
            if now != shown[c.id]:
                shown[c.id] = now
                changed.append(context_text(c.id, now))
        if v is None:
            v = world.check_state()
        note = "blocks" if world.last_result is BLOCKED else ""
        if v is not None and v.kind in ("null-deref", "oops"):
            note = f"then {v.function} faults"
        steps.append(TraceStep(n, t.cpu, t.name, what, func, note, tuple(changed), notes))
        if v is not None:
            violation = v
            break
    if violation is None and not world.enabled():
        violation = world.at_end()
    if violation is None:
        # a predicted violation (pcplab.kernel.checks) is the report only when nothing concrete
        # happened; its schedule ends at the step that showed it
        violation = world.soft
    return steps, violation


_HEADLINE = {
    "list-race": "BUG: pcp list corruption: two CPUs inside one list set",
    "lock-not-held": "WARNING: lock not held (lockdep_assert_held / owner rule)",
    "data-race": "BUG: KCSAN: data-race",
    "lock-order": "WARNING: possible circular locking dependency detected",
    "inconsistent-lock-state": "WARNING: inconsistent lock state",
    "sleep-in-atomic": "BUG: sleeping function called from invalid context",
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
    start = getattr(world, "start_state", None)
    if start:
        lines.append("Starting state:")
        lines.extend("  " + x for x in start)
        lines.append("")
    lines.append(
        " step  cpu   task            op                                               function"
    )
    for s in steps:
        what = s.what + (f"  [{s.note}]" if s.note else "")
        lines.append(f" {s.n:4}  cpu{s.cpu:<2} {s.task:<15} {what:<48} {s.func}")
        for c in s.context:
            lines.append(f"{'':28}| {c}")
        for x in s.notes:
            lines.append(f"{'':28}note: {x}")
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
