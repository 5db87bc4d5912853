"""A user's own design, end to end: loading from files and modules, errors, source hashes in the
store key, replay from another directory, design-declared state in the checker's key, hooks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from pcplab import designs
from pcplab.check.api import replay_token, run_check
from pcplab.designs import loader
from pcplab.designs import state as design_state
from pcplab.errors import PcplabError
from pcplab.report.compare import Unit

from .helpers import EXAMPLES_DIR

BYPASS = EXAMPLES_DIR / "nohz_bypass.py"
QUIET = EXAMPLES_DIR / "quiet_on_nohz_entry.py"

#: the smallest complete design: v5.17's functions, re-exported under a name of its own
MINIMAL = """
from pcplab.designs.workqueue import (State, __drain_all_pages, drain_pages_zone,
                                      free_unref_page, rmqueue_pcplist)
NAME = "{name}"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def pcplab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from pcplab.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_design_file_loads_with_the_standard_wrappers(tmp_path):
    f = write(tmp_path / "my_design.py", MINIMAL.format(name="mine"))
    d = designs.get(str(f))
    assert d.name == "mine" and d.origin == str(f.resolve()) and d.kernel_version == "5.17"
    assert d.key == f"mine@{d.source_hash}" and len(d.source_hash) == 16
    # the wrappers come from pcplab.designs.standard and call the file's functions
    assert d.drain_all_pages.__module__ == "pcplab.designs.standard"
    assert d.impl.drain_pages_zone.__name__ == "drain_pages_zone"
    assert run_check(str(f), "free-vs-global-drain")["violation"] is None


def test_file_with_several_designs(tmp_path):
    a = designs.get("workqueue")
    write(tmp_path / "two.py", """
        from dataclasses import replace
        from pcplab import designs
        ONE = replace(designs.get("workqueue"), name="one")
        TWO = replace(designs.get("spinlock"), name="two")
    """)
    with pytest.raises(PcplabError, match="several designs"):
        designs.get(str(tmp_path / "two.py"))
    assert designs.get(f"{tmp_path / 'two.py'}:TWO").name == "two"
    with pytest.raises(PcplabError, match="has no 'THREE'"):
        designs.get(f"{tmp_path / 'two.py'}:THREE")
    assert a is designs.get("workqueue")  # built-ins are cached objects


def test_module_spec_and_register(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = tmp_path / "upkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write(pkg / "mydesign.py", MINIMAL.format(name="pkg-design"))
    d = designs.get("upkg.mydesign")
    assert d.name == "pkg-design" and d.origin == "upkg.mydesign" and d.source_hash
    r = designs.register(replace(designs.get("spinlock"), name="my-registered"))
    assert designs.get("my-registered") is r and r.origin == "registered"
    assert ("my-registered", "registered") in designs.available()
    with pytest.raises(PcplabError, match="built-in"):
        designs.register(replace(designs.get("spinlock"), name="rcu"))


def test_entry_points_are_found(tmp_path, monkeypatch):
    write(tmp_path / "ep_design.py", MINIMAL.format(name="ep-design"))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.metadata as md

    ep = md.EntryPoint("ep-design", "ep_design", loader.ENTRY_POINT_GROUP)
    monkeypatch.setattr(md, "entry_points", lambda group=None: [ep] if group else [])
    loader.forget("ep-design")
    d = designs.get("ep-design")
    assert d.name == "ep-design" and d.origin == "entry point ep-design"
    assert any(n == "ep-design" for n, _ in designs.available())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "does not exist"),
        ("X = 1\n", "defines no design"),
        ("from pcplab.designs.workqueue import free_unref_page, drain_pages_zone, "
         "__drain_all_pages\n", "does not define rmqueue_pcplist"),
        (MINIMAL.format(name="spinlock"), "built-in design"),
        ("def rmqueue_pcplist(:\n", "syntax error"),
        ("raise RuntimeError('boom')\n", "failed to load: RuntimeError: boom"),
    ],
)
def test_bad_design_files_are_one_line_exit_2(tmp_path, text, message):
    f = tmp_path / "bad_design.py"
    if text is not None:
        f.write_text(text)
    with pytest.raises(PcplabError, match=message):
        loader.get_design(str(f))
    r = pcplab("check", "--design", str(f), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcplab: error:") and message in lines[0]
    assert "Traceback" not in r.stderr


def test_an_edited_design_gets_a_new_store_key(tmp_path):
    f = write(tmp_path / "edit_me.py", MINIMAL.format(name="edit-me"))
    unit = Unit(str(f), "pft", "rpi4", {"clients": [1]}, 1)
    before = unit.key
    assert unit.key == before  # stable while the file is unchanged
    f.write_text(f.read_text() + "# one more line\n")
    assert unit.key != before
    # a user module the design imports is part of its source too
    write(tmp_path / "helper_mod.py", "BATCH = 1\n")
    f.write_text(f.read_text() + "import helper_mod  # noqa: F401\n")
    with_helper = unit.key
    (tmp_path / "helper_mod.py").write_text("BATCH = 2\n")
    assert unit.key != with_helper


BUGGY = """
from pcplab.designs import common
from pcplab.designs.spinlock import (State, __drain_all_pages, free_unref_page,
                                     rmqueue_pcplist)
from pcplab.kernel.ops import Load, PcpEnter, PcpExit

NAME = "forgot-remote-lock"
KERNEL_VERSION = "6.0"


def drain_pages_zone(ctx, cpu, zone):
    pcp = zone.per_cpu_pageset[cpu]
    if (yield Load(pcp.lp, "count", owner=cpu)):
        lists = pcp.lp  # no spin_lock_irqsave(&pcp->lock): races with the owner's fast paths
        yield PcpEnter(lists, cpu)
        if lists.count:
            yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
        yield PcpExit(lists, cpu)
"""


def test_a_user_design_counterexample_replays_from_another_directory(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "work" / "buggy.py", BUGGY)
    monkeypatch.chdir(tmp_path / "work")
    r = run_check("buggy.py", "all")
    assert r["violation"] is not None and r["violation"]["kind"] == "list-race"
    replay_line = [x for x in r["violation"]["report"] if "--replay" in x][0]
    token = replay_line.split("--replay ", 1)[1]
    # the printed command, run from another directory as a fresh process
    out = pcplab("check", "--replay", token, cwd=tmp_path / "elsewhere")
    assert out.returncode == 1, out.stderr
    assert "list-race" in out.stdout or "list race" in out.stdout.lower()
    # after an edit the replay still runs, and says that the design changed
    (tmp_path / "work" / "buggy.py").write_text(BUGGY + "\n# edited\n")
    loader.forget()
    again = replay_token(token)
    assert any("changed" in n for n in again["notes"])


#: a design whose bug depends on a field of its own state: once four pages were freed (two by the
#: scenario's prefill, one by each CPU's program), the drain
#: skips the CPU that freed last if that was cpu0.  After both CPUs freed, the allocator and
#: kernel states are the same whichever freed last; only ``last_free_cpu`` differs.
STATEFUL = """
from dataclasses import dataclass

from pcplab.designs import common, workqueue
from pcplab.designs.workqueue import drain_local_pages_wq, drain_pages_zone, rmqueue_pcplist
from pcplab.kernel.ops import FlushWork, MutexUnlock, QueueWorkOn

NAME = "skips-last-freer"


@dataclass
class State(workqueue.State):
    last_free_cpu: int = -1
    frees: int = 0


def free_unref_page(ctx, zone, pfn, order, mt):
    yield from workqueue.free_unref_page(ctx, zone, pfn, order, mt)
    ctx.state.last_free_cpu = ctx.cpu
    ctx.state.frees += 1


def __drain_all_pages(ctx, zone, force_all_cpus):
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    mask = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    mask = [c for c in mask if not (c == 0 and st.frees >= 4 and st.last_free_cpu == 0)]  # bug
    for cpu in mask:
        st.pcpu_drain[cpu].fn = drain_local_pages_wq
        st.pcpu_drain[cpu].args = (zone,)
        yield QueueWorkOn(cpu, st.pcpu_drain[cpu], func=func)
    for cpu in mask:
        yield FlushWork(st.pcpu_drain[cpu], func=func)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True
"""

TWO_FREERS = """
from pcplab.check.scenario import Scenario, alloc, drain, free
# prefilled lists: each CPU allocates from its own list, so the order of the two CPUs changes
# nothing but the design's own field
SCENARIOS = [Scenario("two-freers", "cpu0 and cpu1 free, cpu2 drains zone0",
                      programs=((alloc(0), free()), (alloc(0), free()), (drain(0),)),
                      prefill=((0, 0, 1), (1, 0, 1)))]
"""


def test_a_bug_in_a_design_field_is_found_unbounded_and_hidden_by_an_incomplete_key(
    tmp_path, monkeypatch
):
    f = write(tmp_path / "stateful.py", STATEFUL)
    sc = write(tmp_path / "two_freers.py", TWO_FREERS)
    d = designs.get(str(f))
    assert "last_free_cpu" in dict(design_state.state_key(
        d.setup(*_tiny(d))))  # fmt: skip
    found = run_check(str(f), "two-freers", bound=-1, scenario_file=str(sc), shorten=False)
    assert found["violation"] is not None and found["violation"]["kind"] == "postcondition"
    # the same unbounded search with the field left out of the state key prunes the second
    # order of the frees as "seen" and misses the bug: the key must contain the design's state
    real_key = design_state.state_key

    def without_field(st):
        return tuple(kv for kv in real_key(st) if kv[0] != "last_free_cpu")

    monkeypatch.setattr(design_state, "state_key", without_field)
    hidden = run_check(str(f), "two-freers", bound=-1, scenario_file=str(sc))
    assert hidden["violation"] is None and hidden["exhaustive"]


def _tiny(d):
    from pcplab.kernel.state import Kernel
    from pcplab.mm.machine import Machine, tiny_topology

    m = Machine.build(tiny_topology(cpus_per_node=2, zone_pages=(64,)), d.kernel_version)
    return m, Kernel(2, machine=m)


def test_unsupported_state_is_one_clear_error(tmp_path):
    f = write(tmp_path / "odd_state.py", MINIMAL.format(name="odd-state") + textwrap.dedent("""
        from dataclasses import dataclass, field
        import threading

        @dataclass
        class State(State):
            lock: object = field(default_factory=threading.Lock)
    """))
    with pytest.raises(PcplabError, match="state field lock holds a lock"):
        run_check(str(f), "free-vs-global-drain")


def test_hooks_run_through_the_one_lifecycle_path(tmp_path):
    """quiet_on_nohz_entry skips nohz_full CPUs in user mode because its return-to-user hook
    flushed them; without the hook the checker finds the lists it left behind."""
    d = designs.get(str(QUIET))
    assert d.on_user_entry is not None and d.on_idle_entry is not None
    assert run_check(str(QUIET), "quiet-user-vs-global-drain")["violation"] is None
    broken = write(tmp_path / "no_hook.py", QUIET.read_text().replace(
        "def on_user_entry(", "def _unused_on_user_entry("))  # fmt: skip
    r = run_check(str(broken), "quiet-user-vs-global-drain")
    assert r["violation"] is not None and r["violation"]["kind"] == "postcondition"


def test_examples_have_scenarios_of_their_own():
    for path in (BYPASS, QUIET):
        d = designs.get(str(path))
        names = [s.name for s in d.scenarios]
        assert len(names) >= 4
        r = run_check(str(path), "all", bound=1)
        ran = [s["scenario"] for s in r["scenarios"]]
        assert r["violation"] is None and r["exhaustive"] and ran[-len(names):] == names


def test_designs_command_lists_origins(tmp_path):
    f = write(tmp_path / "listed.py", MINIMAL.format(name="listed"))
    r = pcplab("designs", "--design", str(f), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json

    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["workqueue"]["origin"] == "built-in"
    assert rows["listed"]["origin"] == str(f.resolve())


def test_a_user_design_that_drops_zone_lock_is_lock_not_held(tmp_path):
    """The bypass example with ``spin_lock_irqsave(&zone->lock)`` dropped around its buddy
    allocation: the checker names the lock (issue 15's owner rules reach user designs)."""
    text = BYPASS.read_text().replace(
        "return (yield from common.rmqueue_buddy(ctx, zone, order, mt))",
        "return (yield from common.rmqueue_buddy_locked(ctx, zone, order, mt))",
    ).replace('NAME = "nohz-bypass"', 'NAME = "nohz-bypass-unlocked"')
    assert "rmqueue_buddy_locked" in text
    f = write(tmp_path / "unlocked.py", text)
    r = run_check(str(f), "all", bound=1)
    v = r["violation"]
    assert v is not None and v["kind"] == "lock-not-held"
    assert "zone->lock" in v["message"]


def test_a_registered_design_is_keyed_by_its_code():
    from pcplab.designs import common, spinlock

    def alloc_a(ctx, zone, order, mt):
        return (yield from common.rmqueue_buddy(ctx, zone, order, mt))

    def alloc_b(ctx, zone, order, mt):
        page = yield from spinlock.rmqueue_pcplist(ctx, zone, order, mt)
        return page

    base = designs.get("spinlock")
    a = designs.register(replace(base, name="keyed-by-code", alloc_pages=alloc_a))
    assert a.key == f"keyed-by-code@{a.source_hash}"
    again = designs.register(replace(base, name="keyed-by-code", alloc_pages=alloc_a))
    assert again.key == a.key  # same code, same key
    b = designs.register(replace(base, name="keyed-by-code", alloc_pages=alloc_b))
    assert b.key != a.key  # the edited function is run anew, not served a's results
