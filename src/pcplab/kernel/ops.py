"""The operations a design or workload yields to an engine.

A design's fast paths and drains are generator functions.  Code between two ``yield``\\ s runs
atomically with respect to every other CPU; each ``yield`` hands the engine one of the small objects
below and is a point where another CPU may interleave (checker) or where time passes (simulator).
The value an engine sends back into the generator is the op's result (``True``/``False`` for a
trylock, the loaded value for :class:`Load`, ``None`` otherwise).

Rules every design follows (see ``docs/internals.md``):

* Mutations of shared allocator state (buddy lists, pcp lists, counters) happen in plain Python
  *after* the op that makes them legal (a lock acquisition, a :class:`PcpEnter`) and *before* the op
  that ends that legality (the unlock, :class:`PcpExit`).
* Work is announced with :class:`Work` so the simulator can charge it; the checker treats it as a
  step that touches ``data``.
* Nothing here knows about time or costs: the engine's cost model prices ``Work.kind``.
* Shared allocator state is announced with :class:`Access` (or :class:`Load`/:class:`Store`,
  :class:`PcpEnter`) before the plain code touches it, so the checker can hold the access to the
  object's owner rule; the simulator executes it as a zero-cost no-op.

Every op carries ``func``: the kernel function the step models, used in counterexample traces.
"""

from __future__ import annotations

import sys
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar, dataclass_transform


def _caller() -> str:
    """The name of the function that built the op (two frames up: the op's ``__init__``, then
    the design code that yields it), so ``func`` defaults to the yielding function's name."""
    return sys._getframe(2).f_code.co_name


@dataclass_transform()
class _OpType(type):
    """The ops' metaclass, which writes each op's constructor the way a dataclass does.

    An op class lists its fields as annotated class attributes (``cpu: int``, ``n: int = 1``);
    the metaclass turns them into ``__slots__`` (ops stay dict-free) and generates
    ``__init__(self, <base fields>, <own fields>, *, func="")``, which assigns each field and sets
    ``func`` to the yielding function's name when it is left empty.  It is generated source, as
    fast as a hand-written one: an op is built at every step of every simulated CPU, so neither a
    ``super()`` chain nor a ``__post_init__`` is affordable.  A class with its own ``__init__``
    keeps it.  ``text="..."`` in the class statement sets :attr:`Op.TEXT`, so an op that differs
    from its base only in what traces call it is one line (``class IrqSave(_CpuStateOp,
    text="local_irq_save()"): ...``) and stays a real class: engines dispatch on ``type(op)``, and
    annotations name it."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], text: str | None = None
    ) -> _OpType:
        inherited: list[tuple[str, Any]] = []
        for base in bases:
            inherited += getattr(base, "_FIELDS", ())
        own = [(n, ns.pop(n, _REQUIRED)) for n, a in ns.get("__annotations__", {}).items()
               if "KW_ONLY" not in str(a) and "ClassVar" not in str(a) and n != "func"]
        if name == "Op":
            del ns["func"]  # the slot every op has; its default is the constructor's
            ns["__slots__"] = ("func",)
        else:
            ns.setdefault("__slots__", tuple(n for n, _ in own))
        if text is not None:
            ns["TEXT"] = text
        ns["_FIELDS"] = tuple(inherited + own)
        if "__init__" not in ns and (own or name == "Op"):
            ns["__init__"] = _make_init(name, ns["_FIELDS"])
        return super().__new__(mcls, name, bases, ns)


_REQUIRED = object()


def _make_init(name: str, fields: tuple[tuple[str, Any], ...]) -> Any:
    """The constructor of an op class with ``fields`` (name, default or ``_REQUIRED``)."""
    env: dict[str, Any] = {"_caller": _caller}
    params, body = ["self"], ["    self.func = func or _caller()"]
    for n, default in fields:
        if default is _REQUIRED:
            params.append(n)
        else:
            env[f"_default_{n}"] = default
            params.append(f"{n}=_default_{n}")
        body.append(f"    self.{n} = {n}")
    src = f"def __init__({', '.join(params)}, *, func=''):\n" + "\n".join(body) + "\n"
    exec(compile(src, f"<{name}.__init__>", "exec"), env)  # noqa: S102 - our own source
    return env["__init__"]


class Op(metaclass=_OpType):
    """Base class: one scheduling point.  ``func`` names the kernel function it models; left
    empty, it is the name of the function that built (and yields) the op.

    A subclass declares its fields as annotations (see :class:`_OpType`); one with a hand-written
    ``__init__`` (:class:`Access`) sets ``func`` itself rather than call ``super().__init__``,
    which would be a third of the cost of building one.
    """

    _: KW_ONLY
    func: str = ""

    #: what :meth:`describe` says ("": the class name): a ``str.format`` template of the op's
    #: fields (``"flush_work({work})"``), or, for the families that share a ``describe`` (spinlock
    #: ops, ...), the name in front of the arguments
    TEXT = ""
    #: the fields of the op class, in constructor order, with their defaults (set by _OpType)
    _FIELDS: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def describe(self) -> str:
        """One line for a trace: the op and its arguments, as a kernel engineer would say it."""
        if "{" in self.TEXT:
            return self.TEXT.format_map({n: getattr(self, n) for n, _ in self._FIELDS})
        return self.TEXT or type(self).__name__


# --- interrupt / preemption state of the running CPU -------------------------------------------


class _CpuStateOp(Op):
    """A change of the running CPU's interrupt, preemption or migration state:

    * :class:`IrqSave` — ``local_irq_save()``: disable interrupts on this CPU (nests); starts an
      RCU reader.  :class:`IrqRestore` — ``local_irq_restore()``: undo one :class:`IrqSave`.
    * :class:`PreemptDisable` / :class:`PreemptEnable` — ``preempt_disable()`` / ``enable()``.
    * :class:`MigrateDisable` / :class:`MigrateEnable` — ``migrate_disable()`` / ``enable()``.
    """


class IrqSave(_CpuStateOp, text="local_irq_save()"): ...


class IrqRestore(_CpuStateOp, text="local_irq_restore()"): ...


class PreemptDisable(_CpuStateOp, text="preempt_disable()"): ...


class PreemptEnable(_CpuStateOp, text="preempt_enable()"): ...


class MigrateDisable(_CpuStateOp, text="migrate_disable()"): ...


class MigrateEnable(_CpuStateOp, text="migrate_enable()"): ...


# --- locks ---------------------------------------------------------------------------------------


class _SpinOp(Op):
    """An op on a spinlock ``lock`` (a :class:`pcplab.kernel.locks.Spinlock`), IRQs saved or
    not: :class:`SpinLock` (``spin_lock`` / ``spin_lock_irqsave``) and :class:`SpinTrylock`
    (``spin_trylock[_irqsave]``: never blocks; the engine sends back True when taken)."""

    lock: Any
    irqsave: bool = False

    def describe(self) -> str:
        return f"{self.TEXT}{'_irqsave' if self.irqsave else ''}({self.lock})"


class SpinLock(_SpinOp, text="spin_lock"): ...


class SpinTrylock(_SpinOp, text="spin_trylock"): ...


class SpinUnlock(Op):
    """``spin_unlock`` / ``spin_unlock_irqrestore``."""

    lock: Any
    irqrestore: bool = False

    def describe(self) -> str:
        return f"spin_unlock{'_irqrestore' if self.irqrestore else ''}({self.lock})"


class _OneLockOp(Op):
    """An op on one lock object ``lock`` (a mutex's or a local lock's)."""

    lock: Any

    def describe(self) -> str:
        return f"{self.TEXT}({self.lock})"


class _MutexOp(_OneLockOp):
    """An op on the mutex ``mutex`` (a :class:`pcplab.kernel.locks.Mutex`): :class:`MutexLock`
    (may sleep: illegal with IRQs or preemption disabled), :class:`MutexTrylock`,
    :class:`MutexUnlock`."""

    #: the ``lock`` slot itself under the name the mutex ops are known by (a slot read, as fast)
    mutex = _OneLockOp.__dict__["lock"]


class MutexLock(_MutexOp, text="mutex_lock"): ...


class MutexTrylock(_MutexOp, text="mutex_trylock"): ...


class MutexUnlock(_MutexOp, text="mutex_unlock"): ...


class LocalLock(_OneLockOp, text="local_lock_irqsave"):
    """local_lock_irqsave on a per-CPU local lock.

    Non-RT: disables IRQs on this CPU (no lock word).  PREEMPT_RT: migrate_disable() plus this CPU's
    instance of a per-CPU sleeping spinlock, IRQs stay on, and the section is an RCU reader.  The
    engine chooses the meaning per run (``Kernel(preempt_rt=...)``).  :class:`LocalUnlock`
    (``local_unlock_irqrestore``) ends the section.
    """


class LocalUnlock(_OneLockOp, text="local_unlock_irqrestore"): ...


# --- racy shared memory --------------------------------------------------------------------------


class _MemoryOp(Op):
    """A read or write of the shared field ``obj.attr`` done as its own step.  ``owner``: the CPU
    whose data it is (None: global); ``marked``: a ``READ_ONCE``/``WRITE_ONCE``-style access
    rather than a plain C one."""

    obj: Any
    attr: str

    def _say(self, marked: bool, plain: str, how: str, rest: str = "") -> str:
        if not marked:
            return f"{_name(self.obj)}->{self.attr}{plain}"
        return f"{how}({_name(self.obj)}->{self.attr}{rest})"


class Load(_MemoryOp):
    """READ_ONCE / rcu_dereference of ``getattr(obj, attr)``: the engine reads it and sends it back.

    ``owner`` is the CPU whose data it is (None: global), so a cost model can price a cacheline
    transfer.  ``acquire`` marks load-acquire / rcu_dereference ordering.  ``marked=False`` models
    a plain C read of a shared field done as its own step (the checker's data-race rule treats
    only marked accesses — ``READ_ONCE``, ``rcu_dereference``, ``data_race()`` — as intended
    races).
    """

    owner: int | None = None
    acquire: bool = False
    marked: bool = True

    def describe(self) -> str:
        how = "rcu_dereference" if self.acquire else "READ_ONCE"
        return self._say(self.marked, " (plain read)", how)


class Store(_MemoryOp):
    """WRITE_ONCE / smp_store_release / rcu_assign_pointer of ``obj.attr = value`` (engine writes).

    ``marked=False``: a plain C assignment done as its own step (see :class:`Load`)."""

    value: Any
    owner: int | None = None
    release: bool = False
    marked: bool = True

    def describe(self) -> str:
        v = _name(self.value)
        how = "rcu_assign_pointer" if self.release else "WRITE_ONCE"
        return self._say(self.marked, f" = {v} (plain write)", how, f", {v}")


class Access(Op):
    """The running code reads (``write=False``) or writes ``obj``'s shared field ``field`` in the
    plain Python that follows this op, up to the next yield (e.g. the buddy free lists inside
    ``__rmqueue_smallest``).  Engines execute it as a no-op; the checker checks the access against
    the field's owner rule (``OWNER_RULES`` of the object's class, :mod:`pcplab.mm.owners`) and
    its data-race rule, and it is a scheduling point, so the access can interleave.

    ``field`` may be a tuple of fields accessed together.  ``obj`` None names a kernel-global
    object (``field`` is its name, e.g. ``"cpus_with_pcps"``).
    ``owner``: the CPU whose data it is, if any.  ``marked``: a ``READ_ONCE``/``WRITE_ONCE``/
    ``data_race()`` access (an intended race).  ``word``: a plain aligned write of at most a
    machine word (KCSAN assumes those atomic, ``KCSAN_ASSUME_PLAIN_WRITES_ATOMIC``).
    """

    __slots__ = ("obj", "field", "write", "owner", "marked", "word")

    def __init__(
        self,
        obj: Any,
        field: str | tuple[str, ...],
        write: bool = True,
        owner: int | None = None,
        marked: bool = False,
        word: bool = False,
        func: str = "",
    ) -> None:
        self.func = func
        self.obj = obj
        self.field = field
        self.write = write
        self.owner = owner
        self.marked = marked
        self.word = word

    def describe(self) -> str:
        what = "write" if self.write else "read"
        f = self.field if isinstance(self.field, str) else ", ".join(self.field)
        where = f if self.obj is None else f"{_name(self.obj)}->{f}"
        return f"{what} {where}"


# --- pcp list access windows and work ------------------------------------------------------------


class _PcpWindowOp(Op):
    """An edge of a pcp list window: the pcp list set ``lists``, owned by CPU ``owner``."""

    lists: Any
    owner: int


class PcpEnter(_PcpWindowOp):
    """This CPU starts manipulating the pcp list set ``lists`` (owned by CPU ``owner``).

    The checker reports a *list race* if two CPUs are inside windows on the same set at once.
    """

    __slots__ = ()

    def describe(self) -> str:
        return f"access pcp lists of cpu{self.owner} ({_name(self.lists)})"


class PcpExit(_PcpWindowOp):
    """This CPU is done with the pcp list set ``lists`` (ends the :class:`PcpEnter` window)."""

    __slots__ = ()

    def describe(self) -> str:
        return f"done with pcp lists of cpu{self.owner}"


#: the ``Work.kind`` values designs announce (n = base pages, except the last two: one per read /
#: per swapped pcp).  ``data`` is the PcpLists (pcp_*) or the zone (under zone->lock).
WORK_KINDS = (
    "pcp_alloc",  # one block popped from a pcp list
    "pcp_free",  # one block pushed onto a pcp list
    "rmqueue_bulk",  # refill from buddy under zone->lock
    "free_pcppages_bulk",  # bulk free to buddy under zone->lock
    "free_pcppages_detach",  # 5.17: the bulk free's pages taken off the pcp lists, before the lock
    "free_pcppages_merge",  # 5.17: the bulk free's buddy frees, under zone->lock
    "buddy_alloc",  # rmqueue_buddy, under zone->lock
    "buddy_free",  # free_one_page, under zone->lock
    "drain_mask_check",  # one racy pcp->count read by __drain_all_pages
    "pcp_swap",  # one RCU pointer swap of a pcp's list sets
)


class Work(Op):
    """``n`` units of work of ``kind`` that the cost model prices (e.g. ``"pcp_alloc"``,
    ``"rmqueue_bulk_page"``, ``"free_pcppages_bulk_page"``, ``"buddy_page"``, ``"clear_page"``).

    ``data`` is the object whose cachelines the work touches and ``owner`` the CPU it belongs to
    (None: shared), so the simulator can charge cacheline transfers.  ``n`` is the number of pages
    moved or units done.  Designs use :data:`WORK_KINDS`; workloads add their own kinds, and the
    simulator's cost model (``pcplab.sim.costs.WORK_KINDS``) prices all of them.
    """

    kind: str
    n: int = 1
    data: Any = None
    owner: int | None = None

    def describe(self) -> str:
        return f"{self.kind} x{self.n}" if self.n != 1 else self.kind


# --- RCU, workqueues, IPIs -----------------------------------------------------------------------


class _RcuReaderOp(Op):
    """An edge of an RCU read-side critical section: :class:`RcuReadLock` (``rcu_read_lock()``)
    and :class:`RcuReadUnlock` (``rcu_read_unlock()``)."""


class RcuReadLock(_RcuReaderOp, text="rcu_read_lock()"): ...


class RcuReadUnlock(_RcuReaderOp, text="rcu_read_unlock()"): ...


class SynchronizeRcu(Op):
    """synchronize_rcu[_expedited]: block until every pre-existing reader has finished.

    Sleeping: illegal with IRQs or preemption disabled.  ``expedited`` IPIs the CPUs that are not in
    an extended quiescent state (user mode on nohz_full, idle, offline).
    """

    expedited: bool = False

    def describe(self) -> str:
        return "synchronize_rcu_expedited()" if self.expedited else "synchronize_rcu()"


@dataclass(eq=False)
class WorkItem:
    """A work_struct: ``fn`` is a generator function called as ``fn(ctx, *args)`` on the target
    CPU's bound kworker.  ``pending`` and ``running`` are maintained by the engine."""

    name: str
    fn: Any = None
    args: tuple[Any, ...] = ()
    pending: bool = False
    running: bool = False
    cpu: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


class QueueWorkOn(Op, text="queue_work_on(cpu{cpu}, {work})"):
    """queue_work_on(cpu, wq, work): the engine sends back False if it was already pending."""

    cpu: int
    work: WorkItem


class FlushWork(Op, text="flush_work({work})"):
    """flush_work(work): sleep until ``work`` is neither pending nor running."""

    work: WorkItem


class IpiCall(Op):
    """smp_call_function_single(cpu, fn, wait=True): run generator function ``fn(ctx, *args)`` in
    IRQ context on ``cpu`` as soon as it has IRQs enabled, and wait for it."""

    cpu: int
    fn: Any
    args: tuple[Any, ...] = ()

    def describe(self) -> str:
        return f"smp_call_function_single(cpu{self.cpu}, {getattr(self.fn, '__name__', self.fn)})"


# --- CPU context changes (workloads) -------------------------------------------------------------


class _ContextChangeOp(Op):
    """The running CPU changes context:

    * :class:`EnterUser` — return to user space; on a nohz_full CPU an extended quiescent state
      for RCU.  :class:`EnterKernel` — syscall or page-fault entry from user space.
    * :class:`GoIdle` — the CPU enters the idle loop (an extended quiescent state) until it has
      work again.
    * :class:`GoOffline` — CPU hot-unplug of the running CPU: it stops; its data may then be
      touched remotely.
    """


class EnterUser(_ContextChangeOp, text="return to user space"): ...


class EnterKernel(_ContextChangeOp, text="enter kernel"): ...


class GoIdle(_ContextChangeOp, text="enter idle"): ...


class GoOffline(_ContextChangeOp, text="cpu going offline"): ...


class _TimedOp(Op):
    """An op that takes ``ns`` of simulated time: :class:`UserRun`, time spent in user space
    (simulator: ``ns`` of user work; checker: one step), and :class:`Sleep`, blocking for ``ns``
    of simulated time (checker: a plain step)."""

    ns: int

    def describe(self) -> str:
        return f"{self.TEXT} {self.ns} ns"


class UserRun(_TimedOp, text="user work"): ...


class Sleep(_TimedOp, text="sleep"): ...


class Checkpoint(Op):
    """A no-op scheduling point at which an engine or a test observes global state (e.g. the
    checker evaluates a drain's postcondition).  Kernel: does nothing.  Checker: dependent with
    every other step, so the observation is made in every relevant interleaving."""

    label: str = ""

    def describe(self) -> str:
        return f"check: {self.label}" if self.label else "check"


class WaitCpuDead(Op, text="wait for cpu{cpu} to be dead"):
    """Block (sleeping) until CPU ``cpu`` is offline: the CPU-hotplug control task waiting in
    ``takedown_cpu()`` before it runs the ``CPUHP_*_DEAD`` callbacks such as
    ``page_alloc_cpu_dead()`` (kernel-pcp.md §9.1).  Checker: a step that is enabled only then."""

    cpu: int


def _name(obj: Any) -> str:
    if obj is None:
        return "NULL"
    return str(getattr(obj, "name", None) or type(obj).__name__)
