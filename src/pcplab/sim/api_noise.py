"""Entry points for the drain workloads: :func:`run_oom` and :func:`run_noise`.

``pcplab.sim.api`` re-exports them.
"""

from __future__ import annotations

import functools
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
    isolated: list[int] | tuple[int, ...] = (),
    isolated_task: str = "fifo",
) -> dict[str, Any]:
    """The seed's reproducer: a memory hog faults pages until the machine runs out.

    ``isolated``: nohz_full CPUs (none by default); each runs ``isolated_task`` (see
    :func:`run_noise`) and the hog, kswapd and the allocator traffic run on the other CPUs.

    Returns ``{"machine", "design", "kernel", "seed", "memory_mib", "outcome": "oom-killed" |
    "oops" | "alloc-failed", "oops": {...} | None, "drains": n, "drain_latency_ns": [...],
    "pages_lost": n, "invariant_errors": [...], "stats": {...}, "sim_ns": n}``, and with
    ``isolated`` also ``"isolated"``, ``"isolated_task"``, ``"isolated_alloc_latency_ns"`` and
    ``"isolated_free_latency_ns"`` (:func:`isolated_latency`).
    ``oops`` holds the kernel-style report (``pcplab.workloads.oops.build_oops``) when design code
    crashed.  Same arguments → identical result.
    """
    from pcplab import designs
    from pcplab.mm.invariants import check_invariants
    from pcplab.sim.machine_setup import build_simulator
    from pcplab.workloads import isolated as iso_mod
    from pcplab.workloads import oom
    from pcplab.workloads.oops import build_oops, is_oops
    from pcplab.workloads.slowpath import MemoryEnv

    if not 0.0 <= page_cache_fraction < 1.0:
        raise PcplabError(f"page cache fraction {page_cache_fraction} must be in [0, 1)")
    iso = sorted(set(int(c) for c in isolated))
    prog = iso_mod.program_for(isolated_task)
    des = designs.get(design)
    profile, mach, sim = build_simulator(
        machine, des, seed=seed, memory_mib=memory_mib, nohz_full=tuple(iso)
    )
    housekeeping = _housekeeping(profile.name, mach.nr_cpus, iso)
    env = MemoryEnv(des, mach)
    env.now = lambda: sim.now
    setup = oom.oom_tasks(
        env, cpus=housekeeping if iso else None, page_cache_fraction=page_cache_fraction
    )
    running: dict[str, Any] = {}
    for cpu, fn, args, name in setup.tasks:
        running[name] = sim.spawn(cpu, fn, args, name=name)
    lat = iso_mod.LatencyLog()
    spawn_isolated(sim, env, iso, prog, lat)

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
    res = {
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
    if iso:
        # the run ends with the OOM load's last task (the engine may still hold an RT period
        # timer of an isolated CPU, up to a period later, that does nothing)
        res["sim_ns"] = max((sim.stats(t).end_ns or 0 for t in running.values()), default=0)
        res.update(isolated=iso, isolated_task=isolated_task, **isolated_latency(lat, iso))
    return res


def _housekeeping(machine: str, nr_cpus: int, iso: list[int]) -> list[int]:
    """The CPUs that are not isolated; an error when ``iso`` names a CPU the machine lacks or
    every CPU (the kernel keeps one: ``housekeeping_setup``)."""
    bad = [c for c in iso if not 0 <= c < nr_cpus]
    if bad:
        raise PcplabError(
            f"isolated CPUs {bad} do not exist on {machine}; it has CPUs 0-{nr_cpus - 1}"
        )
    housekeeping = [c for c in range(nr_cpus) if c not in iso]
    if not housekeeping:
        raise PcplabError(
            f"every CPU of {machine} is isolated; leave at least one (CPUs 0-{nr_cpus - 1})"
        )
    return housekeeping


def spawn_isolated(
    sim: Any, env: Any, iso: list[int], prog: tuple[Any, str] | None, log: Any,
    spawn: Any = None,
) -> dict[int, Any]:  # fmt: skip
    """Start the isolated task ``prog`` (from ``isolated.program_for``; None: idle) on every CPU
    of ``iso``, logging its own allocation/free latency in ``log``.  Each task starts at a random
    phase of its period (one ``sim.rng`` draw per CPU, in CPU order).  ``spawn(cpu, fn, args,
    name, policy)`` defaults to ``sim.spawn``.  Returns {cpu: task}."""
    from pcplab.workloads import isolated as iso_mod
    from pcplab.workloads.slowpath import Process

    if prog is None:
        return {}
    if spawn is None:
        def spawn(cpu: int, fn: Any, args: Any, name: str, policy: str) -> Any:
            return sim.spawn(cpu, fn, args, name=name, policy=policy)
    fn, policy = prog
    tasks = {}
    for cpu in iso:
        proc = Process(f"rt/{cpu}")
        env.processes.append(proc)
        params = iso_mod.LoopParams(phase_ns=int(sim.rng.random() * 1_000_000))
        tasks[cpu] = spawn(cpu, fn, (env, proc, params, log), f"rt/{cpu}", policy)
    return tasks


def isolated_latency(log: Any, iso: list[int]) -> dict[str, Any]:
    """``{"isolated_alloc_latency_ns": [...], "isolated_free_latency_ns": [...]}``: per isolated
    CPU ``{"cpu", "n", "p50", "p99", "max"}`` of the isolated task's own page allocations and
    frees (``p99`` None below 100 samples; see :mod:`pcplab.workloads.isolated`)."""
    alloc, free = log.summary(iso)
    return {"isolated_alloc_latency_ns": alloc, "isolated_free_latency_ns": free}


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


LOADS = ("drain-storm", "oom", "cma")


def latency_summary(samples: list[int]) -> dict[str, Any]:
    """min, mean, p99 (nearest rank), max of drain latencies in ns, plus the samples."""
    if not samples:
        return {"min": None, "mean": None, "p99": None, "max": None, "samples": []}
    s = sorted(samples)
    rank = max(1, -(-99 * len(s) // 100))  # ceil(0.99 n)
    return {
        "min": s[0],
        "mean": sum(s) / len(s),
        "p99": s[rank - 1],
        "max": s[-1],
        "samples": list(samples),
    }


def run_noise(
    machine: str,
    design: str,
    isolated: list[int],
    load: str = "drain-storm",
    drain_rate: float = 100.0,
    duration_s: float = 1.0,
    seed: int = 0,
    *,
    isolated_task: str = "fifo",
    memory_mib: int | None = None,
    check_invariants: bool = True,
    rt_runtime_us: int = 950_000,
    rt_period_us: int = 1_000_000,
    progress: Any = None,
) -> dict[str, Any]:
    """Noise on isolated (nohz_full) CPUs while other CPUs cause drains.

    ``isolated``: the nohz_full CPUs; each runs ``isolated_task`` (``fifo``: a SCHED_FIFO
    periodic loop, ``other``: a SCHED_OTHER poller, ``idle``: nothing).  ``load`` on the other
    CPUs: ``drain-storm`` (forced ``drain_all_pages(NULL)`` at ``drain_rate`` per second from the
    first other CPU, allocator traffic on the rest), ``oom`` (the memory hog of
    :func:`run_oom`; its drains come from direct reclaim) or ``cma`` (``alloc_contig_range``-style
    ``drain_all_pages(zone)`` at ``drain_rate``).  ``memory_mib``: scale the machine's memory down
    (default: the real size; ``oom`` uses :data:`OOM_MEMORY_MIB`).  ``rt_runtime_us`` /
    ``rt_period_us``: RT throttling as the sysctls ``sched_rt_runtime_us`` (-1: none) and
    ``sched_rt_period_us`` set it (kernel defaults 950000 / 1000000).  ``progress``: called as
    ``progress(simulated_ns, end_ns)`` about every 1 % of the run (it does not change the result).

    Returns ``{"machine", "design", "kernel", "seed", "load", "isolated", "isolated_task",
    "drain_rate", "duration_s", "cpus": [{"cpu", "isolated", "task", "interference": {"irq",
    "ipi", "thread"}, "sources", "noise_ns", "max_single_noise_ns", "available_pct", "delay_ns",
    "lock_spin_ns", "drains_found_pages"}], "drain_latency_ns": {"min", "mean", "p99", "max",
    "samples"}, "drains", "drains_skipped", "invariant_checks", "pages_lost", "oops", "stats",
    "isolated_alloc_latency_ns", "isolated_free_latency_ns"}`` (the last two: the isolated
    tasks' own page allocations and frees per CPU, :func:`isolated_latency`).

    After the window (decided in issue 12): at ``duration_s`` the allocator traffic, the
    isolated programs and the OOM load stop (``env.stop``: each finishes the operation it is in
    and issues no new one), and the drain-storm drainer starts no new drain; a drain already
    issued runs to completion and its latency is measured (``drain_latency_ns``, ``drains``).
    Noise is counted inside the window only (:class:`NoiseMeter`), as before.  Before, the
    drainer kept issuing, back to back, the drains it had fallen behind on (each rcu drain waits
    ~11 ms for a grace period, so 400 drains/s for 50 ms simulated ~208 ms on xeon-e5-2640v3)
    and traffic ran until the last one returned; with a fast design traffic instead stopped at
    the last drain, up to one drain period before the window's end.  Now traffic fills exactly
    the window, and a design slower than the asked rate shows it as fewer ``drains``.  The
    ``cma`` load's allocator still finishes its own schedule (``pcplab.workloads.cma`` does not
    look at ``env.stop``), without the other CPUs' traffic after the window.
    """
    from pcplab import designs
    from pcplab.mm.invariants import check_invariants as mm_check
    from pcplab.sim.machine_setup import build_simulator
    from pcplab.workloads import cma, drain_storm, oom
    from pcplab.workloads import isolated as iso_mod
    from pcplab.workloads.noise import NoiseMeter
    from pcplab.workloads.oops import build_oops, is_oops
    from pcplab.workloads.slowpath import MemoryEnv

    if load not in LOADS:
        raise PcplabError(f"unknown load {load!r}; use one of: {', '.join(LOADS)}")
    if not drain_rate > 0:
        raise PcplabError(f"drain rate must be positive, got {drain_rate}")
    if not 0 < duration_s <= 86400 * 366:
        raise PcplabError(f"duration must be positive (seconds), got {duration_s}")
    iso = sorted(set(int(c) for c in isolated))
    prog = iso_mod.program_for(isolated_task)
    des = designs.get(design)
    if memory_mib is None and load == "oom":
        memory_mib = OOM_MEMORY_MIB
    if not (rt_runtime_us == -1 or 0 < rt_runtime_us <= rt_period_us):
        raise PcplabError(
            f"RT runtime {rt_runtime_us} µs must be -1 (no throttling) or in 1..{rt_period_us} "
            "(the RT period)"
        )
    profile, mach, sim = build_simulator(
        machine,
        des,
        seed=seed,
        memory_mib=memory_mib,
        nohz_full=tuple(iso),
        rt_runtime_us=rt_runtime_us,
        rt_period_us=rt_period_us,
    )
    nr = mach.nr_cpus
    housekeeping = _housekeeping(profile.name, nr, iso)
    env = MemoryEnv(des, mach)
    env.now = lambda: sim.now
    end_ns = int(duration_s * 1e9)
    meter = NoiseMeter(nr, set(iso))
    meter.end_ns = end_ns
    meter.attach(sim)

    owners: dict[int, Any] = {}

    def spawn(cpu: int, fn: Any, args: tuple[Any, ...], name: str, policy: str = "other") -> Any:
        task = sim.spawn(cpu, fn, args, name=name, policy=policy)
        owners.setdefault(cpu, task)
        return task

    storm_log = drain_storm.StormLog()
    cma_log = cma.CmaLog()
    check = mm_check if check_invariants else None
    if load == "drain-storm":
        drainer = functools.partial(
            drain_storm.drain_storm_drainer,
            check=check,
            phase=1.0 - sim.rng.random(),
            rng=sim.rng,
            stop_at_end=False,  # no new drain after the window (see "After the window" above)
        )
        spawn(housekeeping[0], drainer, (env, storm_log, drain_rate, end_ns), "drain_storm")
        _traffic(spawn, env, housekeeping[1:] or housekeeping[:1])
    elif load == "cma":
        zone = max(mach.zones_of_node(mach.cpu_node(housekeeping[0])), key=lambda z: z.idx)
        spawn(housekeeping[0], cma.cma_allocator, (env, cma_log, drain_rate, end_ns, zone), "cma")
        _traffic(spawn, env, housekeeping[1:] or housekeeping[:1])
    else:
        setup = oom.oom_tasks(env, cpus=housekeeping)
        for cpu, fn, args, name in setup.tasks:
            spawn(cpu, fn, args, name)
    # every load: traffic and the isolated programs stop at the end of the measured window
    sim.at(end_ns, _stop, env)
    lat = iso_mod.LatencyLog()
    for cpu, task in spawn_isolated(sim, env, iso, prog, lat, spawn).items():
        meter.set_owner(cpu, task)
    for cpu, task in owners.items():
        if cpu not in iso:
            meter.set_owner(cpu, task)
    # the storm checks after each drain; the other loads check once at the end
    oops = None
    try:
        if progress is not None:
            # the same events in the same order, run in slices so that someone can watch
            step = max(1, end_ns // 100)
            t = step
            while t < end_ns:
                sim.run(until=t)
                progress(t, end_ns)
                t += step
        sim.run()
    except Exception as exc:  # noqa: BLE001 - a crash in design code is a finding
        if isinstance(exc, drain_storm.LostPages) or not is_oops(exc):
            raise
        task = crashed_task(exc)
        oops = build_oops(
            exc,
            cpu=getattr(task, "cpu", None),
            comm=getattr(task, "name", "?"),
            machine=mach,
            design=des.name,
            kernel=des.kernel_version,
        )
    errors = mm_check(mach) if oops is None else []
    cpus = meter.result(sim, end_ns)
    for rec in cpus:
        rec["drains_found_pages"] = storm_log.found_pages.get(rec["cpu"], 0)
    return {
        "machine": profile.name,
        "design": des.name,
        "kernel": des.kernel_version,
        "seed": seed,
        "load": load,
        "isolated": iso,
        "isolated_task": isolated_task,
        "rt_runtime_us": rt_runtime_us,
        "rt_period_us": rt_period_us,
        "drain_rate": drain_rate,
        "duration_s": duration_s,
        "memory_mib": memory_mib,
        "cpus": cpus,
        "drain_latency_ns": latency_summary(env.drain_latency_ns),
        "drains": env.stats["drains"],
        "drains_skipped": env.stats["drains_skipped"],
        "invariant_checks": storm_log.checks + (1 if oops is None else 0),
        "invariant_errors": errors,
        "pages_lost": oom.pages_lost(env) if oops is None else None,
        "cma": {"attempts": cma_log.attempts, "success": cma_log.success, "busy": cma_log.busy}
        if load == "cma"
        else None,
        "oops": oops,
        "stats": dict(env.stats),
        "sim_ns": sim.now,
        **isolated_latency(lat, iso),
    }


#: allocator traffic of the noise loads: fault a chunk, unmap it, pause (ASSUMPTION)
NOISE_TRAFFIC_CHUNK = 64
NOISE_TRAFFIC_PAUSE_NS = 2_000_000


def _traffic(spawn: Any, env: Any, cpus: list[int]) -> None:
    from pcplab.workloads.oom import allocator_traffic
    from pcplab.workloads.slowpath import Process

    for cpu in cpus:
        proc = Process(f"traffic/{cpu}")
        env.processes.append(proc)
        spawn(
            cpu,
            allocator_traffic,
            (env, proc, NOISE_TRAFFIC_CHUNK, NOISE_TRAFFIC_PAUSE_NS),
            proc.name,
        )


def _stop(env: Any) -> None:
    env.stop = True


def run_hotplug(
    machine: str = "rpi4",
    design: str = "spinlock",
    seed: int = 0,
    *,
    offline_cpu: int = 1,
    offline_rate: float = 50.0,
    duration_s: float = 0.1,
    traffic: bool = True,
    memory_mib: int | None = 64,
) -> dict[str, Any]:
    """Memory offline (``zone_pcp_disable``/``enable`` of the highest zone of node 0 at
    ``offline_rate``) from CPU 0 while CPU ``offline_cpu`` faults pages, unmaps them and goes
    offline, and a control task drains its lists with the design's ``drain_dead_cpu``; allocator
    traffic on the remaining CPUs when ``traffic``.

    Returns ``{"offlines", "left_after_disable": [...], "dead_cpu_left": n, "drains",
    "drain_latency_ns", "pages_lost", "invariant_errors", "cpu_online"}``.
    """
    from pcplab import designs
    from pcplab.mm.invariants import check_invariants as mm_check
    from pcplab.sim.machine_setup import build_simulator
    from pcplab.workloads import hotplug, oom
    from pcplab.workloads.slowpath import MemoryEnv, Process

    des = designs.get(design)
    _profile, mach, sim = build_simulator(machine, des, seed=seed, memory_mib=memory_mib)
    nr = mach.nr_cpus
    if nr < 2 or not 0 < offline_cpu < nr:
        raise PcplabError(f"offline CPU {offline_cpu} must be one of 1-{nr - 1} (CPU 0 controls)")
    env = MemoryEnv(des, mach)
    env.now = lambda: sim.now
    log = hotplug.HotplugLog()
    end_ns = int(duration_s * 1e9)
    zone = max(mach.zones_of_node(mach.cpu_node(0)), key=lambda z: z.idx)
    sim.spawn(0, hotplug.memory_offliner, (env, log, zone, offline_rate, end_ns), name="offline")
    sim.spawn(0, hotplug.cpu_hotplug_control, (env, log, offline_cpu), name="cpuhp/control")
    victim = Process(f"dying/{offline_cpu}")
    env.processes.append(victim)
    sim.spawn(offline_cpu, hotplug.cpu_offliner, (env, victim, 200), name=f"dying/{offline_cpu}")
    if traffic:
        _traffic(
            lambda cpu, fn, args, name: sim.spawn(cpu, fn, args, name=name),
            env,
            [c for c in range(nr) if c not in (0, offline_cpu)],
        )
    sim.run()
    errors = mm_check(mach)
    return {
        "machine": machine,
        "design": des.name,
        "offlines": log.offlines,
        "left_after_disable": log.left_after_disable,
        "dead_cpu_left": log.dead_cpu_left.get(offline_cpu),
        "cpu_online": [c.online for c in sim.kernel.cpus],
        "drains": env.stats["drains"],
        "drain_latency_ns": latency_summary(env.drain_latency_ns),
        "pages_lost": oom.pages_lost(env),
        "invariant_errors": errors,
    }
