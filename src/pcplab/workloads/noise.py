"""OS-noise accounting for isolated CPUs, in the osnoise tracer's vocabulary.

osnoise (kernel ``Documentation/trace/osnoise-tracer.rst``, peers.md §3.1) runs a workload thread
per CPU and counts as **noise** every stretch of time in which something else used the CPU,
classified as NMI / IRQ / SoftIRQ / Thread (and HW); it reports total noise, the longest single
noise (``MAX SINGLE NOISE``), ``% OF CPU AVAILABLE`` and the interference counters.

Here the workload is the program running on the isolated CPU (the *owner*), and the simulator's
span stream (``Simulator.on_segment``: ``(cpu, t0, t1, task, what)``) is classified:

* spans of the owner itself (user or its own kernel work: its syscalls) are not noise;
* every other span on that CPU is noise: a kworker or any other thread (**thread**), an IPI
  handler or an expedited-grace-period IPI (**ipi**; the engine's interrupt spans all come from
  IPIs), a context switch (noise of the interference it belongs to);
* contiguous noise spans form one **noise episode** (``max_single_noise_ns`` is the longest);
  each new interfering source inside an episode counts one interference of its type.  An
  episode is one osnoise *sample* (torvalds/linux@03ab8e62 ``kernel/trace/trace_osnoise.c``
  ``run_osnoise``: one gap between two of the osnoise thread's time reads, however many IRQs,
  softirqs and threads ran in it); each isolated CPU's episode durations make its
  ``noise_histogram`` (``pcplab.workloads.noise_hist``: rtla osnoise hist's buckets; ASSUMPTION:
  threshold 0, every episode is a sample, so the histogram adds up to the Noise column).

Owner-centred definition (ASSUMPTION, documented in the report): the CPU is reserved for the
owner, so a kworker that runs while the owner sleeps between its periods still counts as thread
noise (it used the isolated CPU), but only time the owner wanted to run delays it:
``delay_ns`` is that part (owner runnable, something else running), as a separate figure.  The
owner's own time spinning on a lock another CPU holds is reported as ``lock_spin_ns``.

The measured window and what runs after it (decided in issue 12; ``pcplab.sim.api_noise.run_noise``
implements it): noise is counted in ``[start_ns, end_ns)`` only.  At ``end_ns`` the background
traffic, the isolated programs and the OOM load stop issuing work (each finishes the operation it
is in), and the drain-storm drainer starts no new drain; a drain already issued runs to completion
and its latency is still measured.  Before, the drainer kept issuing the drains it had fallen
behind on and the traffic ran until the last of them returned (an rcu drain waits ~11 ms for its
grace period: 400 drains/s asked for 50 ms simulated ~208 ms), and with a fast design the traffic
stopped at the last drain, up to one drain period before the window's end.  Traffic now fills
exactly the window; a design slower than the asked drain rate shows it as fewer drains.

**Wakeup latency** (timerlat's *thread* latency, what cyclictest measures): the timerlat tracer
(torvalds/linux ``Documentation/trace/timerlat-tracer.rst``; torvalds/linux@03ab8e62
``kernel/trace/trace_osnoise.c``: ``timerlat_irq``, the hrtimer handler, takes ``now -
tlat->abs_period``; ``timerlat_main``, the SCHED_FIFO thread it wakes, takes the same difference
once it runs, then ``wait_next_period`` arms the next absolute period) and cyclictest arm a
periodic timer that wakes an RT thread and take the time from the timer's expiry to when the
thread runs, *gross*: any IRQ, IPI, kworker or other thread running on that CPU at expiry, a
section with preemption or IRQs off, and the context switch all count.  The meter does the same
for the isolated periodic task (``pcplab.workloads.isolated.fifo_loop``) through the simulator's
op hook (``Simulator.on_op``, a tracepoint that changes nothing): each of the owner's
``clock_nanosleep`` sleeps arms a timer at ``start + ns`` (what the engine wakes it at), and the
owner's next op starts when it runs again; the difference is one sample.  Only expiries inside
``[start_ns, end_ns)`` count.  Per CPU the meter keeps the count, min, mean, max, p99 (nearest
rank, only from :data:`P99_MIN_WAKEUPS` samples) and cyclictest's histogram (``--json``:
``"histogram": {"<us>": count}``, 1 us buckets, the latency truncated to whole us).

ASSUMPTIONs / limits of the model (see also the engine's docstring): the timer interrupt itself
is free and never delayed -- the engine wakes the task at the expiry even while the CPU runs with
IRQs off -- so timerlat's separate *IRQ* latency is not modelled, and an undisturbed wakeup on an
idle CPU costs 0 (no idle exit, no hrtimer handler, no switch back to the task that ran last).
A section with IRQs or preemption off still delays the task (it runs when the running task next
becomes preemptible), as it delays the real thread.  The loop sleeps relative to when it got
ready to sleep (the expiry is the armed timer's, not a planned absolute period), and a period
it overran is started at once without a sleep, so it gives no sample -- as timerlat's
``wait_next_period`` skips an activation whose absolute time has already passed (cyclictest's
absolute timer would instead count the overrun as latency).  So ``cycles`` can be well below
the number of periods when the task's own work overruns (e.g. slowed by a busy SMT sibling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pcplab.kernel.ops import Sleep
from pcplab.workloads.noise_hist import noise_histogram

#: the sleep whose expiry is a periodic timer's (``pcplab.workloads.isolated``'s period sleep)
TIMER_SLEEP_FUNC = "clock_nanosleep"
#: fewer wakeups give no p99: by nearest rank it would be the maximum
#: (``pcplab.report.noise.percentile_supported``)
P99_MIN_WAKEUPS = 100


@dataclass
class CpuNoise:
    """Running totals for one CPU."""

    cpu: int
    isolated: bool
    owner: Any = None  # the Task whose time is not noise
    noise_ns: int = 0
    max_single_noise_ns: int = 0
    lock_spin_ns: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"irq": 0, "ipi": 0, "thread": 0})
    sources: dict[str, int] = field(default_factory=dict)  # name -> interference count
    episode_start: int = -1
    episode_end: int = -1
    last_source: Any = None
    #: the durations (ns) of the finished noise episodes, on isolated CPUs only: osnoise's
    #: samples (``pcplab.workloads.noise_hist``); the open episode is added by :meth:`samples_ns`
    episodes_ns: list[int] = field(default_factory=list)

    def samples_ns(self) -> list[int]:
        """Every noise episode's duration (ns) so far, the open one last."""
        if self.episode_start < 0:
            return list(self.episodes_ns)
        return [*self.episodes_ns, self.episode_end - self.episode_start]


def _kind_of(task: Any, what: str) -> tuple[str, Any]:
    """(interference type, source key) of a noise span."""
    if task is None:
        return "ipi", "ipi"  # an interrupt the engine charges without a task (RCU exp. IPI)
    kind = getattr(task, "kind", "program")
    if kind == "irq" or what == "irq":
        return "ipi", task
    return "thread", task


class NoiseMeter:
    """Collects noise per CPU from the simulator's spans between ``start_ns`` and ``end_ns``."""

    def __init__(self, nr_cpus: int, isolated: set[int], start_ns: int = 0) -> None:
        self.cpus = [CpuNoise(c, c in isolated) for c in range(nr_cpus)]
        self.start_ns = start_ns
        self.end_ns: int | None = None
        #: id(isolated owner task) -> its wakeup log (the owners stay referenced by ``cpus``)
        self._timers: dict[int, Wakeups] = {}

    def set_owner(self, cpu: int, task: Any) -> None:
        self.cpus[cpu].owner = task
        if self.cpus[cpu].isolated:
            self._timers[id(task)] = Wakeups()

    def attach(self, sim: Any) -> None:
        sim.on_segment(self.segment)
        sim.on_op(self.op)

    def op(self, task: Any, op: Any, t: int, ns: int) -> None:
        """``Simulator.on_op``: an isolated owner's timer sleeps and the op it wakes up to."""
        w = self._timers.get(id(task))
        if w is None:
            return
        if w.expiry >= 0:
            if w.expiry >= self.start_ns and (self.end_ns is None or w.expiry < self.end_ns):
                w.samples.append(t - w.expiry)
            w.expiry = -1
        if type(op) is Sleep and op.func == TIMER_SLEEP_FUNC:
            w.expiry = t + ns

    def segment(self, cpu: int, t0: int, t1: int, task: Any, what: str) -> None:
        if t1 <= self.start_ns or (self.end_ns is not None and t0 >= self.end_ns):
            return
        t0 = max(t0, self.start_ns)
        if self.end_ns is not None:
            t1 = min(t1, self.end_ns)
        if t1 <= t0:
            return
        rec = self.cpus[cpu]
        owner = rec.owner  # None: nothing owns the CPU (idle), every span is noise
        if owner is not None and task is owner and what != "switch":
            if what == "spin":
                rec.lock_spin_ns += t1 - t0
            return
        if what == "switch" and owner is not None and task is owner:
            if rec.episode_end != t0:
                return  # the owner's first start, or after an idle period: no interference
            source = rec.last_source  # switching back to the owner ends the interference
            kind = None
        else:
            kind, source = _kind_of(task, what)
        rec.noise_ns += t1 - t0
        if rec.episode_end == t0:
            rec.episode_end = t1
        else:
            if rec.isolated and rec.episode_start >= 0:
                rec.episodes_ns.append(rec.episode_end - rec.episode_start)
            rec.episode_start, rec.episode_end = t0, t1
            rec.last_source = None
        rec.max_single_noise_ns = max(rec.max_single_noise_ns, rec.episode_end - rec.episode_start)
        if kind is not None and source is not rec.last_source:
            rec.counts[kind] += 1
            name = getattr(source, "name", str(source))
            base = name.split(":")[0]
            rec.sources[base] = rec.sources.get(base, 0) + 1
            rec.last_source = source

    def result(self, sim: Any, end_ns: int) -> list[dict[str, Any]]:
        """Per-CPU records in the ``run_noise`` format."""
        duration = max(1, end_ns - self.start_ns)
        out = []
        for rec in self.cpus:
            delay = 0
            if rec.owner is not None:
                st = sim.stats(rec.owner)
                delay = int(st.wait_ns + st.interrupted_ns)
            out.append(
                {
                    "cpu": rec.cpu,
                    "isolated": rec.isolated,
                    "task": getattr(rec.owner, "name", None),
                    "interference": dict(rec.counts),
                    "sources": dict(sorted(rec.sources.items())),
                    "noise_ns": rec.noise_ns,
                    "max_single_noise_ns": rec.max_single_noise_ns,
                    "available_pct": round(100.0 * (duration - rec.noise_ns) / duration, 5),
                    "delay_ns": delay,
                    "lock_spin_ns": rec.lock_spin_ns,
                }
            )
            if rec.isolated:
                out[-1]["noise_histogram"] = noise_histogram(rec.samples_ns())
            w = self._timers.get(id(rec.owner)) if rec.owner is not None else None
            if w is not None:
                out[-1]["wakeup_latency"] = wakeup_summary(w.samples)
        return out


@dataclass
class Wakeups:
    """One owner's timer wakeups: the pending expiry (-1: none armed) and the latencies in ns."""

    expiry: int = -1
    samples: list[int] = field(default_factory=list)


def wakeup_summary(samples: list[int]) -> dict[str, Any]:
    """``{"cycles", "min_ns", "avg_ns", "max_ns", "p99_ns", "histogram_us"}`` of wakeup latencies
    (ns); ``p99_ns`` None below :data:`P99_MIN_WAKEUPS`, the statistics None without samples;
    ``histogram_us``: cyclictest's 1 us buckets, ``{"<whole us>": count}``, empty ones left out."""
    if not samples:
        return {"cycles": 0, "min_ns": None, "avg_ns": None, "max_ns": None, "p99_ns": None,
                "histogram_us": {}}
    s = sorted(samples)
    hist: dict[int, int] = {}
    for x in s:
        hist[x // 1000] = hist.get(x // 1000, 0) + 1
    n = len(s)
    return {
        "cycles": n,
        "min_ns": s[0],
        "avg_ns": round(sum(s) / n, 3),
        "max_ns": s[-1],
        "p99_ns": s[math.ceil(0.99 * n) - 1] if n >= P99_MIN_WAKEUPS else None,
        "histogram_us": {str(k): hist[k] for k in sorted(hist)},
    }
