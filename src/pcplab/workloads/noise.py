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
  each new interfering source inside an episode counts one interference of its type.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    def set_owner(self, cpu: int, task: Any) -> None:
        self.cpus[cpu].owner = task

    def attach(self, sim: Any) -> None:
        sim.on_segment(self.segment)

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
        return out
