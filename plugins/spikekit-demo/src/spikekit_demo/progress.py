"""A small progress bar (no dependency): redrawn in place on a terminal, one line per epoch otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Show the progress of one epoch: ``label [=====>    ] 12/21  loss 0.412  acc 87.3%  1.4s``.

    On a terminal the line is redrawn after every batch; when the stream is a file or a pipe (a log, a test, CI),
    only the finished line is written, so captured output stays readable.

    Args:
        total: number of steps (batches) in the epoch.
        label: text in front of the bar, e.g. ``"SNN (BPTT) epoch  3/12"``.
        stream: where to write (default ``sys.stderr``).

    Example:
        >>> bar = ProgressBar(21, "epoch 1/3")
        >>> for batch in range(21):
        ...     bar.update(loss=0.5, acc=0.8)
        >>> bar.close()
    """

    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, width: int = 20) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.count = 0
        self.metrics: dict[str, float] = {}
        self.start = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())

    def _line(self) -> str:
        filled = int(self.width * self.count / self.total)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        parts = [f"{self.label} [{bar}] {self.count:>{len(str(self.total))}}/{self.total}"]
        if "loss" in self.metrics:
            parts.append(f"loss {self.metrics['loss']:.3f}")
        if "acc" in self.metrics:
            parts.append(f"acc {100 * self.metrics['acc']:5.1f}%")
        if "test_acc" in self.metrics:
            parts.append(f"test {100 * self.metrics['test_acc']:5.1f}%")
        parts.append(f"{time.perf_counter() - self.start:5.1f}s")
        return "  ".join(parts)

    def update(self, n: int = 1, **metrics: float) -> None:
        """Advance by ``n`` steps and set the shown metrics (``loss``; ``acc`` and ``test_acc`` as fractions)."""
        self.count = min(self.count + n, self.total)
        self.metrics.update(metrics)
        if self.live:
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self, **metrics: float) -> None:
        """Finish the line (optionally with final metrics)."""
        self.metrics.update(metrics)
        self.stream.write(("\r" if self.live else "") + self._line() + "\n")
        self.stream.flush()
