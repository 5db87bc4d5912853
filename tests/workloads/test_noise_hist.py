"""The model's noise-duration histogram: one sample per noise episode, rtla osnoise hist's
buckets, `pcplab noise --hist` and `--json` in the shape the rtla hist importer gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from pcplab.report.noise_hist import histogram_total_us, osnoise_hist_text
from pcplab.report.rtla_hist_import import parse_osnoise_hist
from pcplab.sim.api_noise import run_noise
from pcplab.workloads.noise import NoiseMeter
from pcplab.workloads.noise_hist import noise_histogram

ARGS = ["noise", "-m", "rpi4", "-d", "workqueue", "--isolated", "2-3", "--duration", "0.05"]


class _Task:
    def __init__(self, name: str, kind: str = "program") -> None:
        self.name, self.kind = name, kind


def test_contiguous_spans_are_one_sample_and_gaps_split_them() -> None:
    owner, kw, irq = _Task("fifo"), _Task("kworker/2:1", "kworker"), _Task("ipi", "irq")
    m = NoiseMeter(4, {2})
    m.set_owner(2, owner)
    m.segment(2, 0, 10_000, owner, "user")
    m.segment(2, 10_000, 11_500, irq, "irq")  # IRQ then kworker back to back: one gap
    m.segment(2, 11_500, 14_000, kw, "run")
    m.segment(2, 14_000, 30_000, owner, "user")
    m.segment(2, 30_000, 30_400, kw, "run")  # a second, short one
    m.segment(2, 30_400, 40_000, owner, "user")
    assert m.cpus[2].samples_ns() == [4_000, 400]
    h = noise_histogram(m.cpus[2].samples_ns())
    assert h == {"unit": "us", "buckets": {"0": 1, "4": 1}, "over": 0, "count": 2,
                 "min": 0.0, "avg": 2.0, "max": 4.0}


def test_buckets_over_and_lower_bounds_follow_rtla() -> None:
    h = noise_histogram([999, 1_000, 7_999, 300_000], bucket_size=5, entries=10)
    # lower bounds 0, 0, 5 us; 300 us is bucket 60 >= 10 entries: over
    assert h["buckets"] == {"0": 2, "5": 1} and h["over"] == 1 and h["count"] == 4
    assert (h["min"], h["max"], h["avg"]) == (0.0, 300.0, 76.25)


def test_model_histogram_counts_every_episode_and_adds_up_to_the_noise_column(
        monkeypatch: pytest.MonkeyPatch) -> None:
    meters: list[NoiseMeter] = []
    result = NoiseMeter.result

    def spy(self: NoiseMeter, sim: Any, end_ns: int) -> list[dict[str, Any]]:
        meters.append(self)
        return result(self, sim, end_ns)

    monkeypatch.setattr(NoiseMeter, "result", spy)
    res = run_noise("rpi4", "workqueue", [2, 3], duration_s=0.05, seed=0)
    iso = [c for c in res["cpus"] if c["isolated"]]
    assert iso and all(c["noise_ns"] > 0 for c in iso)
    for c in iso:
        h, samples = c["noise_histogram"], meters[0].cpus[c["cpu"]].samples_ns()
        assert h["count"] == len(samples) == sum(h["buckets"].values()) + h["over"] > 0
        assert sum(samples) == c["noise_ns"]
        # each lower bound is within one bucket (1 us) under its sample
        total_us = histogram_total_us(h)
        assert c["noise_ns"] / 1000 - h["count"] <= total_us <= c["noise_ns"] / 1000
        assert h["max"] == c["max_single_noise_ns"] // 1000
    assert not any("noise_histogram" in c for c in res["cpus"] if not c["isolated"])


@pytest.mark.parametrize("design", ["rcu", "spinlock"])
def test_no_noise_on_the_isolated_cpus_gives_count_zero(design: str) -> None:
    res = run_noise("rpi4", design, [2, 3], duration_s=0.05, seed=0)
    for c in (c for c in res["cpus"] if c["isolated"]):
        assert c["noise_ns"] == 0
        assert c["noise_histogram"]["count"] == 0 and c["noise_histogram"]["buckets"] == {}
    assert osnoise_hist_text(res["cpus"]).endswith("over: 0\ncount: 0\nmin: 0\navg: 0\nmax: 0\n")


def test_hist_text_shape_and_round_trip_through_the_rtla_importer() -> None:
    from pcplab.cli import cli as main

    plain = CliRunner().invoke(main, ARGS)
    out = CliRunner().invoke(main, [*ARGS, "--hist"])
    assert plain.exit_code == 0 and out.exit_code == 0
    assert out.stdout.startswith(plain.stdout)  # --hist only appends
    table = out.stdout[len(plain.stdout):].splitlines()
    assert table[0].startswith("Noise durations (rtla osnoise hist")
    assert table[1].split() == ["Index", "CPU-002", "CPU-003"]
    assert [ln.split(":")[0] for ln in table[-5:]] == ["over", "count", "min", "avg", "max"]
    assert all(ln.split()[0].isdigit() for ln in table[2:-5])
    got = json.loads(CliRunner().invoke(main, [*ARGS, "--json"]).stdout)
    parsed = parse_osnoise_hist("\n".join(table[1:]) + "\n", pytest.fail)
    mine = {c["cpu"]: c["noise_histogram"] for c in got["cpus"] if c["isolated"]}
    assert {c["cpu"]: c["noise_histogram"] for c in parsed["cpus"]} == mine
    for h in mine.values():  # the importer's shape, key for key
        assert set(h) == {"unit", "buckets", "over", "count", "min", "avg", "max"}
