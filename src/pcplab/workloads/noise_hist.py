"""The model's noise-duration histogram in ``rtla osnoise hist``'s shape and table.

What one sample is (torvalds/linux@03ab8e62 ``kernel/trace/trace_osnoise.c`` ``run_osnoise``):
the osnoise thread reads the time in a loop; the difference between two reads at or above the
threshold (``tracing_thresh``, 5 us when unset) is one noise sample (``trace_sample_threshold``),
added to the period's total noise and compared with its maximum.  IRQs, softirqs and other
threads that run back to back between two of the thread's reads therefore make *one* sample,
however many interferences it holds.  The model's noise *episode*
(``pcplab.workloads.noise.NoiseMeter``: contiguous noise spans on a CPU) is that gap, so one
episode is one sample and its length the sample's duration (ASSUMPTION: threshold 0 -- every
episode is a sample, as the model's Noise column counts every noise span; so the histogram's
total is the Noise column within bucket rounding, where real osnoise drops gaps under 5 us from
both).  An episode while the owner sleeps counts as well (the meter's owner-centred definition).

Bucketing (torvalds/linux@025b2179 ``tools/tracing/rtla/src/osnoise_hist.c``):
``osnoise_init_trace_hist`` asks the kernel's hist trigger for ``duration.buckets=<bucket in
ns>``, so each sample is read back as its bucket's lower bound in ns; ``osnoise_hist_update_multiple``
divides by the output divisor (1000 for us), takes ``bucket = duration / bucket_size``, counts
``bucket < entries`` in that bucket and the rest in ``over``, and keeps count, min, sum and max of
those lower bounds; ``osnoise_print_summary`` prints avg as ``sum / count`` with two decimals.
Defaults: bucket size 1, 256 entries, microseconds.  ``osnoise_print_stats`` prints ``Index``,
one ``CPU-NNN`` column per CPU with a sample, the nonzero rows, then ``over:``, ``count:``,
``min:``, ``avg:``, ``max:``; with no sample on any CPU ``over: 0`` ... ``max: 0``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: rtla osnoise hist's defaults (``-b``, ``-E``)
BUCKET_SIZE_US = 1
ENTRIES = 256


def noise_histogram(samples_ns: Iterable[int], bucket_size: int = BUCKET_SIZE_US,
                    entries: int = ENTRIES) -> dict[str, Any]:
    """``{"unit": "us", "buckets": {"<lower bound>": n}, "over", "count", "min", "avg", "max"}``
    of noise samples (ns) as rtla osnoise hist builds it (module docstring); empty buckets are
    left out, as in ``pcplab.report.rtla_hist_import``; min/avg/max None without samples."""
    width_ns = bucket_size * 1000
    counts: dict[int, int] = {}
    over = count = total = 0
    lo: int | None = None
    hi: int | None = None
    for ns in samples_ns:
        us = (ns // width_ns) * bucket_size  # the hist trigger's lower bound, in us
        bucket = us // bucket_size
        if bucket < entries:
            counts[bucket] = counts.get(bucket, 0) + 1
        else:
            over += 1
        count += 1
        total += us
        lo = us if lo is None or us < lo else lo
        hi = us if hi is None or us > hi else hi
    return {
        "unit": "us",
        "buckets": {str(b * bucket_size): counts[b] for b in sorted(counts)},
        "over": over,
        "count": count,
        "min": None if lo is None else float(lo),
        "avg": None if not count else round(total / count, 2),
        "max": None if hi is None else float(hi),
    }
