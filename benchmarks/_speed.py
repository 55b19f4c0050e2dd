"""Shared helpers of the speed benchmarks: timing, the machine's load, fixed-width tables.

Speed ratios are only meaningful when both sides run under the same load: every speed
benchmark measures what it compares side by side in one run (interleaved where it can) and
prints the load average next to its numbers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def timed(fn: Callable[..., object], *args: object) -> tuple[object, float]:
    """``(fn(*args), wall seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def best_of(repeat: int, funcs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Shortest wall time (seconds) of each function over ``repeat`` interleaved rounds, so
    that load from other processes hits all of them alike."""
    best = dict.fromkeys(funcs, float("inf"))
    for _ in range(repeat):
        for name, func in funcs.items():
            best[name] = min(best[name], timed(func)[1])
    return best


def load() -> str:
    """The 1-minute load average and the CPU count, for the record."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def emo(*args: str | Path) -> subprocess.CompletedProcess:
    """Run ``python -m emo ARGS`` (capturing its output; raise when it fails)."""
    done = subprocess.run([sys.executable, "-m", "emo", *map(str, args)], capture_output=True,
                          text=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"emo {' '.join(map(str, args))} exited {done.returncode}: "
                           f"{done.stderr.strip()[-2000:]}")
    return done


class Table:
    """Print rows of a fixed-width table as they come.

    Parameters
    ----------
    headers
        Column titles; the first column is left-aligned and ``width`` wide.
    width
        Width of the first column.
    """

    def __init__(self, headers: Sequence[str], width: int = 40) -> None:
        self.width = width
        self.widths = [max(9, len(h)) for h in headers[1:]]
        self.row(*headers)
        print("-" * (width + sum(w + 1 for w in self.widths)))

    def row(self, first: str, *cells: object) -> None:
        """Print one row (floats to 4 significant digits; missing trailing cells stay empty)."""
        text = [f"{first:{self.width}s}"]
        for cell, w in zip(cells, self.widths, strict=False):
            shown = f"{cell:.4g}" if isinstance(cell, float) else "" if cell is None else str(cell)
            text.append(f"{shown:>{w}s}")
        print(" ".join(text), flush=True)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    import psutil

    proc = psutil.Process(pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6
