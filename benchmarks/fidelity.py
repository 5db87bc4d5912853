"""Compare simulated pft with the seed's vanilla-vs-rcu table and write ``docs/fidelity.md``.

Two checks per seed row (``/work/shared/data/seed/pft-vanilla-vs-rcu.csv`` or ``--seed-csv``):

* **design difference**: the simulated mmtests % (pndiff of the Amean, rcu against workqueue)
  within ±3 percentage points of the seed's, for system and elapsed time;
* **scaling**: simulated vanilla ``elapsed-N / elapsed-1`` within 20 % (relative) of the seed's.

Issue 11's checks (:func:`issue11_section`): attempt [2] against vanilla on ``cascadelake-2s``
with and without CONFIG_DEBUG_PREEMPT beside Mel Gorman's 5.16-rc1 and 5.17-rc5 tables (sign and
magnitude per row, peak regression), and the 6.0 series' faults/sec on few threads.  Without
DEBUG_PREEMPT the expected difference is the per-operation arithmetic of ``pcplab.sim.costs``:
the lock word's RMW + release (x86: 20 + 1 cycles) and the lock's fifth pageset line (an L1
hit, 5 cycles), ~26 cycles per fault against ~9000, ~0.3 % at one thread.

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


def simulate_placement(machine: str, clients: list[int], iterations: int, seed: int,
                       placement: str) -> tuple[dict[int, tuple[float, float]], dict[int, str]]:
    """Workqueue design with another thread placement: threads -> (system, elapsed) Ameans,
    and threads -> workers per node."""
    from pcplab import designs
    from pcplab.machines.registry import get_profile
    from pcplab.sim import pft

    s = pft.setup(get_profile(machine), designs.get("workqueue"))
    s.placement = placement
    rows = pft.run_table(s, clients, iterations, seed)
    nodes = sorted({p.node for p in s.costs.places})
    spread = {}
    for n in clients:
        on = [s.costs.places[c].node for c in pft.PLACEMENTS[placement](s.costs, s.distance, n)]
        spread[n] = "/".join(str(on.count(k)) for k in nodes)
    return {r["clients"]: (amean(r["system"]), amean(r["elapsed"])) for r in rows}, spread


def placement_table(machine: str, threads: list[int], ref: dict, default: dict,
                    alt: dict, spread: dict[int, str]) -> tuple[list[str], int]:
    """Rows comparing the default placement with v5.17 fork balancing; returns (lines, rows
    of the alternative within 20 % on scaling)."""
    t1 = threads[0]
    out = [
        f"#### {machine}",
        "",
        "| threads | workers per node (v5.17) | elapsed-N/1 default | v5.17 | seed | "
        "system-N/1 default | v5.17 | seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ok = 0
    for n in threads:
        seed_e = ref["elapsed"][n][0] / ref["elapsed"][t1][0]
        seed_s = ref["system"][n][0] / ref["system"][t1][0]
        alt_e = alt[n][1] / alt[t1][1]
        good = abs(alt_e / seed_e - 1) <= 0.20
        ok += good
        out.append(
            f"| {n} | {spread[n]} | {default[n][1] / default[t1][1]:.4f} | "
            f"{alt_e:.4f}{'' if good else ' **(miss)**'} | {seed_e:.4f} | "
            f"{default[n][0] / default[t1][0]:.2f} | {alt[n][0] / alt[t1][0]:.2f} | "
            f"{seed_s:.2f} |"
        )
    out.append("")
    return out, ok


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
    alt_lines: list[str] = []
    alt_ok = alt_total = 0
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
        alt, spread = simulate_placement(machine, threads, args.iterations, args.seed, "v5.17")
        rows, ok = placement_table(machine, threads, ref, v, alt, spread)
        alt_lines += rows
        alt_ok += ok
        alt_total += len(threads)
        print(f"{machine}: v5.17 placement scaling ok {ok}/{len(threads)} "
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
    alt_summary = f"{alt_ok}/{alt_total}"
    i11_lines, i11_summary = issue11_section(args.iterations, args.seed)
    print(f"issue 11 checks done ({time.time() - t0:.0f} s)", flush=True)
    doc = render(args, lines, summary, pred, total_diff, miss_diff, total_scale, miss_scale,
                 alt_lines, alt_summary)
    doc += ISSUE11_HEAD + "\n".join(i11_summary) + "\n\n" + "\n".join(i11_lines) + ISSUE11_TAIL
    args.out.write_text(doc)
    print(f"design-diff rows within ±3 pp: {total_diff - miss_diff}/{total_diff}; "
          f"scaling rows within 20 %: {total_scale - miss_scale}/{total_scale}; "
          f"wrote {args.out} in {time.time() - t0:.0f} s")
    return 0


ISSUE11_HEAD = """
## Costs that see the design: attempt [2] on Cascade Lake, the 6.0 series

Per-operation prices per architecture (`pcplab.sim.costs.ArchOps`), the pageset lines each
design's layout touches, and the kernel configuration (`KernelConfig`): `debug-preempt` makes
every `this_cpu_ptr()` of a pcp section pay CONFIG_DEBUG_PREEMPT's check, and a check in
*preemptible* code (attempt [2] computes `this_cpu_ptr()` before its `spin_lock_irqsave`) also
write the one global `printk_ratelimit_state` line (5.17 lib/smp_processor_id.c,
lib/ratelimit.c). Mel Gorman's figures: `<20211203141306.GG3301@suse.de>` (5.16-rc1),
`<20220303114550.GE4363@suse.de>` (5.17-rc5), `<20220613125622.18628-6-mgorman@techsingularity.net>`
(6.0 series); taken from kernel-pcp.md §10.6, §11.2, §12.3 (the search tool did not find the
mails themselves). Machine: `cascadelake-2s` (SKU, memory size and transfer costs ASSUMED).

| check | sign right | peak regression sim vs Mel |
|---|---|---|
"""
ISSUE11_TAIL = """
**Arithmetic without DEBUG_PREEMPT** (x86_64 `ArchOps`, 2.5 GHz, one fault ~9000 cycles of
kernel work): [2] adds per fault the lock word's RMW and release store (20 + 1 cycles; the IRQ
flags cost the same as `local_lock_irqsave`'s) and its fifth line (`lock` at offset 256, an L1 hit
of 5 cycles), ~26 cycles = ~10 ns, i.e. ~0.3 % of system time at one thread; with more threads
the fraction shrinks as the shared lines' waits grow. With DEBUG_PREEMPT each fault adds the check
in preemptible code (25 cycles + IRQ save/restore + trylock/unlock, ~56 cycles) and a write of the
global ratelimit line, which other CPUs wrote meanwhile once several threads run (a 50-130 ns
transfer, serialised).

**Which claim the model supports.** The model supports Nicolas Saenz Julienne's claim that [2]'s
own fast-path cost is small (well under 1 % without DEBUG_PREEMPT), and it reproduces the sign
of Mel's DEBUG_PREEMPT measurement on most rows, but even with the ratelimit line it gives a few
percent where Mel measured up to 25 %: the model does not show that DEBUG_PREEMPT alone explains
the size of the regression he saw (not modelled: the warnings' printk/dump_stack, 10 per 5 s,
and anything else in his kernel).
"""


def render(args, lines, summary, pred, total_diff, miss_diff, total_scale, miss_scale,
           alt_lines, alt_summary) -> str:
    consts = "\n".join(
        f"| `{name}` | {getattr(C, name)} |"
        for name in (
            "PCP_ALLOC_CYCLES", "RMQUEUE_BULK_PAGE_CYCLES", "FAULT_ENTRY_EXIT_CYCLES",
            "FAULT_HANDLE_CYCLES", "LRU_ADD_PAGE_CYCLES", "USER_PAGE_CYCLES",
            "CLEAR_BYTES_PER_CYCLE", "CLEAR_NODE_BW_EFFICIENCY", "ATOMIC_CYCLES",
            "BUDDY_CALL_CYCLES", "BUDDY_ZONE_LINES", "DEBUG_PREEMPT_CHECK_CYCLES",
            "DEBUG_PREEMPT_SLOW_CYCLES",
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
  memory bandwidth (each core zeroes at its cache store rate, the node's memory writes the lines
  back for all its clearers), SMT siblings slowing each other, and the thread placement
  policy (`pcplab.workloads.pft.place_threads`, the default "fork-domain" rule: threads stay
  inside the nodes within distance 30 of node 0, spread over nodes, LLCs, cores, then SMT
  siblings, and spill to the next domain when all its logical CPUs are busy).
* **The default placement is not what v5.17 does on EPYC.** On AMD Zen, `init_amd_zn()` sets
  `node_reclaim_distance = 32` (commit a55c7454a8c8, v5.4), so `sd_init()` keeps SD_BALANCE_FORK
  on the cross-socket (distance 32) domain, and `find_idlest_group()` keeps a new thread in the
  local NUMA group while that group runs fewer tasks than a quarter of the domain's CPUs
  (`allow_numa_imbalance`, v5.11-v5.17). `place_threads_fork_balance` ("v5.17" placement) models
  that: EPYC 7742 gets 1-32 threads on node 0 (one per core), then node 1, and only above 64
  threads the other socket (128 = 32 per node, one per core, no SMT sibling); Xeon gets 1-8
  threads on node 0, then node 1; POWER9 (distance 40) is unchanged. Its results are in the
  section below; it is not the default because with the global constants it misses more rows.
* **EPYC 7742, 21-128 threads.** The seed's elapsed is flat at 5.1-5.3 s from 21 to 48 threads
  (~2.5 M faults/s) and recovers to 2.75 s at 128. Per-thread fault latency (N x elapsed /
  pages, with the profile's page count) is 19.2 µs at 48 and ~26-29 µs at 79, 110 and 128:
  constant above 64 threads, i.e. the throughput grows with the threads beyond the first 64.
  The seed's *system* time says which threads wait: system-N/system-1 is 4.90 / 5.18 / 5.90 at
  79 / 110 / 128 (+20 % from 79 to 128). One limit of ~400 ns per fault shared by the 64 threads
  of socket 0, the threads beyond 64 on the other socket under a limit of their own, gives busy
  time ratios of 4.72 / 4.87 / 5.52 (+17 %) and elapsed 4.28 / 3.07 / 2.64 s against the seed's
  4.41 / 3.45 / 2.75. A single global limit (e.g. the `mmap_lock` line) with all 128 threads in
  socket 0 and SMT siblings sharing each visit of the line (what the default placement plus
  "merged misses" would need) keeps every thread waiting for 64 core visits per fault and gives
  5.52 at all three (+0 %), so the seed's system times favour the v5.17 placement.
  **What the model lacks** is therefore a limit of ~2.5 M faults/s
  (~400 ns per fault) per EPYC socket that does not double when node 1 of the same socket
  joins (48 threads are no faster than 30). The fault path's shared kernel objects are global
  (the `mmap_lock` line, memcg page counters) or per node (zone->lock, lru_lock, memory); the
  profile has nothing per socket. A global line cannot be it: at 128 threads on both sockets the
  seed does 4.8 M faults/s, so whatever the `mmap_lock` line costs per fault with cross-socket
  hand-offs is at most ~208 ns, while at 48 threads in one socket something costs ~400 ns.
* **What would close the EPYC gap (diagnostic, not in the model; measured with the earlier
  processor-shared clear model).** In a one-iteration experiment with the v5.17 placement, adding (a) one server per socket that every fault holds
  for 400 ns and (b) pricing the `mmap_lock` line's cross-socket hand-offs like in-socket ones
  (i.e. hand-offs that stay in a socket while it has waiters) puts all 10 EPYC rows within 12 %
  for elapsed-N/1 and system-N/1; (a) alone leaves 110/128 at +22/+55 %, (b) alone leaves
  30-79 at -22 to -40 %. Applied to every machine, (a) + (b) leave one scaling miss of 29
  (Xeon 12 threads, +23 %, from the low bandwidth efficiency of that model), POWER9 within
  -19..+8 %.
  Neither has a source: (a) has no kernel object behind it (the fault path's shared objects are
  global or per node) and the profiles no per-socket hardware fact; (b) is plausible (a
  contended line tends to stay where its waiters are) but is not measured here.
  Also tried, with the default placement: SMT siblings sharing one visit of the `mmap_lock`
  line, plus the contended re-read of `mm->pgd` (ASSUMPTION: in the same cacheline as
  `mmap_lock.count` in 5.17's `mm_struct`, by our reading of its layout; read in
  `__handle_mm_fault` between `down_read_trylock` and `up_read`): with one
  re-read EPYC 30-110 stay at -26 %; with two extra transfers per fault EPYC fits but the Xeon
  leaves the band, and the seed's system times contradict that placement anyway (above).
* **Tried and rejected (2026-11-26): local-first hand-offs of the `mmap_lock` line.**
  ASSUMPTION (no source): a released contended line goes to a waiter in the holder's LLC (CCX)
  if there is one, else to a waiter elsewhere, else to the next requester by rate. With `w` the
  probability that one of the domain's other contenders waits (from each thread's rate x wait,
  Little), `w'` the same outside, `rho` the domain's share of the others' access rate, a fraction
  `a = w + (1 - w)(1 - w') rho` of a thread's hand-offs come from its own LLC (geometric runs).
  In the aggregated model (EPYC, default placement) `a` = 0.06 / 0.23 / 0.57 / 0.70 / 0.90 at
  21 / 30 / 48 / 79 / 128 threads and the mean transfer per hand-off 96 / 84 / 60 / 49 / 34 ns,
  so the model gets faster from 30 threads on (4.2 / 5.2 / 7.2 / 8.1 / 11.6 M faults/s against
  the seed's ~2.5 flat to 48, then 4.8 at 128): EPYC 30-128 at -47 to -62 %, 4/10 (was 6/10);
  POWER9 and Xeon unchanged in band; 23/29 overall (v5.17 placement 23/29). The rule only
  lowers costs, and already at 3 threads per CCX (48) it keeps most hand-offs local, while the
  seed's 48 is no faster than 30. Pricing cross-CCX hand-offs at 150-250 ns on top does not
  help (5/10: 21 fits, 48-128 stay -49 to -56 %). The same rule with the *socket* as the domain
  leaves 25/29 with the default placement (EPYC's threads all stay in socket 0) and, with the
  v5.17 placement, brings 110/128 into the band (-12 / +11 %) but leaves 21-79 at -31 to -42 % (25/29).
  Two-iteration runs; not in the model.
* **Why spreading threads breaks EPYC 110/128 and POWER9 in the model.** With 64 threads per
  socket the model's limit is the `mmap_lock` line: about half the hand-offs cross the socket
  (200 ns in the profile), ~260-300 ns of transfer per fault, so the model caps at ~3.2 M
  faults/s where the seed does 4.8 M (the v5.17 placement has the same problem: +34 % / +70 %).
  POWER9's plateau (7-48 threads) is set by one node's memory bandwidth; spreading over both
  nodes doubles it, while the seed stays flat until node 0's 64 logical CPUs are used up, which
  is what fork balancing does there (distance 40 > 30: no fork balancing across nodes).
* **Xeon E5-2640 v3** is inside the band, -1..+11 % from 7 threads on; under the v5.17 placement
  it is 9/9 as well.
* **clear_page (since 2026-11-26): cache speed, the node bounding the write-back.** The kernel
  zeroes with instructions that claim whole lines in the cache without reading memory (5.17
  `clear_page_erms`, one `rep stosb`, arch/x86/lib/clear_page_64.S; `dcbz` per 128-byte block,
  arch/powerpc/include/asm/page_64.h; `dc zva`, arch/arm64/lib/clear_page.S), so the clearing
  core runs at its cache store rate and memory only sees the later write-back. The seed agrees:
  POWER9 at one thread writes 837632 x 64 KiB in 1.85 s, ~30 GB/s from one core with the whole
  fault path included, which the earlier 4 bytes/cycle clear (11.6 GB/s) could not do; its 7-48
  thread plateau is ~107 GB/s on node 0, ~0.84 of the profile's sustainable figure. The model: a
  per-architecture profile fact `clear_bytes_per_cycle` (ASSUMPTION: 32 for Zen 2, Haswell,
  POWER9 and Neoverse N1, 16 for Zen 1, ThunderX2 and Cortex-A72: the cores' store width), the
  clear charged at that rate, and the node's bandwidth bounding only the sum of its threads'
  write-back (aggregated mode: a thread stalls only when the node saturates; exact mode: a
  write-back FIFO per node, the core waiting only for backlog beyond one page). Against the
  previous default (processor sharing of node bandwidth at 4 bytes/cycle, 7000 / 0.2): scaling
  25/29 either way (the same four EPYC misses), design difference 56/58 either way, Xeon -1..+11 %
  instead of +7..+19 % (system-N/1 at 30 threads 1.90 against the seed's 1.90, before 2.22),
  v5.17 placement 24/29 instead of 23/29, and POWER9's single-thread system time 3.21 s against
  the seed's 1.82 s (**1.76x**, before 3.88x); EPYC and Xeon single-thread times as before. The
  POWER9 clear rate is an assumption, but the row count does not hang on it: 16 or 64
  bytes/cycle give 25/29 too (efficiency 0.35-0.4 / 0.45-0.5, POWER9 single thread 2.09x /
  1.60x).
* **Absolute single-thread times** depend on the profiles' memory sizes (pages = MemTotal/5) and
  on the global per-fault cycle count: EPYC and Xeon are within ~10 % of the seed; POWER9 (64 KiB
  pages) is 1.76x slow. What is left of its gap is the global fault cost: 8700 cycles at the
  profile's 2.9 GHz base clock are 3.0 µs, more than the seed's 2.17 µs for the whole fault; the
  bandwidth efficiency (0.425 instead of ~0.84) makes up for that in its bandwidth-bound ratio.
* **Calibration history (global only).** The global constants not taken from a source were
  chosen from small grids over all three machines at once. First (processor-shared clears):
  `FAULT_HANDLE_CYCLES` in 1950/4000/6000/7000/8000/9000 x `CLEAR_NODE_BW_EFFICIENCY` in
  0.15/0.2/0.25/0.35/0.5 x `CLEAR_BYTES_PER_CYCLE` in 4/12: 7000 / 0.2 / 4 gave the fewest scaling
  misses (4 of 29); the figure derived from Mel's 1.13 µs single-thread fault (1950) gave 18-21.
  Now (cache-speed clears, write-back bound): `FAULT_HANDLE_CYCLES` 5000-9000 (step 500-1000) x
  efficiency 0.2-1.0, keeping EPYC and Xeon single-thread times within ~10 % of the seed:
  8000 / 0.425. Lower fault costs fit more rows (6000 / 0.5: 26/29, 5500 / 0.55: 27/29, POWER9
  1.45x / 1.37x) but take EPYC / Xeon single-thread times to 0.74x / 0.82x and 0.68x / 0.76x of
  the seed, so they were not taken.

## Thread placement: v5.17 fork balancing (what-if)

The same runs (workqueue design, same seeds) with `placement = "v5.17"`
(`pcplab.workloads.pft.place_threads_fork_balance`) instead of the default; scaling rows within
20 % of the seed: **{alt_summary}** (default: {total_scale - miss_scale}/{total_scale}).
System-time ratios are informational (not checked).

{chr(10).join(alt_lines)}
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


# --- issue 11: costs that see the design (attempt [2] on Cascade Lake, the 6.0 series) --------

#: Mel Gorman, <20211203141306.GG3301@suse.de> (kernel-pcp.md §11.2): pft on 2-socket Cascade
#: Lake, 5.16.0-rc1, vanilla vs attempt [2] (mm-remotedrain-v2r1), mmtests % (negative = worse)
MEL_2021 = {  # threads: (system %, elapsed %)
    1: (-1.35, -0.88), 4: (-7.65, -6.66), 7: (-13.00, -11.30), 12: (-12.80, -11.41),
    21: (-11.76, -10.06), 30: (-25.43, -17.87), 48: (-10.73, -17.77), 79: (-2.84, -1.90),
    80: (-2.77, -2.50),
}
#: Mel Gorman, <20220303114550.GE4363@suse.de> (kernel-pcp.md §10.6): 5.17.0-rc5, elapsed %,
#: [2] and his own mm-pcpdrain-v1r1 against vanilla
MEL_2022 = {  # threads: ([2] elapsed %, pcpdrain elapsed %)
    1: (-1.66, -0.86), 4: (-6.72, -0.38), 7: (-8.16, -0.55), 12: (-10.00, -0.72),
    21: (-0.89, 7.39), 30: (-6.50, 7.59), 48: (-17.32, -0.08), 79: (-3.84, -0.02),
    80: (-5.31, -0.04),
}
#: Mel Gorman, patch 5/7 <20220613125622.18628-6-mgorman@techsingularity.net>: pft faults/sec
#: (Hmean) on a 1-socket machine, 5.18-rc1 vs mm-pcpdrain-v2r1, change %
MEL_60 = {1: -0.10, 3: -0.24, 5: -0.26, 7: -0.74, 8: -0.78}


def _means(machine: str, design: str, threads: list[int], iterations: int, seed: int,
           config: str) -> dict[int, tuple[float, float, float]]:
    from pcplab.stats.summary import hmean

    r = run_pft(machine, design, clients=threads, iterations=iterations, seed=seed,
                kernel_config=config)
    return {row["clients"]: (amean(row["system"]), amean(row["elapsed"]),
                             hmean(row["faults_per_sec"])) for row in r["clients"]}


def _sign(sim: float, ref: float) -> str:
    return "yes" if (sim < 0) == (ref < 0) else "**no**"


def issue11_section(iterations: int, seed: int) -> tuple[list[str], list[str]]:
    """The [2]-vs-vanilla rows on cascadelake-2s with and without DEBUG_PREEMPT, Mel's own
    design on 5.17-rc5, and the 6.0 series on few threads; returns (doc lines, summary lines)."""
    threads = sorted(MEL_2021)
    out: list[str] = []
    summary: list[str] = []
    runs = {}
    for cfg in ("default", "debug-preempt"):
        for d in ("workqueue", "spinlock-irqsave", "spinlock"):
            runs[d, cfg] = _means("cascadelake-2s", d, threads, iterations, seed, cfg)
    for cfg in ("debug-preempt", "default"):
        v, a = runs["workqueue", cfg], runs["spinlock-irqsave", cfg]
        out += [f"#### [2] vs vanilla, kernel config `{cfg}` (5.16-rc1 table)", "",
                "| threads | system % sim | Mel | sign ok | elapsed % sim | Mel | sign ok |",
                "|---|---|---|---|---|---|---|"]
        signs = 0
        peak_sim = peak_ref = 0.0
        for n in threads:
            ps, pe = pndiff(a[n][0], v[n][0]), pndiff(a[n][1], v[n][1])
            rs, re_ = MEL_2021[n]
            signs += (ps < 0) == (rs < 0)
            signs += (pe < 0) == (re_ < 0)
            peak_sim, peak_ref = min(peak_sim, ps, pe), min(peak_ref, rs, re_)
            out.append(f"| {n} | {ps:+.2f} | {rs:+.2f} | {_sign(ps, rs)} | {pe:+.2f} | "
                       f"{re_:+.2f} | {_sign(pe, re_)} |")
        ratio = peak_ref / peak_sim if peak_sim < 0 else float("inf")
        out += ["", f"Sign right on {signs}/{2 * len(threads)} cells; peak regression "
                f"{peak_sim:+.2f} % against Mel's {peak_ref:+.2f} % (his is {ratio:.1f}x).", ""]
        summary.append(f"| [2] vs vanilla, `{cfg}`, 5.16-rc1 | {signs}/{2 * len(threads)} | "
                       f"{peak_sim:+.2f} % vs {peak_ref:+.2f} % |")
        s_ = runs["spinlock", cfg]
        out += [f"#### 5.17-rc5 table, kernel config `{cfg}`: elapsed % of [2] and of Mel's "
                "design (the `spinlock` design, 6.0 as merged, stands for mm-pcpdrain-v1r1)", "",
                "| threads | [2] sim | Mel | sign ok | pcpdrain sim | Mel | sign ok |",
                "|---|---|---|---|---|---|---|"]
        signs = 0
        for n in threads:
            p2, p6 = pndiff(a[n][1], v[n][1]), pndiff(s_[n][1], v[n][1])
            r2, r6 = MEL_2022[n]
            signs += ((p2 < 0) == (r2 < 0)) + ((p6 < 0) == (r6 < 0))
            out.append(f"| {n} | {p2:+.2f} | {r2:+.2f} | {_sign(p2, r2)} | {p6:+.2f} | "
                       f"{r6:+.2f} | {_sign(p6, r6)} |")
        out.append("")
        summary.append(f"| 5.17-rc5 table ([2] and pcpdrain), `{cfg}` | "
                       f"{signs}/{2 * len(threads)} | |")
    t60 = sorted(MEL_60)
    v = _means("cascadelake-2s", "workqueue", t60, iterations, seed, "default")
    s_ = _means("cascadelake-2s", "spinlock", t60, iterations, seed, "default")
    out += ["#### 6.0 series (patch 5/7): faults/sec Hmean, `spinlock` vs `workqueue`", "",
            "No 1-socket 8-CPU profile exists: the rows run on `cascadelake-2s` at Mel's thread "
            "counts (the threads spread over both sockets there; his machine had one).", "",
            "| threads | sim % | Mel | sign ok |", "|---|---|---|---|"]
    signs = 0
    for n in t60:
        p = (s_[n][2] / v[n][2] - 1) * 100
        signs += (p < 0) == (MEL_60[n] < 0)
        out.append(f"| {n} | {p:+.2f} | {MEL_60[n]:+.2f} | {_sign(p, MEL_60[n])} |")
    out.append("")
    summary.append(f"| 6.0 series faults/sec, 1-8 threads | {signs}/{len(t60)} | |")
    return out, summary


if __name__ == "__main__":
    sys.exit(main())
