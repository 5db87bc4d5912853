"""Entry points for the drain workloads: :func:`run_oom` and :func:`run_noise`.

``pcplab.sim.api`` re-exports them (helper H3's ``compare`` calls ``run_noise``).
"""

from __future__ import annotations

from typing import Any

from pcplab.errors import PcplabError

#: default memory of the OOM machine: small enough that faulting all of it takes seconds
OOM_MEMORY_MIB = 32
#: simulated-time limit of an OOM run (the hog is normally killed within ~100 ms)
OOM_TIME_LIMIT_NS = 20_000_000_000


def run_oom(
    machine: str = "rpi4",
    design: str = "rcu",
    seed: int = 0,
    *,
    memory_mib: int = OOM_MEMORY_MIB,
    page_cache_fraction: float = 0.5,
) -> dict[str, Any]:
    """The seed's reproducer: a memory hog faults pages until the machine runs out.

    Returns ``{"machine", "design", "kernel", "seed", "memory_mib", "outcome": "oom-killed" |
    "oops" | "alloc-failed", "oops": {...} | None, "drains": n, "drain_latency_ns": [...],
    "pages_lost": n, "invariant_errors": [...], "stats": {...}, "sim_ns": n}``.
    ``oops`` holds the kernel-style report (``pcplab.workloads.oops.build_oops``) when design code
    crashed.  Same arguments → identical result.
    """
    from pcplab import designs
    from pcplab.mm.invariants import check_invariants
    from pcplab.workloads import oom
    from pcplab.workloads.machine_setup import build_simulator
    from pcplab.workloads.oops import build_oops, is_oops
    from pcplab.workloads.slowpath import MemoryEnv

    if not 0.0 <= page_cache_fraction < 1.0:
        raise PcplabError(f"page cache fraction {page_cache_fraction} must be in [0, 1)")
    des = designs.get(design)
    profile, mach, sim = build_simulator(machine, des, seed=seed, memory_mib=memory_mib)
    env = MemoryEnv(des, mach)
    env.now = lambda: sim.now
    setup = oom.oom_tasks(env, page_cache_fraction=page_cache_fraction)
    running: dict[str, Any] = {}
    for cpu, fn, args, name in setup.tasks:
        running[name] = sim.spawn(cpu, fn, args, name=name)

    oops = None
    try:
        sim.run(until=OOM_TIME_LIMIT_NS)
    except Exception as exc:  # noqa: BLE001 - design code may crash: that is the finding
        if not is_oops(exc):
            raise
        task = crashed_task(exc)
        oops = build_oops(
            exc,
            cpu=task.cpu if task is not None else None,
            comm=task.name if task is not None else "?",
            machine=mach,
            design=des.name,
            kernel=des.kernel_version,
        )
    errors = check_invariants(mach) if oops is None else []
    if oops is not None:
        outcome = "oops"
    elif setup.hog.killed and setup.hog.exited:
        outcome = "oom-killed"
    elif not env.stop:
        raise PcplabError(
            f"the OOM run did not finish within {OOM_TIME_LIMIT_NS / 1e9:.0f} simulated seconds; "
            "use a smaller --memory-mib"
        )
    else:
        outcome = "alloc-failed"
    return {
        "machine": profile.name,
        "design": des.name,
        "kernel": des.kernel_version,
        "seed": seed,
        "memory_mib": memory_mib,
        "managed_pages": mach.managed_pages,
        "outcome": outcome,
        "oops": oops,
        "drains": env.stats["drains"],
        "drain_latency_ns": list(env.drain_latency_ns),
        "pages_lost": oom.pages_lost(env) if oops is None else None,
        "invariant_errors": errors,
        "stats": dict(env.stats),
        "sim_ns": sim.now,
    }


def crashed_task(exc: BaseException) -> Any:
    """The kernel task whose step raised ``exc``: the ``task`` argument of the innermost
    ``Kernel.step`` frame in the traceback (None if the exception did not come from a step)."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "step" and frame.f_code.co_filename.replace("\\", "/").endswith(
            "pcplab/kernel/state.py"
        ):
            found = frame.f_locals.get("task", found)
        tb = tb.tb_next
    return found
