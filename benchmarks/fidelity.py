"""Compare simulated pft with the seed's vanilla-vs-rcu table and write ``docs/fidelity.md``.

Two checks per seed row (``/work/shared/data/seed/pft-vanilla-vs-rcu.csv`` or ``--seed-csv``):

* **design difference**: the simulated mmtests % (pndiff of the Amean, rcu against workqueue)
  within ±3 percentage points of the seed's, for system and elapsed time;
* **scaling**: simulated vanilla ``elapsed-N / elapsed-1`` within 20 % (relative) of the seed's.

No per-row or per-machine factor is fitted: every machine runs with the same global constants of
``pcplab.sim.costs``.  The machines whose seed tables are held back get their predictions printed
too.  Usage: ``python benchmarks/fidelity.py [--iterations N] [--seed S] [--out docs/fidelity.md]``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from pcplab.sim import costs as C
from pcplab.sim.api import run_pft
from pcplab.stats.summary import amean, pndiff

SEED_CSV = Path("/work/shared/data/seed/pft-vanilla-vs-rcu.csv")
HELD_BACK = ("epyc-7601", "neoverse-n1", "thunderx2", "rpi4")


def load_seed(path: Path) -> dict[str, dict[str, dict[int, tuple[float, float, float]]]]:
    """machine -> metric -> threads -> (vanilla, rcu, pct)."""
    out: dict[str, dict[str, dict[int, tuple[float, float, float]]]] = {}
    with path.open() as f:
        for r in csv.DictReader(f):
            out.setdefault(r["machine"], {}).setdefault(r["metric"], {})[int(r["threads"])] = (
                float(r["vanilla"]),
                float(r["rcu"]),
                float(r["pct"]),
            )
    return out


def simulate(machine: str, clients: list[int] | None, iterations: int, seed: int) -> dict:
    res = {}
    for design in ("workqueue", "rcu"):
        r = run_pft(machine, design, clients=clients, iterations=iterations, seed=seed)
        res[design] = {
            row["clients"]: (amean(row["system"]), amean(row["elapsed"])) for row in r["clients"]
        }
        res["pages"] = {row["clients"]: row["pages"] for row in r["clients"]}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seed-csv", type=Path, default=SEED_CSV)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" /
                    "fidelity.md")
    ap.add_argument("--no-held-back", action="store_true", help="skip the prediction tables")
    args = ap.parse_args(argv)
    seed_tab = load_seed(args.seed_csv)
    t0 = time.time()
    lines: list[str] = []
    summary: list[str] = []
    total_diff = total_scale = miss_diff = miss_scale = 0
    for machine in sorted(seed_tab):
        ref = seed_tab[machine]
        threads = sorted(ref["elapsed"])
        sim = simulate(machine, threads, args.iterations, args.seed)
        v, r = sim["workqueue"], sim["rcu"]
        e1s, e1r = v[threads[0]][1], ref["elapsed"][threads[0]][0]
        lines += [
            f"### {machine}",
            "",
            f"Single thread: simulated system {v[1][0]:.2f} s / elapsed {v[1][1]:.2f} s "
            f"({sim['pages'][1]} pages); seed {ref['system'][1][0]:.2f} s / "
            f"{ref['elapsed'][1][0]:.2f} s.",
            "",
            "| threads | system % sim | seed | Δpp | ok | elapsed % sim | seed | Δpp | ok | "
            "elapsed-N/1 sim | seed | rel. err | ok |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        m_diff = m_scale = 0
        for n in threads:
            cells = [str(n)]
            for k, metric in ((0, "system"), (1, "elapsed")):
                pct = pndiff(r[n][k], v[n][k])
                seed_pct = ref[metric][n][2]
                d = pct - seed_pct
                ok = abs(d) <= 3.0
                total_diff += 1
                if not ok:
                    miss_diff += 1
                    m_diff += 1
                cells += [f"{pct:+.2f}", f"{seed_pct:+.2f}", f"{d:+.2f}", "yes" if ok else "**no**"]
            ratio = v[n][1] / e1s
            seed_ratio = ref["elapsed"][n][0] / e1r
            err = ratio / seed_ratio - 1
            ok = abs(err) <= 0.20
            total_scale += 1
            if not ok:
                miss_scale += 1
                m_scale += 1
            cells += [f"{ratio:.4f}", f"{seed_ratio:.4f}", f"{err * 100:+.1f} %",
                      "yes" if ok else "**no**"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        summary.append(
            f"| {machine} | {2 * len(threads) - m_diff}/{2 * len(threads)} | "
            f"{len(threads) - m_scale}/{len(threads)} |"
        )
        print(f"{machine}: design-diff misses {m_diff}, scaling misses {m_scale} "
              f"({time.time() - t0:.0f} s)", flush=True)
    pred: list[str] = []
    if not args.no_held_back:
        for machine in HELD_BACK:
            try:
                sim = simulate(machine, None, args.iterations, args.seed)
            except Exception as exc:  # a profile may be missing on this tree
                pred.append(f"- {machine}: not simulated ({exc})")
                continue
            v, r = sim["workqueue"], sim["rcu"]
            ns = sorted(v)
            pred += [
                f"#### {machine}",
                "",
                "| threads | system wq (s) | system rcu (s) | % | elapsed wq (s) | elapsed rcu "
                "(s) | % | elapsed-N/1 |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for n in ns:
                pred.append(
                    f"| {n} | {v[n][0]:.2f} | {r[n][0]:.2f} | {pndiff(r[n][0], v[n][0]):+.2f} | "
                    f"{v[n][1]:.3f} | {r[n][1]:.3f} | {pndiff(r[n][1], v[n][1]):+.2f} | "
                    f"{v[n][1] / v[ns[0]][1]:.4f} |"
                )
            pred.append("")
            print(f"{machine}: predicted ({time.time() - t0:.0f} s)", flush=True)
    doc = render(args, lines, summary, pred, total_diff, miss_diff, total_scale, miss_scale)
    args.out.write_text(doc)
    print(f"design-diff rows within ±3 pp: {total_diff - miss_diff}/{total_diff}; "
          f"scaling rows within 20 %: {total_scale - miss_scale}/{total_scale}; "
          f"wrote {args.out} in {time.time() - t0:.0f} s")
    return 0


def render(args, lines, summary, pred, total_diff, miss_diff, total_scale, miss_scale) -> str:
    consts = "\n".join(
        f"| `{name}` | {getattr(C, name)} |"
        for name in (
            "PCP_ALLOC_CYCLES", "RMQUEUE_BULK_PAGE_CYCLES", "FAULT_ENTRY_EXIT_CYCLES",
            "FAULT_HANDLE_CYCLES", "LRU_ADD_PAGE_CYCLES", "USER_PAGE_CYCLES",
            "CLEAR_BYTES_PER_CYCLE", "CLEAR_NODE_BW_EFFICIENCY", "ATOMIC_CYCLES",
        )
    )
    smt = ", ".join(f"{k}: {v}" for k, v in C.SMT_CORE_GAIN.items())
    return f"""# Simulator fidelity against the seed's pft table

Generated by `python benchmarks/fidelity.py --iterations {args.iterations} --seed {args.seed}`
(aggregated mode). Do not edit by hand; re-run the script.

## What is checked

The seed's cover letter reports mmtests `pft` (threads config) for `vanilla` (the v5.17
workqueue drain) and `rcu` on three machines (`/work/shared/data/seed/pft-vanilla-vs-rcu.csv`,
kernel-pcp.md §10.4). For every row:

* **design difference**: the simulated mmtests percentage (`pndiff` of the Amean, rcu vs
  workqueue; negative = rcu worse) must be within **±3 percentage points** of the seed's;
* **scaling**: the simulated `elapsed-N / elapsed-1` of the workqueue design must be within
  **20 %** (relative) of the seed's.

The model is calibrated once, globally (table below); no factor is fitted per machine or row.
The machine facts (clock, bandwidth, cacheline transfer costs, topology, memory) are the machine
profiles' (`pcplab.machines`). {args.iterations} iterations per client count (mmtests uses 30).

## Summary

Design-difference rows within ±3 pp: **{total_diff - miss_diff}/{total_diff}**.
Scaling rows within 20 %: **{total_scale - miss_scale}/{total_scale}**.

| machine | design difference ok | scaling ok |
|---|---|---|
{chr(10).join(summary)}

## Per row

{chr(10).join(lines)}

## How the figures arise, and what the misses say

* The design difference comes from the ops each design yields: the seed design adds one
  `READ_ONCE(pcp->lp)` per fast-path operation, a hit on a line only the local CPU writes while no
  drain runs, i.e. about a nanosecond per fault against ~4 µs. The simulated difference is
  therefore ~0 % plus the run-to-run noise of the means; the seed's rows are
  "generally no difference" with ±1-3 % noise (its author's words). Rows where the seed's
  percentage exceeds ~3 % in magnitude can only be met by chance.
* The scaling curve comes from: the per-fault private work (global cycle counts scaled by clock),
  the `mmap_lock` cacheline all threads bounce (a transfer per access when other threads wrote it;
  the line moves one CPU at a time), `zone->lock` and `lru_lock` per node (lock hold per page,
  lock word and data lines transferred from the previous holder), clear_page sharing the node's
  memory bandwidth (processor sharing), SMT siblings slowing each other, and the thread placement
  policy (`pcplab.workloads.pft.place_threads`: fork balancing stays inside the nodes within
  `node_reclaim_distance` = 30; cores, then SMT siblings; spill to the next domain when full).
* **EPYC 7742, 21-79 threads (the scaling misses).** The seed's elapsed is flat at 5.1-5.3 s
  from 21 to 48 threads (~2.5 M faults/s) and recovers to 2.75 s at 128 threads. In the model
  the first plateau comes from the `mmap_lock` line (two transfers per fault at the profile's
  100 ns socket-internal transfer, ~4.5 M faults/s), so the model saturates ~1.6x higher.
  Matching it needs ~190 ns per access (cross-socket transfers, i.e. threads spread over both
  sockets already at 21 threads) or a per-node limit about half the model's; and the recovery
  above 64 threads needs threads to reach the second socket at 64 threads (one per core) rather
  than at 128 (one per logical CPU) as the placement rule gives. That same rule (stay inside the
  fork-balancing domain until its logical CPUs are used up) is what reproduces POWER9's jump
  after 64 threads (its node has 64 logical CPUs). We did not find one kernel rule that gives
  both, and did not fit one per machine: this is the main open modelling question. Tried and
  rejected (same global constants): spreading threads evenly over all nodes (what the periodic
  balancer would converge to) puts EPYC 21-79 within 10 % but misses EPYC 110/128 by +36/+52 %
  and POWER9 4-110 by up to -52 % (9 misses in all); letting SMT siblings share one visit of the
  `mmap_lock` line (merged misses) made EPYC 79-128 worse (6 misses).
* **Xeon E5-2640 v3** is inside the band but 10-18 % slow from 7 threads on: the model's
  `mmap_lock` bouncing between the two sockets costs a little more than the seed shows; the
  18/24-thread SMT step is reproduced by the SMT gain (+10 % per core with two threads).
* **Absolute single-thread times** depend on the profiles' memory sizes (pages = MemTotal/5) and
  on the global per-fault cycle count: EPYC and Xeon are within ~10 % of the seed; POWER9 (64 KiB
  pages) is ~4x slow, because x86-derived fault costs and a 4 bytes/cycle clear rate are applied
  to it (POWER9 zeroes with `dcbz`, no read-for-ownership). Its *scaling* is right because it is
  set by its node's memory bandwidth, which the model gets from the profile.
* **Calibration history (global only).** The two global constants not taken from a source were
  chosen from a small grid over all three machines at once: `FAULT_HANDLE_CYCLES` in
  1950/4000/6000/7000/8000/9000 x `CLEAR_NODE_BW_EFFICIENCY` in 0.15/0.2/0.25/0.35/0.5 x
  `CLEAR_BYTES_PER_CYCLE` in 4/12. 7000 / 0.2 / 4 gave the fewest scaling misses (4 of 29);
  the figure derived from Mel's 1.13 µs single-thread fault (1950) gave 18-21 misses.

## Global constants used

| constant | value |
|---|---|
{consts}
| `SMT_CORE_GAIN` | {smt} |
| `PAGEVEC_SIZE` | {C.PAGEVEC_SIZE} |

Sources and reasoning for each: `src/pcplab/sim/costs.py`.

## Predictions for the machines whose seed tables are held back

Same model, same constants, default mmtests client counts for each profile's CPU count.

{chr(10).join(pred) if pred else "(skipped)"}
"""


if __name__ == "__main__":
    sys.exit(main())
