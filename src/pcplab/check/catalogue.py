"""The standard scenario catalogue: :data:`STANDARD` (what ``pcplab check --scenario all`` runs)
and :data:`EXTRA` (named scenarios outside it, for ``--scenario NAME``)."""

from __future__ import annotations

from collections.abc import Iterable

from pcplab.check.scenario_language import (
    Scenario,
    alloc,
    drain,
    drain_dead,
    enter_user,
    free,
    go_idle,
    go_offline,
    pcp_disable,
    pcp_enable,
)
from pcplab.errors import PcplabError


def _std() -> list[Scenario]:
    return [
        Scenario(
            "free-vs-global-drain",
            "cpu0 allocates an order-0 and an order-1 block and frees them while cpu1 runs "
            "drain_all_pages(NULL) (direct reclaim's drain, the path of the seed's NULL oops)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None),)),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "alloc-vs-zone-drain",
            "cpu0 refills and allocates while cpu1 drains zone0 (CMA / compaction drain); cpu0's "
            "list starts with pages",
            programs=((alloc(0), free(), alloc(0)), (drain(0),)),
            prefill=((0, 0, 2),),
        ),
        Scenario(
            "two-cpus-free-forced-drain",
            "cpu0 and cpu1 free pages while cpu2 runs a forced drain_all_pages(zone0)",
            programs=((alloc(0), free()), (alloc(0), free()), (drain(0, force=True),)),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "pcp-disable",
            "cpu1 runs zone_pcp_disable (high=0, batch=1, forced drain) and zone_pcp_enable while "
            "cpu0 allocates and frees",
            programs=((alloc(0), free()), (pcp_disable(0), pcp_enable(0))),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "concurrent-drainers",
            "a global and a zone drain race for pcpu_drain_mutex while cpu2 frees",
            programs=((drain(None),), (drain(0),), (alloc(0), free())),
            prefill=((2, 0, 1),),
        ),
        Scenario(
            "idle-and-user",
            "nohz_full cpu0 frees then returns to user space, cpu1 goes idle, cpu2 drains all "
            "zones (grace periods must not wait for EQS CPUs)",
            programs=((alloc(0), free(), enter_user()), (go_idle(),), (drain(None),)),
            prefill=((0, 0, 1), (1, 0, 1)),
            nohz_full=(0,),
        ),
        Scenario(
            "cpu-offline",
            "cpu1 frees and goes offline; cpu0 waits for it and runs drain_dead_cpu(1) while "
            "cpu2 runs a global drain",
            programs=((drain_dead(1),), (alloc(0), free(), go_offline()), (drain(None),)),
            prefill=((1, 0, 1),),
        ),
        Scenario(
            "two-zones",
            "two zones: cpu0 frees into zone1 while cpu1 drains all zones",
            programs=((alloc(0, zone=1), free()), (drain(None),)),
            zone_pages=(16, 32),
            prefill=((0, 0, 1), (1, 1, 1)),
        ),
        Scenario(
            "high-orders",
            "cpu0 allocates and frees order-3 and order-2 blocks (the highest pcp orders) while "
            "cpu1 drains zone0",
            programs=((alloc(3), alloc(2), free(), free()), (drain(0),)),
            zone_pages=(64,),
            prefill=((0, 0, 1),),
        ),
    ]


def _extra() -> list[Scenario]:
    return [
        Scenario(
            "stress-forced-global-drain",
            "cpu0 allocates and frees while cpu1 runs the seed's stress-test drain, "
            "__drain_all_pages(NULL, force_all_cpus=true): forced, so the NULL-zone branch that "
            "oopses in rcu-v1 is never taken (why a day of it did not find the bug)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None, force=True),)),
            prefill=((0, 0, 1),),
            standard=False,
        ),
        Scenario(
            "rt-free-vs-global-drain",
            "free-vs-global-drain on a PREEMPT_RT kernel (local locks and zone->lock sleep; "
            "sleeping with IRQs disabled is reported)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None),)),
            prefill=((0, 0, 1),),
            preempt_rt=True,
            standard=False,
        ),
        Scenario(
            "big-mix",
            "4 CPUs, 2 zones: two CPUs allocate and free in both zones while one drains all and "
            "then one zone, and one runs zone_pcp_disable/enable (for --mode random or pct)",
            programs=(
                (alloc(0), alloc(1), free(), free(), alloc(0, zone=1), free()),
                (alloc(0, zone=1), alloc(0), free(), free(), alloc(1, zone=1), free()),
                (drain(None), drain(1)),
                (pcp_disable(0), pcp_enable(0)),
            ),
            zone_pages=(32, 32),
            prefill=((0, 0, 2), (1, 1, 2)),
            standard=False,
        ),
    ]


STANDARD: list[Scenario] = _std()
#: named scenarios outside the standard set ('all' does not run them)
EXTRA: list[Scenario] = _extra()


def scenario_names() -> list[str]:
    return [s.name for s in STANDARD]


def get_scenario(name: str, extra: Iterable[Scenario] = ()) -> Scenario:
    for s in list(extra) + STANDARD + EXTRA:
        if s.name == name:
            return s
    known = [s.name for s in list(extra) + STANDARD + EXTRA]
    raise PcplabError(f"unknown scenario {name!r}; use one of: {', '.join(known)} or 'all'")


__all__ = ["EXTRA", "STANDARD", "get_scenario", "scenario_names"]
