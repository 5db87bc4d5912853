"""Entry points other parts call: :func:`run_pft`, and :func:`run_noise`/:func:`run_oom` from
:mod:`pcplab.sim.api_noise` (``pcplab compare`` and the Python API use them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pcplab.errors import PcplabError
from pcplab.sim.api_noise import run_noise, run_oom

__all__ = ["run_noise", "run_oom", "run_pft"]


def run_pft(
    machine: str,
    design: str,
    clients: list[int] | None = None,
    iterations: int = 30,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    exact: bool = False,
    *,
    mapping_bytes: int | None = None,
    placement: str = "fork-domain",
    kernel_config: str | None = None,
    isolated: list[int] | tuple[int, ...] | None = None,
    isolated_task: str = "fifo",
) -> dict[str, Any]:
    """Simulate mmtests' pft on machine profile ``machine`` with drain design ``design``.

    ``clients``: thread counts (default: mmtests' sequence for the machine's CPU count, capped at
    128).  ``iterations``: runs per client count (mmtests: 30).  ``exact``: every fault through
    the engine (slow; meant for small ``mapping_bytes``).  ``mapping_bytes`` overrides
    ``MemTotal / 5``.  ``placement``: how worker threads are placed on CPUs, a key of
    ``pcplab.workloads.pft.PLACEMENTS`` (``"fork-domain"``, the default, or ``"v5.17"``, v5.17's
    fork balancing; docs/fidelity.md compares them).  ``kernel_config``: ``"default"`` or a
    comma list of ``debug-preempt``, ``preempt-rt`` (:class:`pcplab.sim.costs.KernelConfig`),
    recorded in the result as ``"kernel_config"``.  ``isolated``: nohz_full CPUs running
    ``isolated_task`` (``pcplab.workloads.pft.isolate``: pft's threads use the other CPUs only,
    as under ``isolcpus``/``taskset``, so client counts go up to their number; the result then
    also has ``"isolated"``, ``"isolated_task"`` and the isolated tasks' own
    ``"isolated_alloc_latency_ns"`` / ``"isolated_free_latency_ns"`` per CPU, see
    ``pcplab.sim.api_noise.isolated_latency``).  Same arguments, same seed → identical result.

    Returns ``{"machine", "design", "kernel", "seed", "page_size", "gbyte", "mode",
    "mapping_bytes", "clients": [{"clients", "pages", "gbyte", "user": [s...], "system": [...],
    "elapsed": [...], "faults_per_cpu": [...], "faults_per_sec": [...]}]}``.
    """
    from pcplab import designs
    from pcplab.machines.registry import get_profile
    from pcplab.sim import pft
    from pcplab.sim.costs import KernelConfig

    config = KernelConfig.parse(kernel_config)
    if iterations < 1:
        raise PcplabError(f"iterations must be at least 1, got {iterations}")
    prof = get_profile(machine)
    des = designs.get(design)
    nr_cpus = prof.nr_cpus
    iso = sorted(set(int(c) for c in isolated or ()))
    bad_iso = [c for c in iso if not 0 <= c < nr_cpus]
    if bad_iso:
        raise PcplabError(
            f"isolated CPUs {bad_iso} do not exist on {machine}; it has CPUs 0-{nr_cpus - 1}"
        )
    if iso and len(iso) >= nr_cpus:
        raise PcplabError(f"every CPU of {machine} is isolated; leave at least one for pft")
    usable = nr_cpus - len(iso)  # pft's threads never run on isolated CPUs
    max_clients = min(pft.MAX_CLIENTS, getattr(prof, "max_clients", pft.MAX_CLIENTS) or 128)
    if clients is None:
        clients = pft.client_counts(usable, max_clients)
    else:
        clients = [int(c) for c in clients]
        bad = [c for c in clients if not 1 <= c <= min(usable, pft.MAX_CLIENTS)]
        if bad:
            where = f" with {len(iso)} isolated CPU(s)" if iso else ""
            raise PcplabError(
                f"client counts {bad} are out of range for {machine}{where}; use 1.."
                f"{min(usable, pft.MAX_CLIENTS)} (pft clips to the CPU count and 128)"
            )
    if placement not in pft.PLACEMENTS:
        raise PcplabError(
            f"unknown placement {placement!r}; use one of: {', '.join(pft.PLACEMENTS)}"
        )
    if mapping_bytes is not None and mapping_bytes < prof.page_size:
        raise PcplabError(f"mapping_bytes {mapping_bytes} is below one page; use a larger size")
    s = pft.setup(prof, des, mapping=mapping_bytes, kernel_config=config)
    s.placement = placement
    if iso:
        pft.isolate(s, iso, isolated_task)
    rows = pft.run_table(s, clients, iterations, seed, exact=exact, progress=progress)
    res = {
        "machine": prof.name,
        "design": des.name,
        "kernel": des.kernel_version,
        "seed": seed,
        "page_size": s.page_size,
        "gbyte": rows[0]["gbyte"] if rows else 0,
        "mode": "exact" if exact else "aggregated",
        "placement": placement,
        "kernel_config": config.to_dict(),
        "mapping_bytes": s.mapping_bytes,
        "pages": {str(row["clients"]): row["pages"] for row in rows},
        "clients": rows,
    }
    if iso:
        from pcplab.sim.api_noise import isolated_latency

        res.update(isolated=iso, isolated_task=isolated_task,
                   **isolated_latency(s.isolated_log, iso))
    return res
