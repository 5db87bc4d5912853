"""The simulator's event queue: a calendar queue of callbacks in simulated time.

A heap of distinct keys ``t << 2 | prio`` plus, per key, a FIFO of ``(fn, args)`` entries (the
bare entry while it is the only one): the same total order as one heap of ``(t, prio, seq)`` --
events at equal (t, prio) run in the order they were pushed -- but simultaneous events cost a
deque append/popleft instead of tuple comparisons down a heap.  :meth:`EventQueue._push` is the
one place an entry is added; :meth:`EventQueue._run_events` the loop.

Priorities at one time: :data:`P_CPU` (CPU events, ticks, interrupts), :data:`P_TIMER` (task
timers, wake-ups), :data:`P_AT` (``Simulator.at`` callbacks), :data:`P_RT` (RT throttling timers,
which are bookkeeping: not counted as activity).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Any

P_CPU, P_TIMER, P_AT, P_RT = 0, 1, 2, 3
_heappush = heapq.heappush


class EventQueue:
    """The queue and its loop; the simulator pushes callbacks with :meth:`_push`."""

    def _init_events(self) -> None:
        self.now = 0
        self._last = 0  # time of the last event that was not an RT throttling timer
        self._keys: list[int] = []
        self._buckets: dict[int, Any] = {}
        self.events_processed = 0

    def _push(self, t: int, prio: int, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` at time ``t`` (an int: a float time would be a bug, a TypeError
        here) with priority ``prio``, after every event already pushed for ``(t, prio)``."""
        k = t << 2 | prio
        buckets = self._buckets
        q = buckets.get(k)
        if q is None:  # the only event at this (t, prio) so far: no deque yet
            buckets[k] = (fn, args)
            _heappush(self._keys, k)
        elif type(q) is tuple:
            buckets[k] = deque((q, (fn, args)))
        else:
            q.append((fn, args))

    def _run_events(self, until: int | None) -> bool:
        """Run events in order until none is left (False) or the next is after ``until`` (True:
        ``now`` is then ``until``)."""
        keys = self._keys
        buckets = self._buckets
        pop = heapq.heappop
        n = 0
        last = self._last
        try:
            while keys:
                k = keys[0]
                t = k >> 2
                if until is not None and t > until:
                    self.now = until
                    return True
                self.now = t
                if k & 3 != P_RT:
                    last = t
                q = buckets[k]
                if type(q) is tuple:  # a single event at this (t, prio)
                    pop(keys)
                    del buckets[k]
                    n += 1
                    fn, args = q
                    fn(*args)
                    continue
                if not q:  # all events at this (t, prio) done
                    pop(keys)
                    del buckets[k]
                    continue
                # Several: run them in order while this (t, prio) stays first.  Events pushed
                # meanwhile for it join this FIFO; one pushed for an earlier key (a CPU event at
                # the same t) makes the loop stop and let the heap order decide.
                popleft = q.popleft
                while True:
                    fn, args = popleft()
                    n += 1
                    fn(*args)
                    if not q or keys[0] != k:
                        break
        finally:
            self.events_processed += n
            self._last = last
        return False
