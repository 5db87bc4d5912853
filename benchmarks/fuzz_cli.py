"""Fuzz campaign over every ``pcplab`` command and input file type (issue 14).

Each input is one command line built from a cheap, valid baseline with one option (or one input
file) replaced by a value from a pool: garbage, huge, negative and non-finite numbers, malformed
CPU and client lists, damaged databases, zoneinfo files, profile TOML, scenario files, replay
tokens and mmtests trees, unusable output paths.  Values are labelled: ``bad`` values must be
refused (exit 2) before anything runs; ``any`` values (mutated files that may still be valid,
small valid values) may give 0, 1 or 2.  Every input runs in this process through
``pcplab.cli.main`` under a wall-clock alarm; the report counts

* tracebacks: a Python traceback in the output, or the bug exit code 70 (a saved traceback),
* hangs: no exit within the timeout,
* bad exits: an exit code outside {0, 1, 2},
* silent accepts: a ``bad`` value that did not give exit 2,
* half-written: a refused ``compare`` that left a results database behind,
* unclear errors: a refusal that is not exactly one ``pcplab: error:`` line on stderr,
* baseline broken: a refusal for another reason than the value under test,
* verdicts on scenarios: a fuzzed scenario file on the correct ``rcu`` design ending in a
  violation (a scenario that cannot run must be exit 2, never a verdict about the design).

Usage::

    python benchmarks/fuzz_cli.py --inputs 10000 --seed 1 [--timeout 30] [--json]

``tests/cli_errors/test_fuzz.py`` runs the same generator for about a minute.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BAD = "bad"
ANY = "any"

# the fake compare backend is a test double (tests/fake_backend.py): get_backend("fake") imports
# it from the repository root
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
FAKE_BACKEND_ENV = {"PCPLAB_COMPARE_BACKEND": "fake", "PCPLAB_BACKEND_MODULE": "tests.fake_backend"}

#: values that are no number at all, or not a finite one
GARBAGE = ["", " ", "abc", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "0x10", "1..2", "--",
           "1 2", "١٢", "\x00", "💥", "9" * 400, "-" + "9" * 400, "1e", "e5", "+", "None"]  # fmt: skip
HUGE = ["99999999999999999999999", str(2**64), str(2**63), "1e30", "1e300", "4294967296"]
NEGATIVE = ["-1", "-0.5", "-2", "-99999999999999999999", "-1e-300"]
TINY = ["5e-324", "1e-300", "1e-9"]


def _pick(rng: random.Random, *pools: list[str]) -> str:
    return rng.choice(rng.choice(pools))


@dataclass
class Case:
    """One command line and what it must do."""

    args: list[str]
    kind: str  # BAD: must exit 2; ANY: 0, 1 or 2
    label: str
    #: a path that must not exist afterwards (a refused compare must not create its database)
    must_not_exist: str | None = None
    #: the value under test (an option-like value such as "-1" may be refused as an option)
    value: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    code: int | None
    out: str
    err: str
    seconds: float
    hang: bool = False

    @property
    def traceback(self) -> bool:
        return self.code == 70 or "Traceback (most recent call last)" in self.out + self.err

    @property
    def silent_accept(self) -> bool:
        return self.case.kind == BAD and not self.hang and self.code in (0, 1)

    @property
    def bad_exit(self) -> bool:
        return not self.hang and self.code not in (0, 1, 2)

    @property
    def half_written(self) -> bool:
        p = self.case.must_not_exist
        return p is not None and os.path.exists(p)

    @property
    def unclear(self) -> bool:
        """A refusal that is not one ``pcplab: error:`` line (warnings aside) on stderr."""
        if self.hang or self.code != 2 or self.case.label.startswith("top"):
            return False
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("pcplab: error: ")]
        others = [ln for ln in lines if not ln.startswith(("pcplab: error: ", "pcplab: warning: "))]
        return len(errors) != 1 or bool(others)

    @property
    def verdict_on_scenario(self) -> bool:
        """A fuzzed scenario file run on a correct design (rcu) that ends in a violation: either
        the scenario could not run as meant and was judged as a kernel bug, or rcu has a bug."""
        return self.case.label.startswith("check --scenario-file") and self.code == 1

    @property
    def baseline_broken(self) -> bool:
        """Refused for a reason other than the value under test: the baseline command line no
        longer parses (an option renamed), so the case tests nothing."""
        if self.case.label.startswith("top"):
            return False
        v = self.case.value
        m = re.search(r"No such option:? '?([^'\s]*)", self.err)
        if m is not None:
            return v is None or m.group(1) not in v
        return "Missing option" in self.err and not (v or "x").startswith("-")

    @property
    def failed(self) -> bool:
        return (self.traceback or self.hang or self.bad_exit or self.silent_accept
                or self.half_written or self.baseline_broken or self.unclear
                or self.verdict_on_scenario)  # fmt: skip


# -- the input files -----------------------------------------------------------------------------
class Workspace:
    """Valid inputs of every file type in a temporary directory, and ways to damage them."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.n = 0
        self.root.mkdir(parents=True, exist_ok=True)
        self.crash_dir = root / "crashes"
        self.default_db = root / "default.sqlite"
        self.good_db = root / "good.db"
        self._make_db(self.good_db)
        self.db_bytes = self.good_db.read_bytes()
        repo = Path(__file__).resolve().parent.parent
        self.profile_text = (repo / "src/pcplab/machines/profiles/rpi4.toml").read_text()
        self.good_profile = root / "box.toml"
        self.good_profile.write_text(self.profile_text.replace('name = "rpi4"', 'name = "box"'))
        zi = repo / "tests/machines/data/x86_64-6.18-2cpu-firecracker.txt"
        self.zoneinfo_text = zi.read_text() if zi.exists() else ""
        self.good_zoneinfo = root / "zoneinfo.txt"
        self.good_zoneinfo.write_text(self.zoneinfo_text)
        self.tree = root / "tree"
        self._export_tree(self.tree)
        self.regular = root / "a-file"
        self.regular.write_text("not a directory\n")
        self.a_dir = root / "a-dir"
        self.a_dir.mkdir(exist_ok=True)
        self.link = root / "a-link"
        if not self.link.is_symlink():
            self.link.symlink_to(self.regular)

    def fresh(self, suffix: str = "") -> Path:
        self.n += 1
        return self.root / f"f{self.n}{suffix}"

    def _make_db(self, path: Path) -> None:
        from pcplab.store.db import Store

        res = {"machine": "rpi4", "design": "rcu", "kernel": "5.17", "seed": 1, "page_size": 4096,
               "gbyte": 1, "mode": "aggregated", "mapping_bytes": 1 << 30,
               "clients": [{"clients": c, "pages": 1000, "gbyte": 1, "user": [0.1, 0.11],
                            "system": [1.0, 1.02], "elapsed": [1.1, 1.12],
                            "faults_per_cpu": [900.0, 910.0], "faults_per_sec": [800.0, 790.0]}
                           for c in (1, 2)]}  # fmt: skip
        with Store(path) as st:
            st.save(machine="rpi4", design="rcu", workload="pft", params={"n": 1}, seed=1,
                    result=res, kernel="5.17")  # fmt: skip
            st.save(machine="rpi4", design="workqueue", workload="pft", params={"n": 1},
                    seed=2**64 - 1, result=dict(res, design="workqueue"), kernel="5.17")
            st.save(machine="rpi4", design="rcu", workload="check", params={}, seed=None,
                    result={"executions": 3, "states": 5, "seconds": 0.1, "exhaustive": True,
                            "violation": None})  # fmt: skip

    def _export_tree(self, path: Path) -> None:
        if path.exists():
            return
        from pcplab.cli import main

        with _captured():
            with contextlib.suppress(SystemExit):
                main(["export", "--mmtests", str(path), "--db", str(self.good_db)])

    # damaged copies --------------------------------------------------------------------------
    def damaged_db(self) -> tuple[Path, str]:
        rng, data = self.rng, bytearray(self.db_bytes)
        how = rng.choice(["flip", "flips", "truncate", "zero-page", "sql-json", "sql-schema",
                          "sql-types", "sql-drop", "empty", "text"])  # fmt: skip
        p = self.fresh(".db")
        if how == "flip":
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif how == "flips":
            for _ in range(rng.randint(2, 50)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "truncate":
            data = data[: rng.randrange(len(data))]
        elif how == "zero-page":
            page = rng.randrange(max(1, len(data) // 4096)) * 4096
            data[page : page + 4096] = bytes(min(4096, len(data) - page))
        elif how == "empty":
            data = bytearray()
        elif how == "text":
            data = bytearray(b"hello, not a database\n" * rng.randint(1, 500))
        p.write_bytes(bytes(data))
        if how.startswith("sql-"):
            con = sqlite3.connect(p)
            if how == "sql-json":
                bad = rng.choice(["{", "[" * 100_000, "nan", '"x"', "1e999", "\udcff", "null"])
                col = rng.choice(["params", "samples", "metrics"])
                try:
                    con.execute(f"UPDATE runs SET {col} = ? WHERE id = 1", (bad,))
                except (sqlite3.Error, UnicodeEncodeError):
                    con.execute(f"UPDATE runs SET {col} = X'FFFE' WHERE id = 1")
            elif how == "sql-schema":
                con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                            (rng.choice(["abc", "", "2", "9" * 5000, "1.0"]),))  # fmt: skip
            elif how == "sql-types":
                col = rng.choice(["seed", "machine", "created", "kernel", "workload"])
                con.execute(f"UPDATE runs SET {col} = ? WHERE id = 2",
                            (rng.choice([3.5, b"\xff\xfe", "x" * 10, -(2**63)]),))  # fmt: skip
            else:
                con.execute(rng.choice(["DROP TABLE runs", "DROP TABLE meta"]))
            con.commit()
            con.close()
        return p, how

    def damaged_zoneinfo(self) -> tuple[Path, str]:
        lines = self.zoneinfo_text.splitlines()
        rng = self.rng
        how = rng.choice(["number", "number", "delete", "dup", "garbage", "swap-wmark", "free-big",
                          "truncate", "bytes"])  # fmt: skip
        if how == "number":
            i = rng.randrange(len(lines))
            toks = lines[i].split(" ")
            nums = [k for k, t in enumerate(toks) if t.isdigit()]
            if nums:
                toks[rng.choice(nums)] = rng.choice(["-1", "9" * 5000, "1e3", "inf", "0",
                                                     str(2**64), "x", "18446744073709551615"])
                lines[i] = " ".join(toks)
        elif how == "delete" and lines:
            del lines[rng.randrange(len(lines))]
        elif how == "dup" and lines:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
        elif how == "garbage":
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(GARBAGE + ["Node 99999999999999, zone Normal", "  pagesets", "    cpu: 99999"]))
        elif how == "swap-wmark":
            lines = [ln.replace("min ", "low_x ") if "min " in ln else ln for ln in lines]
            lines = [ln.replace("low_x ", "min ") for ln in lines]
            for k, ln in enumerate(lines):
                if ln.strip().startswith("min "):
                    lines[k] = ln.replace(ln.split()[1], "99999999")
                    break
        elif how == "free-big":
            for k, ln in enumerate(lines):
                if ln.strip().startswith("pages free"):
                    lines[k] = "  pages free     9999999999"
                    break
        elif how == "truncate":
            lines = lines[: rng.randrange(len(lines) + 1)]
        p = self.fresh(".zoneinfo")
        if how == "bytes":
            data = bytearray("\n".join(lines).encode())
            for _ in range(rng.randint(1, 5)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            p.write_bytes(bytes(data))
        else:
            p.write_text("\n".join(lines) + "\n")
        return p, how

    def damaged_profile(self) -> tuple[Path, str]:
        rng = self.rng
        text = self.profile_text
        how = rng.choice(["value", "value", "value", "delete", "garbage", "bytes", "deep"])
        lines = text.splitlines()
        if how == "value":
            cands = [k for k, ln in enumerate(lines) if "=" in ln and not ln.strip().startswith("#")]
            k = rng.choice(cands)
            key = lines[k].split("=")[0]
            lines[k] = key + "= " + rng.choice(["0", "-1", "inf", "nan", "1e308", "9" * 5000,
                                                "\"\"", "[]", "true", "0.0", "\"0-100000000000\"",
                                                "1e-300", "[[10]]", "65537"])  # fmt: skip
        elif how == "delete":
            del lines[rng.randrange(len(lines))]
        elif how == "garbage":
            lines.insert(rng.randrange(len(lines)), rng.choice(GARBAGE + ["[[", "x = ", "= 1"]))
        elif how == "deep":
            lines.append("deep = " + "[" * 100_000 + "]" * 100_000)
        p = self.fresh(".toml")
        if how == "bytes":
            data = bytearray(text.encode())
            for _ in range(rng.randint(1, 5)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            p.write_bytes(bytes(data))
        else:
            p.write_text("\n".join(lines) + "\n")
        return p, how

    def scenario_file(self) -> tuple[Path, str]:
        rng = self.rng
        field_vals = {
            "name": ['"fz"', "None", '""', "5", '"a b"', '"x" * 500'],
            "zone_pages": ["(32,)", "(0,)", "()", "(16, 32)", "(-1,)", "(10**9,)", "(8,8,8,8)",
                           "(1.5,)", "None"],
            "batch": ["2", "0", "-1", "10**9", "1.5", "True"],
            "high": ["4", "0", "1", "-3", "10**9"],
            "max_order": ["3", "-1", "11", "0", "99"],
            "prefill": ["()", "((0, 0, 2),)", "((0, 0, -1),)", "((5, 0, 1),)", "((0, 0, 999),)",
                        "((0,),)", "5"],
            "nohz_full": ["()", "(0,)", "(9,)", "(-1,)"],
            "version": ["None", '"5.17"', '"bogus"', "5"],
        }  # fmt: skip
        steps = ["alloc(0)", "alloc(-1)", "alloc(99)", "alloc(0, 5)", "alloc(0, 0, 7)", "free()",
                 "drain(None)", "drain(0)", "drain(3)", "pcp_disable(0)", "pcp_enable(0)",
                 "drain_dead(1)", "drain_dead(0)", "drain_dead(7)", "go_idle()", "go_offline()",
                 "enter_user()", "Action('bogus')", "5", "None"]  # fmt: skip
        chosen = {k: ("rng" if False else v[0]) for k, v in field_vals.items()}
        changes = rng.randint(0, 2)
        for k in rng.sample(sorted(field_vals), changes):
            chosen[k] = rng.choice(field_vals[k])
        progs = []
        for _ in range(rng.choice([1, 2, 2, 3, 0])):
            n = rng.randint(0, 4)
            base = ["alloc(0)", "free()", "drain(None)"]
            progs.append("(" + ", ".join(rng.choice(steps) if rng.random() < 0.3 else
                                         rng.choice(base) for _ in range(n)) + ",)"
                         if n else "()")  # fmt: skip
        body = ", ".join(f"{k}={v}" for k, v in chosen.items())
        prog_text = "(" + ", ".join(progs) + ("," if len(progs) == 1 else "") + ")"
        kind = rng.choice(["ok", "ok", "ok", "raise", "exit", "empty", "notlist", "syntax"])
        head = "from pcplab.check.scenario import *\n"
        if kind == "ok":
            text = head + f"SCENARIO = Scenario(description='fuzz', programs={prog_text}, {body})\n"
        elif kind == "raise":
            text = head + "raise RuntimeError('boom')\n"
        elif kind == "exit":
            text = head + "import sys\nsys.exit(3)\n"
        elif kind == "empty":
            text = head + "SCENARIOS = []\n"
        elif kind == "notlist":
            text = head + "SCENARIOS = 5\n"
        else:
            text = head + "SCENARIO = Scenario(\n"
        p = self.fresh(".py")
        p.write_text(text)
        return p, kind

    def token(self) -> tuple[str, str]:
        from pcplab.check.counterexample import ReplayToken

        rng = self.rng

        def pack(obj: Any, raw: bytes | None = None) -> str:
            data = raw if raw is not None else json.dumps(obj).encode()
            return "pcp1." + base64.urlsafe_b64encode(zlib.compress(data, 9)).decode().rstrip("=")

        how = rng.choice(["valid", "flip", "inf", "deep", "bomb", "types", "garbage", "extra",
                          "trunc"])  # fmt: skip
        good = ReplayToken("rcu", "free-vs-global-drain", (0, 1, 1, 0, 1)).encode()
        if how == "valid":
            return good, how
        if how == "flip":
            i = rng.randrange(5, len(good))
            return good[:i] + rng.choice("A_-=!é") + good[i + 1 :], how
        if how == "trunc":
            return good[: rng.randrange(len(good))], how
        if how == "inf":
            return pack(None, b'{"d":"rcu","s":"free-vs-global-drain","x":[1e999]}'), how
        if how == "deep":
            return pack(None, b"[" * 100_000 + b"]" * 100_000), how
        if how == "bomb":
            return pack(None, b"[" + b"0," * 5_000_000 + b"0]"), how
        if how == "types":
            return pack(rng.choice([{"d": None, "s": "x", "x": []}, {"d": "rcu", "s": 5, "x": []},
                                    {"d": "rcu", "s": "free-vs-global-drain", "x": [True]},
                                    {"d": "rcu", "s": "free-vs-global-drain", "x": [-1]},
                                    {"d": "rcu", "s": "free-vs-global-drain", "x": "01"},
                                    [1, 2], "x", 5])), how  # fmt: skip
        if how == "extra":
            return pack({"d": "rcu", "s": "free-vs-global-drain", "x": [0, 1], "zz": {"new": 1},
                         "o": "built-in"}), how  # fmt: skip
        return rng.choice(GARBAGE + ["pcp1.", "pcp1.!!!!", "pcp2.abc"]), how


# -- the generator -------------------------------------------------------------------------------
def _vary(base: list[str], opt: str, value: str) -> list[str]:
    out = list(base)
    if opt in out:
        out[out.index(opt) + 1] = value
    else:
        out += [opt, value]
    return out


def generate(ws: Workspace, rng: random.Random) -> Iterator[Case]:
    """An endless stream of cases (callers take as many as they want)."""
    makers: list[tuple[float, Callable[[], Case]]] = []

    def add(weight: float) -> Callable[[Callable[[], Case]], Callable[[], Case]]:
        def deco(fn: Callable[[], Case]) -> Callable[[], Case]:
            makers.append((weight, fn))
            return fn

        return deco

    seeds_ok = ["0", "1", "42", str(2**64 - 1)]
    seeds_bad = ["-1", str(2**64), "99999999999999999999999", "1.5", "1e3", *GARBAGE]

    def seed() -> tuple[str, str]:
        return (rng.choice(seeds_ok), ANY) if rng.random() < 0.3 else (rng.choice(seeds_bad), BAD)

    pft_base = ["pft", "-m", "rpi4", "-d", "rcu", "--clients", "1", "-n", "1"]

    @add(3)
    def pft() -> Case:
        opt = rng.choice(["--seed", "--clients", "-n", "--mapping-mb", "-m", "-d", "--placement"])
        good: dict[str, list[str]] = {
            "--seed": seeds_ok, "--clients": ["1", "1,2", "2-3", "4", "1, 2"], "-n": ["1", "2"],
            "--mapping-mb": ["1", "16", "64"], "-m": ["rpi4", str(ws.good_profile)],
            "-d": ["rcu", "workqueue", "spinlock"], "--placement": ["fork-domain", "v5.17"]}
        bad: dict[str, list[str]] = {
            "--seed": seeds_bad,
            "--clients": ["0", "5", "1 2", "1-1000000000000", "-1", "3-1", "1--2", ",", "", "a",
                          "1;2", "0-4", *HUGE],
            "-n": ["0", "-1", "100001", *GARBAGE, *HUGE],
            "--mapping-mb": ["0", "-5", "99999999", "8053", "1.5", "inf", *GARBAGE],
            "-m": ["bogus", "", "./missing.toml", str(ws.a_dir), str(ws.regular), "host/..",
                   "rpi4 "],
            "-d": ["bogus", "", "./nope.py", "rcu,spinlock", "../../etc/passwd"],
            "--placement": ["x", ""]}  # fmt: skip
        if opt == "-m" and rng.random() < 0.3:
            p, how = ws.damaged_profile()
            return Case(_vary(pft_base, "-m", str(p)), ANY, f"pft -m damaged-profile:{how}")
        if rng.random() < 0.25:
            v = rng.choice(good[opt])
            return Case(_vary(pft_base, opt, v), ANY, f"pft {opt} {v[:20]!r}", value=v)
        v = rng.choice(bad[opt])
        return Case(_vary(pft_base, opt, v), BAD, f"pft {opt} {v[:20]!r}", value=v)

    noise_base = ["noise", "-m", "rpi4", "-d", "rcu", "--isolated", "2", "--duration", "0.001"]

    @add(3)
    def noise() -> Case:
        opt = rng.choice(["--isolated", "--drain-rate", "--duration", "--load", "--rt-runtime-us",
                          "--memory-mib", "--isolated-task", "--seed", "-m"])  # fmt: skip
        good = {"--isolated": ["2", "2-3", "1,3", "3"], "--drain-rate": ["100", "1000", "1"],
                "--duration": ["0.001", "0.002"], "--load": ["drain-storm", "cma"],
                "--rt-runtime-us": ["-1", "950000", "1"], "--memory-mib": ["32", "64", "8052"],
                "--isolated-task": ["fifo", "idle", "other"], "--seed": seeds_ok,
                "-m": ["rpi4", str(ws.good_profile)]}  # fmt: skip
        bad = {"--isolated": ["0-3", "4", "0-100000000000", "", "a", "-1", "2 3", "3-2", "40",
                              "99999999999999999999", "0-8191", "8192"],
               "--drain-rate": ["inf", "1e30", "5e-324", "0", "-1", "nan", "abc", "1e7", ""],
               "--duration": ["0", "-1", "nan", "inf", "1e30", "1e-9", "", "99999999999"],
               "--load": ["bogus", "", "OOM"],
               "--rt-runtime-us": ["0", "-2", "1000001", "x", "", "1e3"],
               "--memory-mib": ["0", "3", "8053", "9000", "-1", "inf", "1e3", *HUGE],
               "--isolated-task": ["x", ""], "--seed": seeds_bad,
               "-m": ["bogus", str(ws.a_dir), ""]}  # fmt: skip
        if rng.random() < 0.25:
            v = rng.choice(good[opt])
            return Case(_vary(noise_base, opt, v), ANY, f"noise {opt} {v[:20]!r}", value=v)
        v = rng.choice(bad[opt])
        return Case(_vary(noise_base, opt, v), BAD, f"noise {opt} {v[:20]!r}", value=v)

    @add(1)
    def oom() -> Case:
        base = ["oom", "-d", "rcu"]
        opt = rng.choice(["--memory-mib", "--seed", "-m", "-d"])
        bad = {"--memory-mib": ["0", "3", "-1", "99999", "8053", *GARBAGE],
               "--seed": seeds_bad, "-m": ["bogus", ""], "-d": ["bogus", ""]}  # fmt: skip
        if rng.random() < 0.05:
            return Case(_vary(base, "--memory-mib", rng.choice(["8", "16"])), ANY, "oom small")
        v = rng.choice(bad[opt])
        return Case(_vary(base, opt, v), BAD, f"oom {opt} {v[:20]!r}", value=v)

    check_base = ["check", "--design", "rcu", "--scenario", "free-vs-global-drain", "--mode",
                  "random", "--executions", "5"]  # fmt: skip

    @add(4)
    def check() -> Case:
        opt = rng.choice(["--bound", "--time-limit", "--executions", "--seed", "--mode", "--kind",
                          "--scenario", "--design", "--scenario-file", "--replay", "--replay"])
        good = {"--bound": ["0", "1", "-1"], "--time-limit": ["5", "0.5"],
                "--executions": ["1", "3"], "--seed": seeds_ok, "--mode": ["random", "pct"],
                "--kind": ["page-lost"], "--scenario": ["pcp-disable", "two-zones"],
                "--design": ["workqueue", "rcu-no-grace-period"]}  # fmt: skip
        bad = {"--bound": ["-2", "1001", "x", "", "1.5", *HUGE],
               "--time-limit": ["nan", "inf", "-1", "0", "x", "", "1e30", "-inf"],
               "--executions": ["0", "-1", str(10**10), "x", *HUGE],
               "--seed": seeds_bad, "--mode": ["bogus", ""], "--kind": ["bogus", ""],
               "--scenario": ["bogus", "", "None"], "--design": ["bogus", "", "./x.py"]}  # fmt: skip
        if opt == "--scenario-file":
            p, how = ws.scenario_file()
            args = ["check", "--design", "rcu", "--scenario-file", str(p), "--mode", "random",
                    "--executions", "3"]  # fmt: skip
            return Case(args, ANY if how == "ok" else BAD, f"check --scenario-file {how}")
        if opt == "--replay":
            tok, how = ws.token()
            return Case(["check", "--replay", tok], ANY if how in ("valid", "flip", "extra",
                        "trunc") else BAD, f"check --replay {how}", value=tok)  # fmt: skip
        if rng.random() < 0.25:
            v = rng.choice(good[opt])
            return Case(_vary(check_base, opt, v), ANY, f"check {opt} {v[:20]!r}", value=v)
        v = rng.choice(bad[opt])
        return Case(_vary(check_base, opt, v), BAD, f"check {opt} {v[:20]!r}", value=v)

    @add(2)
    def machines() -> Case:
        sub = rng.choice(["list", "show", "show", "zoneinfo", "zoneinfo"])
        if sub == "list":
            return Case(["machines", "list"] + rng.choice([[], ["--json"]]), ANY, "machines list")
        if sub == "zoneinfo":
            if rng.random() < 0.3:
                opt = rng.choice(["--page-size", "--min-free-kbytes", "--kernel"])
                v = rng.choice({"--page-size": ["0", "4095", "3000", "-1", "x", str(2**40)],
                                "--min-free-kbytes": ["0", "-1", str(2**31), "x"],
                                "--kernel": ["x", "", "99.99.99.99", "5"]}[opt])  # fmt: skip
                return Case(["machines", "show", "--zoneinfo", str(ws.good_zoneinfo), opt, v],
                            BAD, f"machines show --zoneinfo {opt} {v!r}", value=v)
            p, how = ws.damaged_zoneinfo()
            kind = BAD if how in ("free-big", "swap-wmark") else ANY
            return Case(["machines", "show", "--zoneinfo", str(p)], kind, f"zoneinfo {how}")
        if rng.random() < 0.4:
            p, how = ws.damaged_profile()
            return Case(["machines", "show", str(p)], ANY, f"machines show profile:{how}")
        v = rng.choice(["bogus", "", str(ws.a_dir), str(ws.regular), "./missing.toml"])
        return Case(["machines", "show", v], BAD, f"machines show {v[:20]!r}", value=v)

    @add(0.3)
    def designs() -> Case:
        return Case(["designs"] + rng.choice([[], ["--json"], ["--mutants"]]), ANY, "designs")

    compare_base = ["compare", "--machine", "rpi4", "--designs", "vanilla,rcu", "--clients", "1",
                    "--iterations", "1", "--duration", "0.001", "--check-bound", "0", "--quiet",
                    "--no-plots"]  # fmt: skip

    @add(3)
    def compare() -> Case:
        """Refused before any run on the real backend (a silent accept would take minutes and
        show as a hang); the database must not have been created."""
        opt = rng.choice(["--check-mode", "--load", "--isolated", "--check-bound", "--seed",
                          "--drain-rate", "--duration", "--clients", "--iterations", "--designs",
                          "--machine", "--out", "--html", "--significance", "--format"])
        bad = {"--check-mode": ["bogus", ""], "--load": ["bogus", ""],
               "--isolated": ["40", "0-3", "0-100000000000", "a", "2 3"],
               "--check-bound": ["-2", "x", "1001"], "--seed": seeds_bad,
               "--drain-rate": ["inf", "nan", "1e30", "0", "5e-324"],
               "--duration": ["nan", "inf", "0", "-1"], "--clients": ["1 2", "0", "5", "x"],
               "--iterations": ["0", "-1", "x"], "--designs": ["rcu,bogus", "", "rcu,rcu", ","],
               "--machine": ["bogus", "", str(ws.a_dir)], "--out": [str(ws.regular)],
               "--html": [str(ws.regular), str(ws.regular / "x")], "--significance": ["x"],
               "--format": ["xml"]}  # fmt: skip
        db = ws.fresh(".db")
        v = rng.choice(bad[opt])
        args = _vary(compare_base, opt, v) + ["--db", str(db)]
        if opt == "--out":
            args.remove("--no-plots")
        return Case(args, BAD, f"compare {opt} {v[:20]!r}", must_not_exist=str(db), value=v)

    @add(0.5)
    def compare_fake() -> Case:
        db = ws.fresh(".db")
        args = ["compare", "--clients", rng.choice(["1", "1,2"]), "--iterations", "2", "--quiet",
                "--no-plots", "--format", rng.choice(["text", "json"]), "--db", str(db),
                "--seed", rng.choice(seeds_ok)]  # fmt: skip
        return Case(args, ANY, "compare (fake backend)", env=FAKE_BACKEND_ENV)

    @add(4)
    def runs() -> Case:
        sub = rng.choice(["list", "show", "table", "export"])
        which = rng.random()
        if which < 0.45:
            db, how = ws.damaged_db()
            kind = BAD if how in ("empty", "text", "sql-schema", "sql-drop") or (
                how == "sql-json" and sub != "show") else ANY
            label = f"runs {sub} damaged-db:{how}"
        elif which < 0.6:
            db, kind = rng.choice([ws.fresh(".db"), ws.a_dir, ws.regular, Path("")]), BAD
            label = f"runs {sub} bad --db"
        else:
            db, kind, label = ws.good_db, ANY, f"runs {sub}"
        args = ["runs", sub]
        if sub == "show":
            rid = rng.choice(["1", "2", "3"]) if rng.random() < 0.5 else rng.choice(
                ["0", "-1", str(2**63), "99999999999999999999", "x", "", "4"])
            args.append(rid)
            if rid not in ("1", "2", "3"):
                kind = BAD
        if sub == "list" and rng.random() < 0.3:
            args += ["--workload", rng.choice(["bogus", "", "pft"])]
            if args[-1] != "pft":
                kind = BAD
        if sub == "export" and rng.random() < 0.6:
            target, tkind = _output_target(ws, rng)
            args += ["-o", target]
            kind = BAD if tkind == BAD else kind
        must_not = str(db) if label.endswith("bad --db") and str(db).endswith(".db") else None
        return Case([*args, "--db", str(db)], kind, label, must_not_exist=must_not,
                    value=args[2] if sub == "show" else None)

    @add(1.5)
    def export() -> Case:
        if rng.random() < 0.5:
            target, kind = _output_target(ws, rng)
            return Case(["export", "--format", rng.choice(["json", "csv"]), "-o", target, "--db",
                         str(ws.good_db)], kind, "export --format -o")  # fmt: skip
        d = rng.choice([str(ws.fresh()), str(ws.regular), str(ws.regular / "x"), ""])
        kind = ANY if d and "a-file" not in d else BAD
        return Case(["export", "--mmtests", d, "--db", str(ws.good_db)], kind, "export --mmtests")

    @add(1.5)
    def import_() -> Case:
        db = ws.fresh(".db")
        how = rng.choice(["good", "damaged", "damaged", "file", "empty", "missing"])
        if how == "good":
            tree = ws.tree
        elif how == "damaged":
            tree = _damaged_tree(ws, rng)
        elif how == "file":
            tree = ws.regular
        elif how == "empty":
            tree = ws.fresh()
            tree.mkdir()
        else:
            tree = ws.root / "missing-tree"
        kind = ANY if how in ("good", "damaged") else BAD
        return Case(["import", "--mmtests", str(tree), "--db", str(db)], kind, f"import {how}")

    @add(0.5)
    def top() -> Case:
        v = rng.choice([["--help"], ["--version"], ["bogus"], [], ["runs"], ["pft"],
                        ["pft", "--bogus"], ["machines", "show"], ["check"]])  # fmt: skip
        kind = ANY if v in (["--help"], ["--version"], [], ["runs"]) else BAD
        return Case(v, kind, f"top {' '.join(v)}")

    weights = [w for w, _ in makers]
    funcs = [f for _, f in makers]
    while True:
        yield rng.choices(funcs, weights)[0]()


def _output_target(ws: Workspace, rng: random.Random) -> tuple[str, str]:
    what = rng.choice(["new", "existing", "devnull", "stdout", "link", "dir", "noparent", "empty",
                       "long", "parent-file"])  # fmt: skip
    if what == "new":
        return str(ws.fresh(".out")), ANY
    if what == "existing":
        p = ws.fresh(".out")
        p.write_text("old\n")
        return str(p), ANY
    if what == "devnull":
        return os.devnull, ANY
    if what == "stdout":
        return "-", ANY
    if what == "link":
        return str(ws.link), BAD
    if what == "dir":
        return str(ws.a_dir), BAD
    if what == "noparent":
        return str(ws.root / "no" / "such" / "x.csv"), BAD
    if what == "long":
        return str(ws.root / ("x" * 300)), BAD
    if what == "parent-file":
        return str(ws.regular / "x.csv"), BAD
    return "", BAD


def _damaged_tree(ws: Workspace, rng: random.Random) -> Path:
    import shutil

    dst = ws.fresh()
    shutil.copytree(ws.tree, dst, symlinks=True)
    files = [p for p in dst.rglob("*") if p.is_file()]
    for _ in range(rng.randint(1, 3)):
        if not files:
            break
        f = rng.choice(files)
        how = rng.choice(["bytes", "number", "truncate", "dir", "delete"])
        if how == "bytes":
            data = bytearray(f.read_bytes())
            for _ in range(rng.randint(1, 10)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
            f.write_bytes(bytes(data))
        elif how == "number":
            text = f.read_text(errors="replace")
            f.write_text(text.replace("1", rng.choice(["9" * 400, "-1", "nan", "1e999"]), 3))
        elif how == "truncate":
            f.write_bytes(f.read_bytes()[: rng.randrange(max(1, f.stat().st_size))])
        elif how == "dir":
            f.unlink()
            f.mkdir()
            files.remove(f)
        else:
            f.unlink()
            files.remove(f)
    return dst


# -- running -------------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


def run_case(case: Case, ws: Workspace, timeout: float) -> Outcome:
    """Run one case in this process under a wall-clock alarm."""
    from pcplab.cli import main

    fired = {"hang": False}

    def on_alarm(signum: int, frame: Any) -> None:
        fired["hang"] = True
        raise KeyboardInterrupt  # the CLI turns it into "aborted", exit 130

    env = {"PCPLAB_DB": str(ws.default_db), "PCPLAB_CRASH_DIR": str(ws.crash_dir), **case.env}
    saved = {k: os.environ.get(k) for k in [*env, "PCPLAB_COMPARE_BACKEND"]}
    os.environ.pop("PCPLAB_COMPARE_BACKEND", None)
    os.environ.update(env)
    old = signal.signal(signal.SIGALRM, on_alarm)
    cwd = os.getcwd()
    os.chdir(ws.root)
    t0 = time.perf_counter()
    code: int | None = None
    extra = ""
    with _captured() as (out, err):
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                main(list(case.args))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except BaseException as exc:  # noqa: BLE001 - anything escaping main is a finding
            import traceback

            extra = "Traceback (most recent call last)\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__))
            code = None
    os.chdir(cwd)
    signal.signal(signal.SIGALRM, old)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return Outcome(case, code, out.getvalue(), err.getvalue() + extra,
                   time.perf_counter() - t0, hang=fired["hang"])


def campaign(n: int, seed: int, timeout: float, root: Path, budget: float | None = None,
             progress: Callable[[int, Outcome], None] | None = None) -> list[Outcome]:
    """Run ``n`` generated cases (or as many as fit in ``budget`` seconds)."""
    rng = random.Random(seed)
    ws = Workspace(root, rng)
    outcomes = []
    t0 = time.monotonic()
    for i, case in enumerate(generate(ws, rng)):
        if i >= n or (budget is not None and time.monotonic() - t0 > budget):
            break
        o = run_case(case, ws, timeout)
        outcomes.append(o)
        if progress is not None:
            progress(i, o)
    return outcomes


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    by = Counter(o.case.label.split(" ")[0] for o in outcomes)
    codes = Counter(str(o.code) if not o.hang else "hang" for o in outcomes)
    fails = [o for o in outcomes if o.failed]
    return {
        "inputs": len(outcomes),
        "bad_inputs": sum(o.case.kind == BAD for o in outcomes),
        "tracebacks": sum(o.traceback for o in outcomes),
        "hangs": sum(o.hang for o in outcomes),
        "bad_exit_codes": sum(o.bad_exit for o in outcomes),
        "silent_accepts": sum(o.silent_accept for o in outcomes),
        "half_written": sum(o.half_written for o in outcomes),
        "baseline_broken": sum(o.baseline_broken for o in outcomes),
        "unclear_errors": sum(o.unclear for o in outcomes),
        "verdicts_on_scenarios": sum(o.verdict_on_scenario for o in outcomes),
        "exit_codes": dict(sorted(codes.items())),
        "per_command": dict(sorted(by.items())),
        "slowest_s": round(max((o.seconds for o in outcomes), default=0.0), 2),
        "failures": [{"label": o.case.label, "args": [a[:80] for a in o.case.args],
                      "code": o.code, "hang": o.hang, "stderr": o.err[-600:]}
                     for o in fails[:50]],  # fmt: skip
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", help="workspace directory to keep (default: a temporary one)")
    a = ap.parse_args()
    t0 = time.monotonic()

    def progress(i: int, o: Outcome) -> None:
        if (i + 1) % 500 == 0:
            print(f"{i + 1} inputs, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        if o.failed:
            print(f"FAIL {o.case.label}: code {o.code} hang {o.hang}: {o.err.strip()[-300:]}",
                  file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="pcplab-fuzz-") as tmp:
        root = Path(a.keep) if a.keep else Path(tmp)
        outs = campaign(a.inputs, a.seed, a.timeout, root, progress=progress)
    s = summary(outs)
    s["seconds"] = round(time.monotonic() - t0, 1)
    if a.json:
        print(json.dumps(s, indent=2))
        return
    print(f"pcplab CLI fuzz campaign: seed {a.seed}, {s['inputs']} inputs "
          f"({s['bad_inputs']} out-of-range or broken), {s['seconds']} s")
    for k in ("tracebacks", "hangs", "bad_exit_codes", "silent_accepts", "half_written",
              "baseline_broken", "unclear_errors", "verdicts_on_scenarios"):
        print(f"  {k:<16} {s[k]}")
    print(f"  exit codes       {s['exit_codes']}")
    print(f"  per command      {s['per_command']}")
    print(f"  slowest input    {s['slowest_s']} s")
    for f in s["failures"]:
        print(f"  FAIL {f['label']}: code {f['code']} hang {f['hang']}\n    {f['stderr'][-300:]}")


if __name__ == "__main__":
    main()
