"""Progress and step timings for long stages, quiet when nobody is watching.

On a terminal, a :class:`Progress` redraws one line on stderr ("SHAP 3/10 batches,
30%, 4.1 s, about 9 s left"); in a log file or under CI it draws nothing and logs
one line when it finishes ("SHAP: 10 batches in 13.2 s"). :func:`timed` logs how long
a step took. :func:`lightgbm_callback` plugs a :class:`Progress` into LightGBM's
training loop (one step per boosting round).

Only elapsed time is measured (``time.perf_counter``): nothing here reads the clock
to decide anything about the data.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    minutes, seconds = divmod(int(round(s)), 60)
    return f"{minutes} min {seconds:02d} s"


def _singular(unit: str) -> str:
    if unit.endswith(("ches", "shes", "xes", "sses")):
        return unit[:-2]
    return unit[:-1] if unit.endswith("s") else unit


class Progress:
    """Count steps of a long task; draw on a terminal, log once at the end.

    Parameters
    ----------
    label
        What is being done ("SHAP", "backtest origins").
    total
        Number of steps expected, if known.
    unit
        What a step is ("batches", "rounds").
    stream
        Where to draw (default ``sys.stderr``); nothing is drawn unless it is a terminal.
    logger
        Where the closing line goes (default: this module's logger).
    min_interval
        Seconds between redraws.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "steps",
        stream: IO[str] | None = None,
        logger: logging.Logger | None = None,
        min_interval: float = 0.2,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.logger = logger or _log
        self.min_interval = min_interval
        self.done = 0
        self.elapsed_ = 0.0
        self._start = time.perf_counter()
        self._drawn_at = -1.0
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def __enter__(self) -> Progress:
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(failed=exc_type is not None)

    def line(self) -> str:
        """The progress line as it would be drawn now."""
        elapsed = time.perf_counter() - self._start
        text = f"{self.label}: {self.done:,}"
        if self.total:
            share = self.done / self.total
            text += f"/{self.total:,} {self.unit} ({share:.0%}), {_seconds(elapsed)}"
            if 0 < self.done < self.total:
                text += f", about {_seconds(elapsed / share - elapsed)} left"
        else:
            text += f" {self.unit}, {_seconds(elapsed)}"
        return text

    def update(self, steps: int = 1) -> None:
        """Count ``steps`` more done; redraw if on a terminal and due."""
        self.done += steps
        if not self.interactive:
            return
        now = time.perf_counter()
        if now - self._drawn_at >= self.min_interval or self.done == self.total:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()
            self._drawn_at = now

    def close(self, *, failed: bool = False) -> None:
        """Finish the line on a terminal and log the total time."""
        self.elapsed_ = time.perf_counter() - self._start
        if self.interactive and self._drawn_at >= 0:
            self.stream.write("\n")
            self.stream.flush()
        if not failed:
            unit = _singular(self.unit) if self.done == 1 else self.unit
            self.logger.info(
                "%s: %s %s in %s", self.label, f"{self.done:,}", unit, _seconds(self.elapsed_)
            )


def track(
    items: Iterable[T],
    label: str,
    *,
    total: int | None = None,
    unit: str = "steps",
    logger: logging.Logger | None = None,
    stream: IO[str] | None = None,
) -> Iterator[T]:
    """Yield ``items``, counting each one as a step of a :class:`Progress`."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(label, total, unit=unit, logger=logger, stream=stream) as progress:
        for item in items:
            yield item
            progress.update()


@contextlib.contextmanager
def timed(label: str, logger: logging.Logger | None = None) -> Iterator[None]:
    """Log how long the enclosed step took (not logged if it raised)."""
    start = time.perf_counter()
    yield
    (logger or _log).info("%s took %s", label, _seconds(time.perf_counter() - start))


def lightgbm_callback(progress: Progress) -> Callable[[Any], None]:
    """A LightGBM callback that counts boosting rounds.

    ``lgb.train(..., callbacks=[lightgbm_callback(Progress("churn model", max_rounds,
    unit="rounds"))])``; close the progress after training (or use it as a context
    manager around ``lgb.train``). Early stopping simply ends the count early.
    """

    def callback(env: Any) -> None:
        progress.update(env.iteration + 1 - progress.done)

    callback.order = 50  # type: ignore[attr-defined]  # after LightGBM's own callbacks
    return callback
