"""pcplab.mm: the page allocator model (state, sequential kernel rules, invariants).

See ``docs/internals.md`` ("pcplab.mm") for the contract.  No time, no CPUs as actors: designs
call these functions between the ops that make them legal.
"""

from pcplab.mm.constants import (
    MAX_ORDER,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_TYPES,
    MIGRATE_UNMOVABLE,
    NR_ORDERS,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_ORDER,
    PCP_BATCH_SCALE_MAX,
    ZONE_NAMES,
)
from pcplab.mm.errors import AllocatorBug, BadFree, DoubleAlloc
from pcplab.mm.invariants import check_invariants, state_key
from pcplab.mm.machine import Machine, tiny_topology
from pcplab.mm.state import PcpLists, PerCpuPages, Watermarks, Zone
from pcplab.mm.topology import NodeSpec, Topology, ZoneSpec
from pcplab.mm.version import KernelVersion, parse_kernel

__all__ = [
    "MAX_ORDER",
    "MIGRATE_CMA",
    "MIGRATE_HIGHATOMIC",
    "MIGRATE_ISOLATE",
    "MIGRATE_MOVABLE",
    "MIGRATE_PCPTYPES",
    "MIGRATE_RECLAIMABLE",
    "MIGRATE_TYPES",
    "MIGRATE_UNMOVABLE",
    "NR_ORDERS",
    "PAGE_ALLOC_COSTLY_ORDER",
    "PAGEBLOCK_ORDER",
    "PCP_BATCH_SCALE_MAX",
    "ZONE_NAMES",
    "AllocatorBug",
    "BadFree",
    "DoubleAlloc",
    "check_invariants",
    "state_key",
    "Machine",
    "tiny_topology",
    "PcpLists",
    "PerCpuPages",
    "Watermarks",
    "Zone",
    "NodeSpec",
    "Topology",
    "ZoneSpec",
    "KernelVersion",
    "parse_kernel",
]
