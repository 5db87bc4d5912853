"""`pcplab compare --jobs 1` vs `--jobs 2`: wall time of a default-ish compare on a small machine.

Runs :func:`pcplab.report.compare.run_all` (what `pcplab compare` runs; the report is built too)
on ``rpi4`` with the default designs (workqueue, rcu, spinlock), mmtests' client counts for the
machine, the default noise run (drain-storm, 400 drains/s, 0.05 s) and checker (exhaustive,
preemption bound 1), into a fresh database each time, alternating serial and two worker
processes in this one process, and prints each wall time, the medians and the ratio
serial / parallel (above 1: --jobs 2 is faster).  The two runs' reports must be byte-identical;
the benchmark stops if they are not.

Measured 2026-12-04 on the 2-core development box shared with other jobs (load 4-5, i.e. both
cores already busy: two independent pft runs took 2.0x as long side by side as one alone):
``--iterations 5 --repeats 3`` gave 0.86x and 0.91x (each unit ran ~1.9x slower in a worker, and
the workqueue checker unit, ~40 % of the serial time, is one unit).  The default `pcplab compare`
(xeon-e5-2640v3), one run each at load ~3.5: ``--jobs 1`` 222 s, ``--jobs 2`` 119 s (1.9x),
identical stdout.

Usage: ``python benchmarks/bench_compare_jobs.py [--machine rpi4] [--iterations 10]
[--repeats 3] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from pcplab.report import compare as cmp
from pcplab.report.backends import get_backend
from pcplab.report.parallel import ProcessExecutor, SerialExecutor
from pcplab.store.db import Store


def once(params: cmp.CompareParams, executor: object, tmp: Path, tag: str) -> tuple[float, str]:
    db = tmp / f"{tag}.db"
    started = time.perf_counter()
    with Store(str(db)) as store:
        outcome = cmp.run_all(params, store, get_backend("sim"), executor=executor)
        text = cmp.build_report(params, outcome).text
    wall = time.perf_counter() - started
    db.unlink()
    return wall, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="rpi4")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    params = cmp.CompareParams(
        machine=a.machine, designs=("workqueue", "rcu", "spinlock"), clients=None,
        iterations=a.iterations, seed=1, isolated=(2, 3), load="drain-storm", drain_rate=400.0,
        duration_s=0.05, check_bound=1)
    print(f"compare on {a.machine}: 3 designs, default clients, {a.iterations} iterations, "
          f"noise 400/s for 0.05 s, checker bound 1; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f} at start")
    walls: dict[str, list[float]] = {"serial": [], f"jobs {a.jobs}": []}
    reference = None
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(a.repeats):
            for name, ex in (("serial", SerialExecutor()),
                             (f"jobs {a.jobs}", ProcessExecutor(a.jobs))):
                wall, text = once(params, ex, tmp, f"{name}-{r}".replace(" ", ""))
                if reference is None:
                    reference = text
                if text != reference:
                    raise SystemExit(f"{name}: the report differs from the serial run's")
                walls[name].append(wall)
                print(f"  {name:>7}: {wall:6.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    ratio = med["serial"] / med[f"jobs {a.jobs}"]
    print(f"median serial {med['serial']:.1f} s, jobs {a.jobs} {med[f'jobs {a.jobs}']:.1f} s: "
          f"speed-up {ratio:.2f}x (load {os.getloadavg()[0]:.1f} at end)")


if __name__ == "__main__":
    main()
