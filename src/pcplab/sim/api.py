"""Entry points other parts call: :func:`run_pft` (helper H3's ``compare`` uses it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pcplab.errors import PcplabError


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
) -> dict[str, Any]:
    """Simulate mmtests' pft on machine profile ``machine`` with drain design ``design``.

    ``clients``: thread counts (default: mmtests' sequence for the machine's CPU count, capped at
    128).  ``iterations``: runs per client count (mmtests: 30).  ``exact``: every fault through
    the engine (slow; meant for small ``mapping_bytes``).  ``mapping_bytes`` overrides
    ``MemTotal / 5``.  ``placement``: how worker threads are placed on CPUs, a key of
    ``pcplab.workloads.pft.PLACEMENTS`` (``"fork-domain"``, the default, or ``"v5.17"``, v5.17's
    fork balancing; docs/fidelity.md compares them).  Same arguments, same seed → identical
    result.

    Returns ``{"machine", "design", "kernel", "seed", "page_size", "gbyte", "mode",
    "mapping_bytes", "clients": [{"clients", "pages", "gbyte", "user": [s...], "system": [...],
    "elapsed": [...], "faults_per_cpu": [...], "faults_per_sec": [...]}]}``.
    """
    from pcplab import designs
    from pcplab.machines.registry import get_profile
    from pcplab.workloads import pft

    if iterations < 1:
        raise PcplabError(f"iterations must be at least 1, got {iterations}")
    prof = get_profile(machine)
    des = designs.get(design)
    nr_cpus = prof.nr_cpus
    max_clients = min(pft.MAX_CLIENTS, getattr(prof, "max_clients", pft.MAX_CLIENTS) or 128)
    if clients is None:
        clients = pft.client_counts(nr_cpus, max_clients)
    else:
        clients = [int(c) for c in clients]
        bad = [c for c in clients if not 1 <= c <= min(nr_cpus, pft.MAX_CLIENTS)]
        if bad:
            raise PcplabError(
                f"client counts {bad} are out of range for {machine}; use 1.."
                f"{min(nr_cpus, pft.MAX_CLIENTS)} (pft clips to the CPU count and 128)"
            )
    if placement not in pft.PLACEMENTS:
        raise PcplabError(
            f"unknown placement {placement!r}; use one of: {', '.join(pft.PLACEMENTS)}"
        )
    if mapping_bytes is not None and mapping_bytes < prof.page_size:
        raise PcplabError(f"mapping_bytes {mapping_bytes} is below one page; use a larger size")
    s = pft.setup(prof, des, mapping=mapping_bytes)
    s.placement = placement
    rows = pft.run_table(s, clients, iterations, seed, exact=exact, progress=progress)
    return {
        "machine": prof.name,
        "design": des.name,
        "kernel": des.kernel_version,
        "seed": seed,
        "page_size": s.page_size,
        "gbyte": rows[0]["gbyte"] if rows else 0,
        "mode": "exact" if exact else "aggregated",
        "placement": placement,
        "mapping_bytes": s.mapping_bytes,
        "pages": {str(row["clients"]): row["pages"] for row in rows},
        "clients": rows,
    }


#: the drain workloads' entry points (helper H7's ``pcplab.sim.api_noise``), re-exported lazily so
#: this module stays importable whatever state that one is in
_DRAIN_API = "pcplab.sim.api_noise"


def _drain_entry(name: str) -> Any:
    import importlib

    try:
        mod = importlib.import_module(_DRAIN_API)
    except ModuleNotFoundError as exc:
        if exc.name != _DRAIN_API:
            raise
        mod = None
    impl = getattr(mod, name, None)
    if impl is None:
        raise PcplabError(
            f"the drain workloads are not part of this build (no {name} in {_DRAIN_API}); "
            "use `pcplab pft` or update pcplab"
        )
    return impl


def run_noise(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """OS noise of drains on isolated CPUs; see ``pcplab.sim.api_noise.run_noise``."""
    return _drain_entry("run_noise")(*args, **kwargs)


def run_oom(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The seed's OOM reproducer; see ``pcplab.sim.api_noise.run_oom``."""
    return _drain_entry("run_oom")(*args, **kwargs)
