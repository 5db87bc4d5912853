"""Turn an exception raised by design or workload code into a kernel-style oops report.

The call trace is built from the **real** generator frames of the traceback (the ``yield from``
chain of the task that crashed), innermost first, as the kernel prints it.  Frames of the engines
and of the user-space side of workload programs are left out.

* ``AttributeError``/``TypeError`` on ``None`` → ``BUG: kernel NULL pointer dereference, address:
  ...``; the address is the offset of the field dereferenced through NULL when known
  (``pcplab.kernel.oops.FIELD_OFFSETS``: 0x58 for ``zone->per_cpu_pageset``, kernel-pcp.md §10.5).
* mm errors (``DoubleAlloc``, ``BadFree``) → ``BUG: Bad page state``.
* ``KernelViolation`` → ``BUG: <kind>: <message>`` (what lockdep / might_sleep would print).
* anything else → ``Oops: <exception>``.
"""

from __future__ import annotations

import traceback
from typing import Any

from pcplab.kernel.oops import fault_address, null_deref_field
from pcplab.kernel.state import KernelViolation
from pcplab.mm.errors import AllocatorBug

# user-space halves of workload programs: not part of a kernel call trace
USER_PROGRAMS = frozenset({
    "memory_hog", "allocator_traffic", "drain_storm_drainer", "fifo_loop", "idle_loop",
    "cma_allocator", "memory_offliner", "cpu_offliner", "cpu_hotplug_control", "traffic_loop",
    "program", "run_program",
})  # fmt: skip
_KERNEL_SIDE = ("pcplab/designs/", "pcplab/workloads/")


def call_trace(exc: BaseException) -> list[tuple[str, str]]:
    """(function, "file:line") of the design/workload frames, innermost first."""
    frames = []
    for fs in traceback.extract_tb(exc.__traceback__):
        path = fs.filename.replace("\\", "/")
        if not any(k in path for k in _KERNEL_SIDE):
            continue
        if fs.name in USER_PROGRAMS or path.endswith("/workloads/oops.py"):
            continue
        short = path[path.rindex("pcplab/") :] if "pcplab/" in path else path
        frames.append((fs.name, f"{short}:{fs.lineno}"))
    frames.reverse()
    return frames


def is_oops(exc: BaseException) -> bool:
    """True for the exceptions a kernel would report as an oops / BUG."""
    return (
        null_deref_field(exc) is not None
        or isinstance(exc, AllocatorBug | KernelViolation)
        or isinstance(exc, AttributeError | TypeError | KeyError | IndexError | AssertionError)
    )


def mem_info(machine: Any) -> dict[str, int]:
    """``show_free_areas`` figures: free pages in buddy and on the live pcp lists."""
    free = sum(z.nr_free_pages for z in machine.populated_zones())
    pcp = sum(p.lp.count for z in machine.populated_zones() for p in z.per_cpu_pageset)
    return {"free": free, "free_pcp": pcp}


def build_oops(
    exc: BaseException, *, cpu: int | None, comm: str, machine: Any, design: str, kernel: str
) -> dict[str, Any]:
    """A JSON-able oops record."""
    frames = call_trace(exc)
    pc = frames[0][0] if frames else "?"
    attr = null_deref_field(exc)
    if attr is not None:
        address = fault_address(attr)
        bug = f"BUG: kernel NULL pointer dereference, address: {address:016x}"
        kind = "null-deref"
    elif isinstance(exc, AllocatorBug):
        address = None
        bug = f"BUG: Bad page state: {exc}"
        kind = "bad-page"
    elif isinstance(exc, KernelViolation):
        address = None
        bug = f"BUG: {exc.kind}: {exc.message}"
        kind = exc.kind
    else:
        address = None
        bug = f"Oops: {type(exc).__name__}: {exc}"
        kind = "oops"
    return {
        "kind": kind,
        "bug": bug,
        "address": address,
        "field": attr,
        "exception": f"{type(exc).__name__}: {exc}",
        "cpu": cpu,
        "comm": comm,
        "design": design,
        "kernel": kernel,
        "pc": pc,
        "pc_source": frames[0][1] if frames else "",
        "call_trace": [f for f, _ in frames],
        "call_trace_source": [src for _, src in frames],
        "mem_info": mem_info(machine),
    }


def format_oops(oops: dict[str, Any]) -> str:
    """The oops as a kernel would print it (model's own source positions instead of offsets)."""
    lines = [oops["bug"]]
    if oops.get("field"):
        lines.append(f"  (model: {oops['exception']})")
    lines.append(
        f"CPU: {oops['cpu']} Comm: {oops['comm']} pcplab model: design {oops['design']}, "
        f"kernel {oops['kernel']}"
    )
    lines.append(f"pc : {oops['pc']}  [{oops['pc_source']}]")
    lines.append("Call trace:")
    for func, src in zip(oops["call_trace"], oops["call_trace_source"], strict=True):
        lines.append(f" {func}  [{src}]")
    mi = oops["mem_info"]
    lines.append("Mem-Info:")
    lines.append(f" free:{mi['free']} free_pcp:{mi['free_pcp']}")
    return "\n".join(lines) + "\n"
