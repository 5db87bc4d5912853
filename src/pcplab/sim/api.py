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
) -> dict[str, Any]:
    """Simulate mmtests' pft on machine profile ``machine`` with drain design ``design``.

    ``clients``: thread counts (default: mmtests' sequence for the machine's CPU count, capped at
    128).  ``iterations``: runs per client count (mmtests: 30).  ``exact``: every fault through
    the engine (slow; meant for small ``mapping_bytes``).  ``mapping_bytes`` overrides
    ``MemTotal / 5``.  Same arguments, same seed → identical result.

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
    if mapping_bytes is not None and mapping_bytes < prof.page_size:
        raise PcplabError(f"mapping_bytes {mapping_bytes} is below one page; use a larger size")
    s = pft.setup(prof, des, mapping=mapping_bytes)
    rows = pft.run_table(s, clients, iterations, seed, exact=exact, progress=progress)
    return {
        "machine": prof.name,
        "design": des.name,
        "kernel": des.kernel_version,
        "seed": seed,
        "page_size": s.page_size,
        "gbyte": rows[0]["gbyte"] if rows else 0,
        "mode": "exact" if exact else "aggregated",
        "mapping_bytes": s.mapping_bytes,
        "pages": {str(row["clients"]): row["pages"] for row in rows},
        "clients": rows,
    }


#: where helper H7's drain-noise workload provides ``run_noise`` (first found wins)
_NOISE_IMPLS = ("pcplab.workloads.noise", "pcplab.workloads.isolated")


def run_noise(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """OS noise of drains on isolated CPUs: delegates to the drain-noise workload's ``run_noise``
    (``machine, design, isolated, load, drain_rate, duration_s, seed``; see that module)."""
    import importlib

    for name in _NOISE_IMPLS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        impl = getattr(mod, "run_noise", None)
        if impl is not None:
            return impl(*args, **kwargs)
    raise PcplabError(
        "the drain-noise workload is not part of this build (no run_noise in "
        + " or ".join(_NOISE_IMPLS) + "); use `pcplab pft` or update pcplab"
    )
