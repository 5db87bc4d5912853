"""The one progress display of every long command: done/total, elapsed and an ETA, on stderr.

A live bar (rich) is drawn only when stderr is a terminal; otherwise nothing is drawn and, with
``summary``, one line ``pcplab: LABEL: DONE/TOTAL UNIT in S s`` is written to stderr at the end.
stdout is never touched (the same seed prints the same bytes), and the display never changes
what is computed: callers only report how far they are.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def _count(done: float, total: float | None, unit: str) -> str:
    if total is None:
        return f"{done:g} {unit}".rstrip()
    return f"{done:g}/{total:g} {unit}".rstrip()


class Progress:
    """``with Progress("compare", total=9, unit="runs") as p: ... p.advance()``.

    ``sub(label)`` adds an indented line for the piece in flight (e.g. one pft run's client
    counts) and returns a ``(done, total)`` callback; ``end_sub()`` removes it.
    """

    def __init__(self, label: str, total: float | None, *, unit: str = "",
                 enabled: bool = True, summary: bool = True, stream: TextIO | None = None
                 ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done: float = 0
        self.summary = summary and enabled
        self.stream = stream or sys.stderr
        self.live = enabled and _is_terminal(self.stream)
        self._started = 0.0
        self._bar: Any = None
        self._task: Any = None
        self._sub: Any = None

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(),
                            console=Console(file=self.stream), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total,
                                            count=_count(0, self.total, self.unit))
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None
        if self.summary and not self.live and exc_type is None:
            self.stream.write(f"pcplab: {self.label}: {_count(self.done, self.total, self.unit)}"
                              f" in {self.elapsed():.1f} s\n")
            self.stream.flush()

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def update(self, done: float, total: float | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total,
                             count=_count(done, self.total, self.unit))

    def advance(self, n: float = 1) -> None:
        self.update(self.done + n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def sub(self, label: str, unit: str = "") -> Callable[..., None] | None:
        """A callback ``(done, total)`` drawing an indented second line; None when not live."""
        if self._bar is None:
            return None
        self.end_sub()
        bar = self._bar
        task = bar.add_task(f"  {label}", total=None, count="")
        self._sub = task

        def show(done: float, total: float | None = None, *_: Any, **__: Any) -> None:
            bar.update(task, completed=done, total=total, count=_count(done, total, unit))

        return show

    def end_sub(self) -> None:
        if self._sub is not None and self._bar is not None:
            self._bar.remove_task(self._sub)
        self._sub = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
