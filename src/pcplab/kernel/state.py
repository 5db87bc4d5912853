"""Kernel services both engines drive: CPUs, tasks, locks, RCU, workqueues, IPIs.

No costs and no scheduling policy live here: an engine (the simulator or the checker) decides which
enabled task runs next and what each step costs.  This module only says what an op *means*.

API (what an engine uses)
-------------------------
``k = Kernel(nr_cpus, preempt_rt=False, nohz_full=frozenset(), machine=None)``
    ``k.machine`` and ``k.state`` (the design's global state, set by the engine from
    ``design.setup``) are reachable from every task as ``ctx.machine`` / ``ctx.state``.
``t = k.spawn(cpu, fn, args=(), name=None, prime=False)``
    create a *program* task running generator function ``fn(ctx, *args)`` pinned to ``cpu`` (tasks
    never migrate, except a kworker whose CPU goes offline, see below).  The :class:`Task` **is** the ``ctx`` designs receive: ``ctx.cpu``,
    ``ctx.kernel``, ``ctx.machine``, ``ctx.state``.  ``prime=True`` runs the code before the first
    ``yield`` now (saves one scheduling point).
``k.enabled_tasks()``
    the tasks that may take a step now, in a deterministic order (CPU id, then current task, then
    IRQ, then others in spawn order).  Per CPU: an active IRQ handler runs alone; a pending IPI can
    start when the running task has IRQs enabled; the current task may continue; another task on the
    CPU may be switched to only if the current one is preemptible (IRQs on, preempt count 0 — e.g.
    asleep on a mutex) or finished.  A context switch is an RCU quiescent state (RCU readers are
    tracked per task, so a preempted ``rcu_read_lock()`` section on RT still holds a grace period).
    A blocked task is listed only once what it waits for has happened (it then retries its op).
``k.enabled_indices()``
    ``[t.index for t in k.enabled_tasks()]`` without the intermediate list (the checker's loop).
``k.step(task) -> op | None | BLOCKED``
    one scheduling point: execute the task's pending op (``task.op``) and, unless that returns
    :data:`BLOCKED`, send the result into the generator and run the design's plain code up to the
    next ``yield`` (which becomes ``task.op``).  Returns the executed op (``None`` for the first step
    of an unprimed task).  Exceptions raised by design code propagate unchanged (the checker turns an
    ``AttributeError`` on ``None`` into an oops).  Lock-discipline errors raise
    :class:`KernelViolation`.
``k.execute(task, op)``
    the op semantics alone (result or :data:`BLOCKED`); ``step`` calls it.
``k.wait_key(task)``
    what a blocked task waits for: ``("spinlock", lock, owner)``, ``("mutex", lock, owner)``,
    ``("local_lock", lock, cpu, owner)``, ``("rcu_gp", (tasks...))``, ``("flush_work", work)``,
    ``("ipi", irq_task)``, ``("work", cpu)`` (an idle kworker), ``("cpu_dead", cpu)``,
    ``("cpu_down", cpu)`` (going offline: waits for pending IPIs and a running work item);
    ``None`` when not blocked.  ``task.spinning`` is True when the wait is a busy-wait that
    keeps the CPU (non-RT spinlock, ``smp_call_function_single`` waiting).
``k.runnable(cpu)``, ``k.can_run(task)``
    the same per CPU; whether a task's wait is over (ignoring its CPU).
``k.unfinished()``
    non-daemon tasks that have not finished (kworkers are daemons; tasks left on a CPU that went
    offline are not counted).  No enabled task and a non-empty ``unfinished()`` is a deadlock.
``k.events``
    when ``k.record_events`` is True, a list of :class:`KernelEvent` the simulator consumes (and
    clears): ``"ipi"`` (``smp_call_function_single``), ``"rcu_exp_ipi"`` (an expedited grace period
    IPIs a CPU that is not in an extended quiescent state), ``"work_queued"`` (a kworker woken on
    ``dst``), ``"gp_start"`` / ``"gp_end"`` (normal or expedited grace period waits).
``k.cpus[i]``: :class:`Cpu` with ``id``, ``online``, ``nohz_full``, ``current``, ``irq`` (active
    IRQ task), ``pending_irqs``, ``worklist``, ``kworker``, ``tasks`` and properties ``mode``
    (``"user" | "kernel" | "idle" | "offline"``), ``irq_depth``, ``preempt_count``,
    ``migrate_disable``, ``rcu_nesting``, ``held_locks``, ``in_eqs`` (RCU extended quiescent state).
``k.state_key()``: hashable summary of kernel state (lock owners, contexts, work, IPIs, grace
    periods) for the checker's state cache.

Semantics (sources: ``docs/internals.md``; kernel-pcp.md §3.4, §9, §16)
-----------------------------------------------------------------------
* Spinlock, non-RT: ``preempt_disable`` (and IRQs off for ``irqsave``) then spin; spinning keeps
  the CPU busy and non-preemptible.  PREEMPT_RT (``Kernel(preempt_rt=True)``, non-raw lock): a
  sleeping lock; once taken the task is migrate-disabled and an RCU reader; ``irqsave`` leaves IRQs
  on; taking it with IRQs or preemption disabled is "sleeping in atomic context".
* Mutex: sleeping; illegal with IRQs off, preemption off or inside an RCU reader.
* local_lock: non-RT disables IRQs (no lock word); RT: migrate_disable + this CPU's lock instance +
  RCU reader (``local_lock_internal.h``; §3.4).
* RCU readers: any task with IRQs off, preemption off, ``rcu_read_lock`` or an RT spinlock held.
  ``synchronize_rcu`` waits for every reader section that had begun when it was called (other
  tasks; it returns at once if there is none).  Idle, offline and nohz_full user mode are extended
  quiescent states: no task there can be a reader, so they never hold a grace period and are never
  interrupted by a normal GP.  The expedited variant records an IPI for every other online CPU not
  in an EQS (§16: ``sync_rcu_exp_select_node_cpus`` skips EQS CPUs).
* Workqueues: one bound kworker per CPU (created on first use), which runs queued items in FIFO
  order only when its CPU schedules it.  ``queue_work_on`` returns False if the item is pending.
  ``flush_work`` sleeps until the item is neither pending nor running.
  When a CPU goes offline its kworker is moved to the lowest online CPU and keeps running the
  items queued for the dead CPU there (the kernel hands them to an unbound pool;
  ``drain_local_pages_wq`` then drains "whatever CPU it lands on", §9.2), so ``ctx.cpu`` is the
  CPU it now runs on.
* IPIs: ``IpiCall`` (``smp_call_function_single(wait=True)``) pins the caller (``get_cpu``), which
  then busy-waits; the handler runs as an IRQ task on the target once its running task has IRQs
  enabled.  Calling it with IRQs disabled is a lock violation; an offline target returns False.
* ``GoOffline``: legal only in a clean context; waits until this CPU's pending IPIs have run and
  its kworker is between items, marks the CPU offline and ends the task.  ASSUMPTION: other programs pinned to that CPU simply stop.
* ``WaitCpuDead(cpu)`` sleeps until that CPU is offline (the hotplug control task);
  ``Checkpoint`` is a no-op step at which an engine observes global state.
* ``EnterUser``/``GoIdle`` need a clean context (no locks, IRQs on, preemption on, no RCU reader,
  no pcp window).  Any other op issued in user/idle mode first enters the kernel (a syscall/fault).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pcplab.kernel import ops
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock


class _Blocked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLOCKED"

    def __bool__(self) -> bool:
        return False


BLOCKED: Any = _Blocked()
"""Returned by :meth:`Kernel.execute` / :meth:`Kernel.step` when the op cannot complete yet."""


class KernelViolation(Exception):
    """A lock-discipline or context error the kernel would catch (lockdep, might_sleep, BUG_ON).

    ``kind``: ``"sleep-in-atomic"``, ``"self-deadlock"``, ``"unlock-not-held"``, ``"imbalance"``,
    ``"held-at-exit"``, ``"bad-context"``, ``"list-race"`` (two CPUs inside the same pcp list set)
    or a rule of the checker (:class:`CheckViolation`, ``"lock-order"``).  The checker maps them
    to its kinds with :data:`pcplab.kernel.oops.KERNEL_KINDS`.
    """

    def __init__(self, kind: str, message: str, func: str = "", cpu: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.func = func
        self.cpu = cpu


class CheckViolation(KernelViolation):
    """A finding of the checker's rules (:mod:`pcplab.kernel.checks`) reported at once."""

    def __init__(self, finding: Any) -> None:
        super().__init__(finding.kind, finding.message, finding.func, finding.cpu)
        self.finding = finding


class KernelEvent(NamedTuple):
    kind: str
    src: int | None
    dst: int | None
    func: str


class _WaitForWork(ops.Op):
    """Internal op of a kworker: sleep until its CPU's worklist has an item; returns the item."""

    __slots__ = ()

    def describe(self) -> str:
        return "worker_thread: wait for work"


class Task:
    """A task (and the ``ctx`` a design's generator receives)."""

    __slots__ = (
        "name", "cpu", "kind", "kernel", "gen", "op", "done", "retval", "index",
        "irq_depth", "irq_base", "preempt", "migrate", "rcu_nest", "rt_locks", "held", "mode",
        "qs_seq", "wait", "gp", "irq_task", "windows", "daemon", "steps", "kill", "spinning",
        "work", "pool",
    )  # fmt: skip

    def __init__(self, kernel: Kernel, cpu: int, name: str, kind: str, index: int) -> None:
        self.kernel = kernel
        self.cpu = cpu
        self.name = name
        self.kind = kind  # "program" | "kworker" | "irq"
        self.index = index
        self.gen: Any = None
        self.op: ops.Op | None = None  # pending op (None: not started)
        self.done = False
        self.retval: Any = None
        self.irq_depth = 1 if kind == "irq" else 0
        self.irq_base = self.irq_depth
        self.preempt = 0
        self.migrate = 0
        self.rcu_nest = 0
        self.rt_locks = 0  # RT sleeping spinlocks / local locks held: implied RCU readers
        self.held: list[Any] = []
        self.mode = "kernel"
        self.qs_seq = 0  # bumped each time the task leaves an RCU reader section
        self.wait: ops.Op | None = None  # the op it is blocked on
        self.gp: list[tuple[Task, int]] | None = None
        self.irq_task: Task | None = None
        self.windows: dict[int, int] = {}  # id(pcp lists) -> nesting
        self.daemon = kind == "kworker"
        self.steps = 0
        self.kill = False
        self.spinning = False
        self.work: ops.WorkItem | None = None  # kworker: the item it is running
        self.pool = cpu  # kworker: the CPU whose worklist it serves

    # --- ctx interface for designs -----------------------------------------------------------
    @property
    def machine(self) -> Any:
        return self.kernel.machine

    @property
    def state(self) -> Any:
        return self.kernel.state

    def is_reader(self) -> bool:
        return bool(self.irq_depth or self.preempt or self.rcu_nest or self.rt_locks)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


class Cpu:
    __slots__ = (
        "id", "online", "nohz_full", "current", "irq", "pending_irqs", "worklist", "kworker",
        "tasks", "parked_user",
    )  # fmt: skip

    def __init__(self, cpu_id: int, nohz_full: bool) -> None:
        self.id = cpu_id
        self.online = True
        self.nohz_full = nohz_full
        self.current: Task | None = None
        self.irq: Task | None = None
        self.pending_irqs: deque[Task] = deque()
        self.worklist: deque[ops.WorkItem] = deque()
        self.kworker: Task | None = None
        self.tasks: list[Task] = []
        #: a program task of this nohz_full CPU ended in user mode: the CPU stays in user mode
        self.parked_user = False

    @property
    def running(self) -> Task | None:
        """The context executing on this CPU: the IRQ handler if one is active, else the current
        task (None when nothing runs)."""
        if self.irq is not None:
            return self.irq
        cur = self.current
        return None if cur is None or cur.done else cur

    @property
    def mode(self) -> str:
        if not self.online:
            return "offline"
        if self.irq is not None:
            return "kernel"
        cur = self.running
        if cur is None:
            # an isolated CPU whose task returned to user space keeps running there when that
            # task's program is over (its user loop is not); RCU sees an EQS either way
            return "user" if self.parked_user else "idle"
        if cur.wait is not None and not cur.spinning:
            return "idle"  # its task sleeps: the CPU idles
        return cur.mode

    @property
    def in_eqs(self) -> bool:
        """RCU extended quiescent state: offline, idle, or user mode on a nohz_full CPU."""
        m = self.mode
        return m in ("offline", "idle") or (m == "user" and self.nohz_full)

    @property
    def irq_depth(self) -> int:
        r = self.running
        return r.irq_depth if r else 0

    @property
    def preempt_count(self) -> int:
        r = self.running
        return r.preempt if r else 0

    @property
    def migrate_disable(self) -> int:
        r = self.running
        return r.migrate if r else 0

    @property
    def rcu_nesting(self) -> int:
        r = self.running
        return (r.rcu_nest + r.rt_locks) if r else 0

    @property
    def held_locks(self) -> list[Any]:
        r = self.running
        return list(r.held) if r else []


class Kernel:
    """CPUs, tasks and the kernel services; see the module docstring."""

    def __init__(
        self,
        nr_cpus: int,
        *,
        preempt_rt: bool = False,
        nohz_full: Iterable[int] = frozenset(),
        machine: Any = None,
    ) -> None:
        if nr_cpus < 1:
            raise ValueError("nr_cpus must be >= 1")
        nohz = frozenset(nohz_full)
        self.nr_cpus = nr_cpus
        self.preempt_rt = preempt_rt
        self.nohz_full = nohz
        self.machine = machine
        self.state: Any = None
        self.cpus = [Cpu(i, i in nohz) for i in range(nr_cpus)]
        self.tasks: list[Task] = []
        self.owner: dict[Any, Task] = {}  # id(lock) or (id(local lock), cpu) -> owner
        self.pcp_windows: dict[int, tuple[Task, Any, str]] = {}
        self.record_events = True
        self.events: list[KernelEvent] = []
        #: the checker's rules (pcplab.kernel.checks.Checks), None in the simulator
        self.checks: Any = None
        #: set to a list while a counterexample is recorded: designs note silent decisions there
        self.trace_notes: list[str] | None = None
        # dispatch tables are class-level (_EXEC, _READY below): a Kernel is cheap to build

    # --- tasks ----------------------------------------------------------------------------------

    def spawn(
        self,
        cpu: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        name: str | None = None,
        prime: bool = False,
        kind: str = "program",
    ) -> Task:
        """Create a task running ``fn(ctx, *args)`` (a generator function) pinned to ``cpu``."""
        if not 0 <= cpu < self.nr_cpus:
            raise ValueError(f"cpu {cpu} out of range 0..{self.nr_cpus - 1}")
        task = Task(
            self, cpu, name or f"{getattr(fn, '__name__', 'task')}/{cpu}", kind, len(self.tasks)
        )
        task.gen = fn(task, *args)
        self.tasks.append(task)
        if kind == "program" and self.checks is not None:
            self.checks.barrier()  # spawned by the engine between steps: after all so far
        if kind == "irq":
            self.cpus[cpu].pending_irqs.append(task)
        else:
            self.cpus[cpu].tasks.append(task)
        if prime:
            self._resume(task, None)
        return task

    def kworker(self, cpu: int) -> Task:
        """The bound kworker of ``cpu`` (created on first use)."""
        c = self.cpus[cpu]
        if c.kworker is None:
            c.kworker = self.spawn(
                cpu, self._kworker_main, name=f"kworker/{cpu}:1", prime=True, kind="kworker"
            )
            if not c.online:
                self._unbind_kworker(c)
        return c.kworker

    def _unbind_kworker(self, c: Cpu) -> None:
        """CPU ``c`` is offline: its kworker keeps serving ``c``'s worklist from the lowest online
        CPU, like the unbound pool the kernel moves the work to (``ctx.cpu`` is where it runs)."""
        kw = c.kworker
        online = [x for x in self.cpus if x.online]
        if kw is None or not online or kw.cpu != c.id:
            return
        target = online[0]
        c.tasks.remove(kw)
        kw.cpu = target.id
        kw.name = f"kworker/u{c.id}:1"
        target.tasks.append(kw)

    def _kworker_main(self, task: Task) -> Any:
        while True:
            work = yield _WaitForWork(func="worker_thread")
            task.work = work
            yield from work.fn(task, *work.args)
            if self.checks is not None:
                self.checks.release(task.cpu, ("done", id(work)))
            work.running = False
            task.work = None
            self._check_clean(task, f"work item {work.name}", ops.Op("process_one_work"))

    def enabled_tasks(self) -> list[Task]:
        out: list[Task] = []
        for cpu in self.cpus:
            self._cpu_enabled(cpu, out)
        return out

    def enabled_indices(self) -> list[int]:
        """``[t.index for t in enabled_tasks()]``, inlined for the checker's inner loop (keep the
        two in step: ``tests/kernel`` compares them)."""
        out: list[int] = []
        ready = _READY
        for cpu in self.cpus:
            irq = cpu.irq
            if irq is not None:
                w = irq.wait
                if w is None or ready[type(w)](self, irq, w):
                    out.append(irq.index)
                continue
            if not cpu.online:
                continue
            cur = cpu.current
            if cur is not None:
                if cur.done:
                    cur = None
                else:
                    w = cur.wait
                    if w is None or ready[type(w)](self, cur, w):
                        out.append(cur.index)
            if cpu.pending_irqs and (cur is None or cur.irq_depth == 0):
                out.append(cpu.pending_irqs[0].index)
            if cur is None or (cur.irq_depth == 0 and cur.preempt == 0):
                for t in cpu.tasks:
                    if t is not cur and not t.done:
                        w = t.wait
                        if w is None or ready[type(w)](self, t, w):
                            out.append(t.index)
        return out

    def _can_run(self, t: Task) -> bool:
        w = t.wait
        return w is None or _READY[type(w)](self, t, w)

    def can_run(self, t: Task) -> bool:
        """True unless ``t`` is blocked on something that has not happened yet (it ignores
        whether its CPU would let it run; see :meth:`runnable`)."""
        return self._can_run(t)

    def runnable(self, cpu: int) -> list[Task]:
        """The tasks that may take a step on ``cpu`` now (see :meth:`enabled_tasks`)."""
        out: list[Task] = []
        self._cpu_enabled(self.cpus[cpu], out)
        return out

    def _cpu_enabled(self, cpu: Cpu, out: list[Task]) -> None:
        irq = cpu.irq
        if irq is not None:
            if self._can_run(irq):
                out.append(irq)
            return
        if not cpu.online:
            return
        cur = cpu.current
        if cur is not None and cur.done:
            cur = None
        if cur is not None and self._can_run(cur):
            out.append(cur)
        if cpu.pending_irqs and (cur is None or cur.irq_depth == 0):
            out.append(cpu.pending_irqs[0])
        if cur is None or (cur.irq_depth == 0 and cur.preempt == 0):
            for t in cpu.tasks:
                if t is not cur and not t.done and self._can_run(t):
                    out.append(t)

    def unfinished(self) -> list[Task]:
        return [
            t
            for t in self.tasks
            if not t.done and not t.daemon and (t.kind == "irq" or self.cpus[t.cpu].online)
        ]

    def step(self, task: Task) -> Any:
        cpu = self.cpus[task.cpu]
        if task.kind == "irq":
            if cpu.irq is None:
                cpu.pending_irqs.popleft()
                cpu.irq = task
        elif cpu.online:
            cpu.current = task
        task.steps += 1
        op = task.op
        if op is None:
            self._resume(task, None)
            return None
        # execute() and _resume() inlined: this is the checker's innermost loop
        tp = type(op)
        if task.mode != "kernel" and tp not in _CONTEXT_OPS:
            task.mode = "kernel"  # implicit syscall / fault entry
        fn = _EXEC.get(tp)
        if fn is None:
            raise TypeError(f"{task.name} yielded {op!r}, which is not a pcplab.kernel.ops.Op")
        res = fn(self, task, op)
        if res is BLOCKED:
            return BLOCKED
        if task.kill:
            task.gen.close()
            self._finish(task, None)
            return op
        try:
            task.op = task.gen.send(res)
        except StopIteration as stop:
            task.op = None
            self._finish(task, stop.value)
        return op

    def _resume(self, task: Task, value: Any) -> None:
        try:
            task.op = task.gen.send(value)
        except StopIteration as stop:
            task.op = None
            self._finish(task, stop.value)

    def _finish(self, task: Task, value: Any) -> None:
        task.done = True
        task.retval = value
        cpu = self.cpus[task.cpu]
        if task.kind == "irq":
            if cpu.irq is task:
                cpu.irq = None
        elif cpu.current is task:
            cpu.current = None
            cpu.parked_user = task.kind == "program" and task.mode == "user" and cpu.nohz_full
        if not task.kill:
            self._check_clean(task, "task exit", ops.Op(getattr(task.gen, "__name__", "")))

    def _check_clean(self, task: Task, where: str, op: ops.Op) -> None:
        problems = []
        if task.held:
            problems.append("holding " + ", ".join(str(x) for x in task.held))
        if task.irq_depth != task.irq_base:
            problems.append("with IRQs disabled")
        if task.preempt:
            problems.append(f"with preempt count {task.preempt}")
        if task.rcu_nest:
            problems.append("inside rcu_read_lock()")
        if task.migrate:
            problems.append("with migration disabled")
        if task.windows:
            problems.append("inside a pcp list window")
        if problems:
            self._violation(
                "held-at-exit", f"{task.name}: {where} " + " and ".join(problems), task, op
            )

    # --- op semantics ---------------------------------------------------------------------------

    def execute(self, task: Task, op: Any) -> Any:
        if task.mode != "kernel" and type(op) not in _CONTEXT_OPS:
            task.mode = "kernel"  # implicit syscall / fault entry
        fn = _EXEC.get(type(op))
        if fn is None:
            raise TypeError(f"{task.name} yielded {op!r}, which is not a pcplab.kernel.ops.Op")
        return fn(self, task, op)

    def _violation(self, kind: str, msg: str, task: Task, op: Any) -> None:
        raise KernelViolation(kind, msg, getattr(op, "func", "") or "", task.cpu)

    def _event(self, kind: str, src: int | None, dst: int | None, func: str) -> None:
        if self.record_events:
            self.events.append(KernelEvent(kind, src, dst, func))

    def _qs(self, task: Task) -> None:
        if not (task.irq_depth or task.preempt or task.rcu_nest or task.rt_locks):
            task.qs_seq += 1

    def _might_sleep(self, task: Task, op: Any, what: str, rt_lock: bool = False) -> None:
        # an RT sleeping spinlock may be taken inside rcu_read_lock() or another RT spinlock
        # (preemptible RCU), but never with IRQs or preemption disabled
        if task.irq_depth or task.preempt or (not rt_lock and (task.rcu_nest or task.rt_locks)):
            ctx = []
            if task.irq_depth:
                ctx.append("IRQs disabled" if task.kind != "irq" else "in IRQ context")
            if task.preempt:
                ctx.append(f"preempt count {task.preempt}")
            if task.rcu_nest or task.rt_locks:
                ctx.append("inside an RCU read-side section")
            self._violation(
                "sleep-in-atomic",
                f"BUG: sleeping function called from invalid context: {what} with "
                + ", ".join(ctx),
                task,
                op,
            )

    def _nop(self, task: Task, op: Any) -> None:
        return None

    def _nop_user(self, task: Task, op: Any) -> None:
        return None

    def _irq_save(self, task: Task, op: Any) -> None:
        task.irq_depth += 1

    def _irq_restore(self, task: Task, op: Any) -> None:
        if task.irq_depth <= task.irq_base:
            self._violation("imbalance", "local_irq_restore() without local_irq_save()", task, op)
        task.irq_depth -= 1
        self._qs(task)

    def _preempt_disable(self, task: Task, op: Any) -> None:
        task.preempt += 1

    def _preempt_enable(self, task: Task, op: Any) -> None:
        if task.preempt <= 0:
            self._violation("imbalance", "preempt_enable() underflow", task, op)
        task.preempt -= 1
        self._qs(task)

    def _migrate_disable(self, task: Task, op: Any) -> None:
        task.migrate += 1

    def _migrate_enable(self, task: Task, op: Any) -> None:
        if task.migrate <= 0:
            self._violation("imbalance", "migrate_enable() underflow", task, op)
        task.migrate -= 1

    # spinlocks

    def _rt_sleeping(self, lock: Spinlock) -> bool:
        return self.preempt_rt and not lock.raw

    def _irq_deadlock(self, task: Task, owner: Task, lock: Any, op: Any) -> None:
        if owner is task:
            self._violation(
                "self-deadlock", f"{task.name} takes {lock} which it already holds", task, op
            )
        if task.kind == "irq" and owner.cpu == task.cpu and owner.kind != "irq":
            self._violation(
                "self-deadlock",
                f"IRQ handler on cpu{task.cpu} takes {lock}, held by the task it interrupted "
                f"({owner.name})",
                task,
                op,
            )

    def _spin_lock(self, task: Task, op: ops.SpinLock) -> Any:
        lock = op.lock
        key = id(lock)
        owner = self.owner.get(key)
        rt = self._rt_sleeping(lock)
        ck = self.checks
        if task.wait is None:
            # (the condition is on_lock's own first test, inlined: most acquisitions hold nothing)
            if ck is not None and (task.held or not (rt or task.irq_depth or op.irqsave)
                                   or task.kind == "irq"):  # fmt: skip
                ck.on_lock(task, lock, op, False, bool(task.irq_depth or op.irqsave), not rt)
            if owner is not None:
                self._irq_deadlock(task, owner, lock, op)
            if rt:
                self._might_sleep(task, op, f"spin_lock({lock}) on PREEMPT_RT", rt_lock=True)
            else:
                task.preempt += 1
                if op.irqsave:
                    task.irq_depth += 1
        if owner is not None:
            task.wait = op
            task.spinning = not rt
            return BLOCKED
        task.wait = None
        task.spinning = False
        self.owner[key] = task
        task.held.append(lock)
        if ck is not None:
            ck.acquire(task.cpu, key)
        if rt:
            task.migrate += 1
            task.rt_locks += 1
        return None

    def _spin_trylock(self, task: Task, op: ops.SpinTrylock) -> bool:
        lock = op.lock
        key = id(lock)
        if key in self.owner:
            return False
        ck = self.checks
        if ck is not None:
            rt = self._rt_sleeping(lock)
            if task.held or not (rt or task.irq_depth or op.irqsave) or task.kind == "irq":
                ck.on_lock(task, lock, op, True, bool(task.irq_depth or op.irqsave), not rt)
            ck.acquire(task.cpu, key)
        self.owner[key] = task
        task.held.append(lock)
        if self._rt_sleeping(lock):
            task.migrate += 1
            task.rt_locks += 1
        else:
            task.preempt += 1
            if op.irqsave:
                task.irq_depth += 1
        return True

    def _release(self, task: Task, key: Any, lock: Any, op: Any) -> None:
        if self.owner.get(key) is not task:
            other = self.owner.get(key)
            who = f"held by {other.name}" if other else "not held"
            self._violation("unlock-not-held", f"{task.name} unlocks {lock}, {who}", task, op)
        del self.owner[key]
        task.held.remove(lock)
        if self.checks is not None:
            self.checks.release(task.cpu, key)

    def _spin_unlock(self, task: Task, op: ops.SpinUnlock) -> None:
        lock = op.lock
        self._release(task, id(lock), lock, op)
        if self._rt_sleeping(lock):
            task.migrate -= 1
            task.rt_locks -= 1
        else:
            task.preempt -= 1
            if op.irqrestore:
                if task.irq_depth <= task.irq_base:
                    self._violation(
                        "imbalance", f"spin_unlock_irqrestore({lock}) with IRQs on", task, op
                    )
                task.irq_depth -= 1
        self._qs(task)

    # mutexes

    def _mutex_lock(self, task: Task, op: ops.MutexLock) -> Any:
        m = op.mutex
        key = id(m)
        owner = self.owner.get(key)
        ck = self.checks
        if task.wait is None:
            if ck is not None and task.held:
                found = ck.on_lock(task, m, op, False, True, False, keep=False)
                if found is not None and (task.irq_depth or task.preempt or task.rcu_nest
                                          or task.rt_locks):  # fmt: skip
                    # the AB-BA's second half sleeps in atomic context too: report the cycle,
                    # the root cause (on PREEMPT_RT the same code is a plain deadlock)
                    raise CheckViolation(found)
                ck.keep(found)
            self._might_sleep(task, op, f"mutex_lock({m})")
            if owner is task:
                self._violation(
                    "self-deadlock", f"{task.name} takes {m} which it already holds", task, op
                )
        if owner is not None:
            task.wait = op
            return BLOCKED
        task.wait = None
        self.owner[key] = task
        task.held.append(m)
        if ck is not None:
            ck.acquire(task.cpu, key)
        return None

    def _mutex_trylock(self, task: Task, op: ops.MutexTrylock) -> bool:
        key = id(op.mutex)
        if key in self.owner:
            return False
        ck = self.checks
        if ck is not None:
            if task.held:
                ck.on_lock(task, op.mutex, op, True, True, False)
            ck.acquire(task.cpu, key)
        self.owner[key] = task
        task.held.append(op.mutex)
        return True

    def _mutex_unlock(self, task: Task, op: ops.MutexUnlock) -> None:
        self._release(task, id(op.mutex), op.mutex, op)

    # local locks

    def _local_lock(self, task: Task, op: ops.LocalLock) -> Any:
        lock = op.lock
        key = (id(lock), task.cpu)
        owner = self.owner.get(key)
        ck = self.checks
        if ck is not None and task.wait is None and task.held:
            ck.on_lock(task, lock, op, False, True, False)
        if not self.preempt_rt:
            if owner is not None:
                # non-RT a local lock is "IRQs off": the only possible owner is this CPU's
                # interrupted or current context -> recursion
                self._violation(
                    "self-deadlock",
                    f"{task.name} takes {lock} on cpu{task.cpu}, already held by {owner.name}",
                    task,
                    op,
                )
            task.irq_depth += 1
            self.owner[key] = task
            task.held.append(lock)
            return None
        if task.wait is None:
            if owner is not None:
                self._irq_deadlock(task, owner, lock, op)
            self._might_sleep(task, op, f"local_lock_irqsave({lock}) on PREEMPT_RT", rt_lock=True)
        if owner is not None:
            task.wait = op
            return BLOCKED
        task.wait = None
        self.owner[key] = task
        task.held.append(lock)
        task.migrate += 1
        task.rt_locks += 1
        return None

    def _local_unlock(self, task: Task, op: ops.LocalUnlock) -> None:
        lock = op.lock
        self._release(task, (id(lock), task.cpu), lock, op)
        if self.preempt_rt:
            task.migrate -= 1
            task.rt_locks -= 1
        else:
            task.irq_depth -= 1
        self._qs(task)

    # memory

    def _load(self, task: Task, op: ops.Load) -> Any:
        ck = self.checks
        if ck is not None:
            obj = op.obj
            if obj is not None:
                ck.access(task, obj, op.attr, False, op.owner, op.marked, False, op.func)
                if op.acquire:
                    ck.acquire(task.cpu, ("mem", id(obj), op.attr))
        return getattr(op.obj, op.attr)

    def _store(self, task: Task, op: ops.Store) -> None:
        ck = self.checks
        if ck is not None and op.obj is not None:
            ck.access(task, op.obj, op.attr, True, op.owner, op.marked, True, op.func)
            if op.release:
                ck.release(task.cpu, ("mem", id(op.obj), op.attr))
        setattr(op.obj, op.attr, op.value)

    def _access(self, task: Task, op: ops.Access) -> None:
        ck = self.checks
        if ck is not None:
            f = op.field
            if type(f) is tuple:
                for x in f:
                    ck.access(task, op.obj, x, op.write, op.owner, op.marked, op.word, op.func)
            else:
                ck.access(task, op.obj, f, op.write, op.owner, op.marked, op.word, op.func)

    def _pcp_enter(self, task: Task, op: ops.PcpEnter) -> None:
        key = id(op.lists)
        entry = self.pcp_windows.get(key)
        if entry is not None and entry[0] is not task:
            other, _, other_func = entry
            self._violation(
                "list-race",
                f"cpu{task.cpu} ({task.name}, {op.func or '?'}) manipulates the pcp lists of "
                f"cpu{op.owner} ({_name(op.lists)}) while cpu{other.cpu} ({other.name}, "
                f"{other_func or '?'}) is inside them",
                task,
                op,
            )
        if entry is None:
            self.pcp_windows[key] = (task, op.lists, op.func)
        task.windows[key] = task.windows.get(key, 0) + 1
        ck = self.checks
        if ck is not None:
            # the window changes the lists and pcp->count (a plain word write)
            ck.access(task, op.lists, "count", True, op.owner, False, True, op.func)

    def _pcp_exit(self, task: Task, op: ops.PcpExit) -> None:
        key = id(op.lists)
        n = task.windows.get(key, 0)
        if n <= 0:
            self._violation(
                "imbalance",
                f"{task.name} leaves pcp lists of cpu{op.owner} it never entered",
                task,
                op,
            )
        if n == 1:
            del task.windows[key]
            del self.pcp_windows[key]
        else:
            task.windows[key] = n - 1

    # RCU

    def _rcu_read_lock(self, task: Task, op: Any) -> None:
        task.rcu_nest += 1

    def _rcu_read_unlock(self, task: Task, op: Any) -> None:
        if task.rcu_nest <= 0:
            self._violation("imbalance", "rcu_read_unlock() without rcu_read_lock()", task, op)
        task.rcu_nest -= 1
        self._qs(task)

    def _gp_done(self, task: Task) -> bool:
        gp = task.gp
        if gp is None:
            return True
        return all(t.done or t.qs_seq != seq for t, seq in gp)

    def _synchronize_rcu(self, task: Task, op: ops.SynchronizeRcu) -> Any:
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
            if op.expedited:
                for cpu in self.cpus:
                    if cpu.id != task.cpu and cpu.online and not cpu.in_eqs:
                        self._event("rcu_exp_ipi", task.cpu, cpu.id, op.func)
            readers = [
                (t, t.qs_seq)
                for t in self.tasks
                if t is not task and not t.done and t.op is not None and t.is_reader()
            ]
            self._event("gp_start", task.cpu, None, op.func)
            ck = self.checks
            if ck is not None:
                ck.gp_begin(task)
            if not readers:
                if ck is not None:
                    ck.gp_end(task, ())
                self._event("gp_end", task.cpu, None, op.func)
                return None
            task.gp = readers
            task.wait = op
            return BLOCKED
        if not self._gp_done(task):
            return BLOCKED
        if self.checks is not None:
            self.checks.gp_end(task, task.gp)
        task.gp = None
        task.wait = None
        self._event("gp_end", task.cpu, None, op.func)
        return None

    # workqueues

    def _queue_work_on(self, task: Task, op: ops.QueueWorkOn) -> bool:
        work = op.work
        if work.pending:
            return False
        if not 0 <= op.cpu < self.nr_cpus:
            raise ValueError(f"queue_work_on: no cpu{op.cpu}")
        work.pending = True
        work.cpu = op.cpu
        if self.checks is not None:
            self.checks.release(task.cpu, ("work", id(work)))
        self.cpus[op.cpu].worklist.append(work)
        self.kworker(op.cpu)
        self._event("work_queued", task.cpu, op.cpu, op.func)
        return True

    def _flush_work(self, task: Task, op: ops.FlushWork) -> Any:
        work = op.work
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
            if task.kind == "kworker" and task.work is work:
                self._violation("self-deadlock", f"{work.name} flushes itself", task, op)
        if work.pending or work.running:
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("done", id(work)))
        return None

    def _wait_for_work(self, task: Task, op: Any) -> Any:
        wl = self.cpus[task.pool].worklist
        if not wl:
            task.wait = op
            return BLOCKED
        task.wait = None
        work = wl.popleft()
        work.pending = False
        work.running = True
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("work", id(work)))
        return work

    # IPIs

    def _ipi_call(self, task: Task, op: ops.IpiCall) -> Any:
        if task.wait is None:
            if task.irq_depth:
                self._violation(
                    "sleep-in-atomic",
                    "smp_call_function_single(wait=1) with IRQs disabled can deadlock",
                    task,
                    op,
                )
            if not 0 <= op.cpu < self.nr_cpus:
                raise ValueError(f"smp_call_function_single: no cpu{op.cpu}")
            if not self.cpus[op.cpu].online:
                return False
            task.preempt += 1  # get_cpu()
            fname = getattr(op.fn, "__name__", "ipi")
            task.irq_task = self.spawn(
                op.cpu, op.fn, op.args, name=f"irq/{op.cpu}:{fname}", kind="irq"
            )
            self._event("ipi", task.cpu, op.cpu, op.func)
            if self.checks is not None:
                self.checks.join_cpu(op.cpu, task.cpu)
            task.wait = op
            task.spinning = True
            return BLOCKED
        irq = task.irq_task
        assert irq is not None  # set when the IPI was sent, above
        if not irq.done:
            return BLOCKED
        if self.checks is not None:
            self.checks.join_cpu(task.cpu, irq.cpu)
        task.wait = None
        task.spinning = False
        task.irq_task = None
        task.preempt -= 1  # put_cpu()
        self._qs(task)
        return True

    # CPU context

    def _need_clean(self, task: Task, op: Any, what: str) -> None:
        if task.kind != "program":
            self._violation("bad-context", f"{what} from {task.kind} context", task, op)
        bad = []
        if task.held:
            bad.append("holding " + ", ".join(str(x) for x in task.held))
        if task.irq_depth:
            bad.append("IRQs disabled")
        if task.preempt:
            bad.append("preemption disabled")
        if task.rcu_nest:
            bad.append("inside rcu_read_lock()")
        if task.windows:
            bad.append("inside a pcp list window")
        if bad:
            self._violation("bad-context", f"{what} " + ", ".join(bad), task, op)

    def _enter_user(self, task: Task, op: Any) -> None:
        self._need_clean(task, op, "return to user space")
        task.mode = "user"

    def _enter_kernel(self, task: Task, op: Any) -> None:
        task.mode = "kernel"

    def _go_idle(self, task: Task, op: Any) -> None:
        self._need_clean(task, op, "entering idle")
        task.mode = "idle"

    def _go_offline(self, task: Task, op: Any) -> Any:
        if task.wait is None:
            self._need_clean(task, op, "cpu going offline")
        if not self._can_go_offline(task.cpu):
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.release(task.cpu, ("cpu", task.cpu))
        cpu = self.cpus[task.cpu]
        cpu.online = False
        cpu.current = None
        self._unbind_kworker(cpu)
        task.mode = "offline"
        task.kill = True
        return None

    def _can_go_offline(self, cpu_id: int) -> bool:
        # ASSUMPTION: the CPU goes down only once its pending IPIs ran and its kworker is between
        # work items (the kernel unbinds workers at CPU down; a drain work item runs
        # migrate-disabled, so it finishes on its CPU first).
        c = self.cpus[cpu_id]
        kw = c.kworker
        return not c.pending_irqs and (kw is None or kw.work is None)

    def _sleep(self, task: Task, op: Any) -> None:
        self._might_sleep(task, op, op.describe())

    def _wait_cpu_dead(self, task: Task, op: ops.WaitCpuDead) -> Any:
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
        if self.cpus[op.cpu].online:
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("cpu", op.cpu))
        return None

    # --- introspection for engines --------------------------------------------------------------

    def online_cpus(self) -> list[int]:
        return [c.id for c in self.cpus if c.online]

    def wait_key(self, task: Task) -> tuple[Any, ...] | None:
        w = task.wait
        if w is None:
            return None
        if isinstance(w, ops.SpinLock):
            return ("spinlock", w.lock, self.owner.get(id(w.lock)))
        if isinstance(w, ops.MutexLock):
            return ("mutex", w.mutex, self.owner.get(id(w.mutex)))
        if isinstance(w, ops.LocalLock):
            return ("local_lock", w.lock, task.cpu, self.owner.get((id(w.lock), task.cpu)))
        if isinstance(w, ops.SynchronizeRcu):
            pending = tuple(t for t, s in (task.gp or ()) if not t.done and t.qs_seq == s)
            return ("rcu_gp", pending)
        if isinstance(w, ops.FlushWork):
            return ("flush_work", w.work)
        if isinstance(w, ops.IpiCall):
            return ("ipi", task.irq_task)
        if isinstance(w, _WaitForWork):
            return ("work", task.cpu)
        if isinstance(w, ops.WaitCpuDead):
            return ("cpu_dead", w.cpu)
        if isinstance(w, ops.GoOffline):
            return ("cpu_down", task.cpu)
        return ("?", w)

    def state_key(self) -> tuple[Any, ...]:
        """Kernel state for the checker's state cache (object-identity free)."""
        tasks = tuple(
            (
                t.done,
                t.irq_depth,
                t.preempt,
                t.migrate,
                t.rcu_nest,
                t.rt_locks,
                t.mode,
                type(t.wait).__name__ if t.wait is not None else None,
                tuple((x.index, s != x.qs_seq) for x, s in t.gp) if t.gp else None,
                t.irq_task.index if t.irq_task is not None else None,
                tuple(str(h) for h in t.held),
            )
            for t in self.tasks
        )
        cpus = tuple(
            (
                c.online,
                c.current.index if c.current is not None else -1,
                c.irq.index if c.irq is not None else -1,
                tuple(t.index for t in c.pending_irqs),
                tuple((w.name, w.args and str(w.args[0])) for w in c.worklist),
            )
            for c in self.cpus
        )
        return (tasks, cpus)


#: op type -> Kernel method executing it
_EXEC: dict[type, Callable[[Kernel, Task, Any], Any]] = {
    ops.IrqSave: Kernel._irq_save,
    ops.IrqRestore: Kernel._irq_restore,
    ops.PreemptDisable: Kernel._preempt_disable,
    ops.PreemptEnable: Kernel._preempt_enable,
    ops.MigrateDisable: Kernel._migrate_disable,
    ops.MigrateEnable: Kernel._migrate_enable,
    ops.SpinLock: Kernel._spin_lock,
    ops.SpinTrylock: Kernel._spin_trylock,
    ops.SpinUnlock: Kernel._spin_unlock,
    ops.MutexLock: Kernel._mutex_lock,
    ops.MutexTrylock: Kernel._mutex_trylock,
    ops.MutexUnlock: Kernel._mutex_unlock,
    ops.LocalLock: Kernel._local_lock,
    ops.LocalUnlock: Kernel._local_unlock,
    ops.Load: Kernel._load,
    ops.Store: Kernel._store,
    ops.Access: Kernel._access,
    ops.PcpEnter: Kernel._pcp_enter,
    ops.PcpExit: Kernel._pcp_exit,
    ops.Work: Kernel._nop,
    ops.RcuReadLock: Kernel._rcu_read_lock,
    ops.RcuReadUnlock: Kernel._rcu_read_unlock,
    ops.SynchronizeRcu: Kernel._synchronize_rcu,
    ops.QueueWorkOn: Kernel._queue_work_on,
    ops.FlushWork: Kernel._flush_work,
    ops.IpiCall: Kernel._ipi_call,
    ops.EnterUser: Kernel._enter_user,
    ops.EnterKernel: Kernel._enter_kernel,
    ops.GoIdle: Kernel._go_idle,
    ops.GoOffline: Kernel._go_offline,
    ops.UserRun: Kernel._nop_user,
    ops.Sleep: Kernel._sleep,
    ops.WaitCpuDead: Kernel._wait_cpu_dead,
    ops.Checkpoint: Kernel._nop,
    _WaitForWork: Kernel._wait_for_work,
}
#: blocking op type -> whether the task waiting on it may retry now
_READY: dict[type, Callable[[Kernel, Task, Any], bool]] = {
    ops.SpinLock: lambda k, t, op: id(op.lock) not in k.owner,
    ops.MutexLock: lambda k, t, op: id(op.mutex) not in k.owner,
    ops.LocalLock: lambda k, t, op: (id(op.lock), t.cpu) not in k.owner,
    ops.SynchronizeRcu: lambda k, t, op: k._gp_done(t),
    ops.FlushWork: lambda k, t, op: not (op.work.pending or op.work.running),
    ops.IpiCall: lambda k, t, op: t.irq_task is None or t.irq_task.done,
    ops.WaitCpuDead: lambda k, t, op: not k.cpus[op.cpu].online,
    ops.GoOffline: lambda k, t, op: k._can_go_offline(t.cpu),
    _WaitForWork: lambda k, t, op: bool(k.cpus[t.pool].worklist),
}


_CONTEXT_OPS = frozenset(
    {
        ops.EnterUser,
        ops.EnterKernel,
        ops.GoIdle,
        ops.GoOffline,
        ops.UserRun,
        ops.Sleep,
        ops.Checkpoint,
    }
)


def _name(obj: Any) -> str:
    if obj is None:
        return "NULL"
    return str(getattr(obj, "name", None) or type(obj).__name__)


__all__ = [
    "BLOCKED",
    "Cpu",
    "Kernel",
    "KernelEvent",
    "KernelViolation",
    "CheckViolation",
    "LocalLockVar",
    "Mutex",
    "Spinlock",
    "Task",
]
