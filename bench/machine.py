"""What the machine was like while a benchmark ran, printed beside its table: the figures of a shared two-core
machine move with the host's load (seen here: a loop of 10M additions taking 0.86 s and 1.6 s within the same
hour, and every benchmark slower by as much), so a table is read with a reference loop measured beside it."""
from __future__ import annotations

import os
import time


def reference_loop() -> float:
    """Seconds for a fixed pure-Python workload (3 million additions), best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def describe(before: float | None = None) -> str:
    """'2 CPUs, load average …, reference loop …' — with `before` (reference_loop() at the start), both."""
    load = os.getloadavg()
    now = reference_loop()
    loop = f"{before:.2f} s before, {now:.2f} s after" if before is not None else f"{now:.2f} s"
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; reference loop "
            f"(3M Python additions, best of 3; lower is a faster machine) {loop}")
