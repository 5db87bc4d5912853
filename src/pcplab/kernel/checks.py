"""The checker's rules on top of the kernel's semantics: owner rules, data races and lockdep.

A :class:`Kernel` runs without them (the simulator); the interleaving checker switches them on
(``kernel.checks = Checks(kernel)``, done by :class:`pcplab.check.world.World`).  The kernel calls
the hooks below from its op implementations.  What they find:

* ``lock-not-held`` — an access announced with :class:`~pcplab.kernel.ops.Access` (``Load``,
  ``Store``, ``PcpEnter`` too) without a protection its owner rule (:mod:`pcplab.mm.owners`)
  lists.  A rule the kernel asserts (``lockdep_assert_held()``, ``rcu_dereference_check()``:
  ``OwnerRule.asserted``) is reported at once, as lockdep would; the others are predictions.
* ``data-race`` — KCSAN's definition on those accesses: two CPUs, at least one write, and no
  happens-before between them.  Happens-before is tracked with one vector clock per CPU (accesses
  of one CPU are ordered: two contexts of a CPU never run at once) and these edges: lock release
  -> next acquire (spinlocks, mutexes, trylocks), ``smp_store_release``/``rcu_assign_pointer`` ->
  a load-acquire/``rcu_dereference`` of the same field, ``queue_work_on`` -> the work running,
  the work's end -> ``flush_work`` returning, ``synchronize_rcu`` (every CPU's accesses before it
  started and every reader's section -> its return: RCU's memory-barrier guarantee),
  ``smp_call_function_single`` (caller -> handler -> caller), CPU offline -> ``WaitCpuDead``, and
  a barrier when the engine spawns a program (a scenario's prefill happens-before its programs).
  A common lock implies happens-before here (every lock acquire follows the previous release), so
  the lockset test is the vector clocks'.  Exempt, as KCSAN does: both accesses marked
  (``READ_ONCE``/``WRITE_ONCE``/``data_race()``), and a marked read racing with a plain aligned
  word-sized write (``CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC=y``, the default; v5.17
  ``lib/Kconfig.kcsan``).  Unlike KCSAN's default, two plain writes are reported (the model's
  list windows are not single words).
* ``lock-order`` — lockdep's circular dependency over lock *classes*
  (:func:`pcplab.kernel.locks.lock_class`): taking B while holding A adds A -> B; an acquisition
  that closes a cycle is reported with the other order's witness, whether it was taken in this
  execution or an earlier one of the same search (the graph lives as long as the search: see
  :func:`lock_memory`).  Trylocks add no dependency of their own (v5.17
  ``kernel/locking/lockdep.c`` validate_chain: "trylock can be done in any order").
* ``inconsistent-lock-state`` — lockdep's hard-IRQ usage rule: a spinlock class taken in IRQ
  context (an IPI handler, or declared in :data:`pcplab.mm.owners.IRQ_CONTEXT_LOCKS`) and also held
  with IRQs enabled.  Not on PREEMPT_RT for sleeping spinlocks (they are never taken in hard IRQ).

These four (lock-not-held of rules the kernel does not assert) are *predictions*: nothing has gone wrong yet in the execution that shows them.  They
are kept in :attr:`Checks.soft` (the first one) and the execution goes on; the explorer reports
one only when its search finds no concrete failure (a lost page, a double allocation, a list
race, a deadlock, ...), which is what the broken rule leads to when the search can reach it.
The exception: an acquisition that both sleeps in atomic context and closes a lock-order cycle
(``mutex_lock`` under a spinlock, the AB-BA's second half) is reported at once as ``lock-order``,
the root cause; :meth:`Kernel._mutex_lock` raises it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pcplab.kernel.ownership import _cache as _rules
from pcplab.kernel.ownership import holds, protection_text, rule_for
from pcplab.mm.owners import IRQ_CONTEXT_LOCKS

_clocks: dict[int, list[list[int]]] = {}


def _initial_clocks(n: int) -> list[list[int]]:
    c = _clocks.get(n)
    if c is None:
        c = _clocks[n] = [[1 if i == cpu else 0 for i in range(n)] for cpu in range(n)]
    return c


class Finding(NamedTuple):
    kind: str
    message: str
    func: str
    cpu: int | None
    task: str
    details: tuple[str, ...] = ()


class LockGraph:
    """lockdep's dependency graph and usage bits over lock classes, shared by every execution of
    one search (:func:`lock_memory`)."""

    def __init__(self) -> None:
        self.after: dict[str, dict[str, str]] = {}  # class -> {later class: witness}
        self.in_irq: dict[str, str] = dict(IRQ_CONTEXT_LOCKS)  # class -> witness
        self.irq_on: dict[str, str] = {}  # class -> witness (held with IRQs enabled)

    def path(self, src: str, dst: str) -> list[str] | None:
        """A dependency chain src -> ... -> dst, if the graph has one."""
        if src == dst:
            return [src]
        seen = {src}
        todo: list[tuple[str, list[str]]] = [(src, [src])]
        while todo:
            node, p = todo.pop()
            for nxt in self.after.get(node, ()):
                if nxt == dst:
                    return p + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, p + [nxt]))
        return None


_memory: dict[Any, LockGraph] = {}


def lock_memory(key: Any) -> LockGraph:
    """The graph of search ``key`` (a design name); None: a private one."""
    if key is None:
        return LockGraph()
    g = _memory.get(key)
    if g is None:
        g = _memory[key] = LockGraph()
    return g


def forget_lock_memory() -> None:
    """Start every graph afresh (the explorer calls it when a search starts, so a search's
    result never depends on an earlier one in the same process)."""
    _memory.clear()


class Checks:
    """The per-execution state of the rules (vector clocks, access history) plus the shared
    lock graph.  ``memory_key``: which search's lock graph to use (resolved lazily: a world
    learns its design after building its kernel)."""

    def __init__(self, kernel: Any, memory_key: Any = None, resolve_key: Any = None,
                 learn_from: Any = None) -> None:  # fmt: skip
        n = kernel.nr_cpus
        self.kernel = kernel
        self.n = n
        self.vc: list[list[int]] = [row[:] for row in _initial_clocks(n)]
        self._bar: list[list[int]] | None = None
        self.sync: dict[Any, list[int]] = {}
        self.hist: dict[tuple[int, str], list[Any]] = {}
        self.soft: Finding | None = None
        self._graph: LockGraph | None = None
        if resolve_key is None:
            self._graph = lock_memory(memory_key)
        self._resolve_key = resolve_key
        self.gp_start: dict[int, list[int]] = {}
        self._pcp_mode: str | None = None
        # lockdep learns only from the tasks of the search, not from a world's setup (a
        # scenario's prefill), so a cloned world and a rebuilt one learn the same: ``learn_from``
        # returns the first task index to learn from, or None while the world is being set up
        self._learn_from = learn_from
        self._learn_min: int | None = 0 if learn_from is None else None

    @property
    def graph(self) -> LockGraph:
        g = self._graph
        if g is None:
            g = self._graph = lock_memory(self._resolve_key())
        return g

    # --- happens-before ------------------------------------------------------------------------

    def release(self, cpu: int, key: Any) -> None:
        v = self.vc[cpu]
        self.sync[key] = v[:]
        v[cpu] += 1

    def acquire(self, cpu: int, key: Any) -> None:
        s = self.sync.get(key)
        if s is not None:
            v = self.vc[cpu]
            for i, x in enumerate(s):  # (a loop: map(max, ...) is three times slower)
                if x > v[i]:
                    v[i] = x

    def join_cpu(self, dst: int, src: int) -> None:
        """Everything ``src`` did so far happens-before what ``dst`` does next."""
        if dst == src:
            return
        s = self.vc[src]
        v = self.vc[dst]
        for i, x in enumerate(s):
            if x > v[i]:
                v[i] = x
        s[src] += 1

    def barrier(self) -> None:
        """Everything so far happens-before everything after (the engine spawning a program)."""
        if self._bar is not None and self._bar == self.vc:
            return  # nothing happened since the last barrier (spawns come in a row)
        top = [max(col) for col in zip(*self.vc, strict=True)]
        for c, v in enumerate(self.vc):
            v[:] = top
            v[c] += 1
        self._bar = [v[:] for v in self.vc]

    def gp_begin(self, task: Any) -> None:
        snap = [max(col) for col in zip(*self.vc, strict=True)]
        for c, v in enumerate(self.vc):
            if c != task.cpu:
                v[c] += 1
        self.gp_start[task.index] = snap

    def gp_end(self, task: Any, readers: Any) -> None:
        v = self.vc[task.cpu]
        snap = self.gp_start.pop(task.index, None)
        if snap is not None:
            for i, x in enumerate(snap):
                if x > v[i]:
                    v[i] = x
        for t, _seq in readers or ():
            self.join_cpu(task.cpu, t.cpu)

    # --- accesses --------------------------------------------------------------------------------

    def _pcp_mode_of_state(self) -> str:
        """How the design protects pcp lists: ``"lock"`` (a pcp->lock), ``"spin"`` (attempt [1]
        with its static key on) or ``"local"`` (IRQs off / local_lock on the owning CPU)."""
        st = self.kernel.state
        mode = (
            "lock" if getattr(st, "pcp_lock", None)
            else "spin" if getattr(st, "remote_pcpu_cache_access", False) else "local"
        )  # fmt: skip
        if st is not None:
            self._pcp_mode = mode
        return mode

    def access(
        self,
        task: Any,
        obj: Any,
        field: str,
        write: bool,
        owner: int | None,
        marked: bool,
        word: bool,
        func: str,
    ) -> None:
        try:  # the cache first: a miss happens once per (type, field)
            rule = _rules[(type(obj), field)]
        except KeyError:
            rule = rule_for(obj, field)
        if rule is not None:
            need = rule.write if write else rule.read
            if need:
                for p in need:
                    if p == "pcp":
                        mode = self._pcp_mode or self._pcp_mode_of_state()
                        # the common case without lookups: a local-lock design's owner, IRQs off
                        ok = (mode == "local" and task.cpu == owner and task.irq_depth) or holds(
                            self.kernel, task, p, obj, owner
                        )
                    elif p == "rcu":
                        ok = task.irq_depth or task.preempt or task.rcu_nest or task.rt_locks
                    else:
                        ok = holds(self.kernel, task, p, obj, owner)
                    if ok:
                        if rule.exclusive:
                            return  # every access of it takes this lock: no race possible
                        break
                else:
                    if self.soft is None or rule.asserted:
                        self._not_held(task, obj, field, write, owner, func, rule, need)
        if self.soft is not None:
            return  # one prediction per execution: the race bookkeeping has done its job
        cpu = task.cpu
        v = self.vc[cpu]
        me = (cpu, v[cpu], marked, word, write, task, func)
        hist = self.hist
        key = (id(obj), field)
        h = hist.get(key)
        if h is None:
            hist[key] = [me, {}] if write else [None, {cpu: me}]
            return
        last, reads = h
        if last is not None and last[0] != cpu and v[last[0]] < last[1] and not _exempt(last, me):
            self._race(task, obj, field, last, me)
        if write:
            for rc, r in reads.items():
                if rc != cpu and v[rc] < r[1] and not _exempt(r, me):
                    self._race(task, obj, field, r, me)
                    break
            h[0] = me
            h[1] = {}
        else:
            reads[cpu] = me

    def _not_held(self, task: Any, obj: Any, field: str, write: bool, owner: int | None,
                  func: str, rule: Any, need: tuple[str, ...]) -> None:  # fmt: skip
        k = self.kernel
        prot = " or ".join(protection_text(k, p, obj, owner) for p in need)
        where = field if obj is None else f"{_name(obj)}->{field}"
        msg = (f"{'write' if write else 'read'} of {where} ({rule.what}) by cpu{task.cpu} "
               f"({task.name}, {func or '?'}) without {prot}")  # fmt: skip
        details = [f"owner rule: {rule.what}: {'writes' if write else 'reads'} need {prot}",
                   f"  kernel source: {rule.source}"]  # fmt: skip
        details += self.held_lines()
        f = Finding("lock-not-held", msg, func, task.cpu, task.name, tuple(details))
        if rule.asserted:
            from pcplab.kernel.state import CheckViolation

            raise CheckViolation(f)  # lockdep_assert_held() fires where the access is
        self.soft = f

    def _race(self, task: Any, obj: Any, field: str, other: tuple, me: tuple) -> None:
        def say(a: tuple) -> str:
            how = ("marked " if a[2] else "plain ") + ("write" if a[4] else "read")
            return f"{how} by cpu{a[0]} ({a[5].name}, {a[6] or '?'})"

        where = field if obj is None else f"{_name(obj)}->{field}"
        msg = (f"data race on {where}: {say(me)} and {say(other)}, no common lock and no "
               "happens-before between them")  # fmt: skip
        details = ["KCSAN: two CPUs, at least one write, at least one plain access, not ordered",
                   f"  {say(other)} came first"]  # fmt: skip
        details += self.held_lines()
        self.soft = Finding("data-race", msg, me[6], task.cpu, task.name, tuple(details))

    def held_lines(self) -> list[str]:
        out = []
        for c in self.kernel.cpus:
            r = c.running
            locks = ", ".join(str(x) for x in c.held_locks) or "no locks"
            who = f" ({r.name})" if r is not None else ""
            out.append(f"  cpu{c.id}{who}: {locks}, IRQs {'off' if c.irq_depth else 'on'}")
        return out

    # --- lockdep ---------------------------------------------------------------------------------

    def on_lock(self, task: Any, lock: Any, op: Any, trylock: bool, irqs_off_after: bool,
                spinning: bool, keep: bool = True) -> Finding | None:  # fmt: skip
        """At an acquisition attempt (before waiting).  A lock-order finding (an acquisition that
        closes a cycle) is kept as :attr:`soft` (``keep``) or returned for the caller to report."""
        found = None
        if not task.held and (not spinning or (irqs_off_after and task.kind != "irq")):
            return None  # nothing to order against, no IRQ usage to record
        lm = self._learn_min
        if lm is None:
            lm = self._learn_min = self._learn_from()
            if lm is None:
                return None  # still setting up
        if task.index < lm:
            return None
        g = self.graph
        cls = lock.cls
        if not trylock and task.held:
            after = g.after
            for h in task.held:
                hc = h.cls
                if hc == cls:
                    continue
                edges = after.get(hc)
                if edges is not None and cls in edges:
                    continue
                chain = g.path(cls, hc)
                if chain is not None:
                    if found is None:
                        found = self._order(task, lock, h, chain, op)
                    continue
                after.setdefault(hc, {})[cls] = (
                    f"cpu{task.cpu} ({task.name}) took {cls} while holding {hc} in "
                    f"{getattr(op, 'func', '') or '?'}"
                )
        if spinning:
            func = getattr(op, "func", "") or ""
            if task.kind == "irq":
                if cls not in g.in_irq:
                    g.in_irq[cls] = f"cpu{task.cpu} ({task.name}) in IRQ context, {func}"
                w = g.irq_on.get(cls)
                if w is not None and self.soft is None:
                    self._inconsistent(task, lock, "{IN-HARDIRQ-W}", w, func)
            elif not irqs_off_after:
                if cls not in g.irq_on:
                    g.irq_on[cls] = f"cpu{task.cpu} ({task.name}) with IRQs enabled, {func}"
                w = g.in_irq.get(cls)
                if w is not None and self.soft is None:
                    self._inconsistent(task, lock, "{HARDIRQ-ON-W}", w, func)
        if keep and found is not None:
            if self.soft is None:
                self.soft = found
            return None
        return found

    def _order(self, task: Any, lock: Any, held: Any, chain: list[str], op: Any) -> Finding:
        g = self.graph
        func = getattr(op, "func", "") or ""
        lines = [f"cpu{task.cpu} ({task.name}) is trying to take {lock.cls} ({lock}) in "
                 f"{func or '?'} while holding {held.cls} ({held})",
                 "  existing dependency chain (the other order):"]  # fmt: skip
        for a, b in zip(chain, chain[1:], strict=False):
            lines.append(f"    {a} -> {b}: {g.after[a][b]}")
        lines += self.held_lines()
        msg = (f"possible circular locking dependency: {held.cls} -> {lock.cls} here, "
               f"{' -> '.join(chain)} before")  # fmt: skip
        return Finding("lock-order", msg, func, task.cpu, task.name, tuple(lines))

    def _inconsistent(self, task: Any, lock: Any, usage: str, witness: str, func: str) -> None:
        other = "{HARDIRQ-ON-W}" if usage == "{IN-HARDIRQ-W}" else "{IN-HARDIRQ-W}"
        msg = (
            f"inconsistent {other} -> {usage} usage of {lock.cls}: cpu{task.cpu} "
            f"({task.name}) takes {lock} in {func or '?'} "
            + ("in IRQ context" if usage == "{IN-HARDIRQ-W}" else "with IRQs enabled")
        )
        details = (f"  the other usage: {witness}",
                   "  an interrupt taking this lock on a CPU that holds it with IRQs on "
                   "deadlocks that CPU", *self.held_lines())  # fmt: skip
        self.soft = Finding("inconsistent-lock-state", msg, func, task.cpu, task.name, details)

    def keep(self, f: Finding | None) -> None:
        if f is not None and self.soft is None:
            self.soft = f


def _exempt(a: tuple, b: tuple) -> bool:
    """KCSAN's exemptions for two conflicting accesses ``(cpu, epoch, marked, word, write,..)``."""
    if a[2] and b[2]:
        return True
    # a marked read vs a plain aligned word write (KCSAN_ASSUME_PLAIN_WRITES_ATOMIC)
    if a[2] and not a[4] and b[4] and b[3] and not b[2]:
        return True
    return bool(b[2] and not b[4] and a[4] and a[3] and not a[2])


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", None) or type(obj).__name__)


__all__ = ["Checks", "Finding", "LockGraph", "forget_lock_memory", "lock_memory"]
