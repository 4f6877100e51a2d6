"""Watching a process drain a topic: progress, CPU and memory sampled over time.

A drain is a list of samples (time, events through so far, the process's CPU seconds,
its resident memory). Figures come from segments of equal event counts after the first
output, so start-up (imports, group join) is never in a rate, and the spread over the
segments (min, median, max) shows how steady the rate was on a shared machine.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    done: int  # events through so far
    cpu_s: float  # user + system CPU seconds of the process
    rss_mb: float


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median and max: what a results file reports for every repeated figure."""
    if not values:
        return {"min": 0.0, "median": 0.0, "max": 0.0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def process_cpu_rss(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and resident MB of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    rss_kb = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = float(line.split()[1])
    return cpu, rss_kb / 1024


def peak_rss_mb(pid: int) -> float:
    """The process's own high-water resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return 0.0


class DrainFailed(RuntimeError):
    """The process died or stalled before the drain finished."""


async def watch(
    proc: subprocess.Popen[bytes],
    progress: Callable[[], Awaitable[int]],
    target: int,
    *,
    timeout_s: float,
    stall_s: float = 60.0,
    interval_s: float = 0.25,
    on_sample: Callable[[Sample], None] | None = None,
) -> tuple[list[Sample], float]:
    """Sample ``proc`` until ``progress()`` reaches ``target``; returns samples and peak MB.

    Raises DrainFailed if the process exits, or if nothing moves for ``stall_s`` once
    output started, or at ``timeout_s``.
    """
    began = time.monotonic()
    samples: list[Sample] = []
    while True:
        done = await progress()
        if proc.poll() is not None:
            raise DrainFailed(f"the process exited with {proc.returncode} after {done:,} events")
        cpu, rss = process_cpu_rss(proc.pid)
        sample = Sample(time.monotonic(), done, cpu, rss)
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
        if done >= target:
            return samples, peak_rss_mb(proc.pid)
        if sample.at - began > timeout_s:
            raise DrainFailed(f"{done:,} of {target:,} events after {timeout_s:.0f} s")
        moved = [s for s in samples if s.done != done]
        if done and moved and sample.at - moved[-1].at > stall_s:
            raise DrainFailed(f"stalled at {done:,} of {target:,} events for {stall_s:.0f} s")
        await asyncio.sleep(interval_s)


@dataclass
class Drain:
    """One stage's drain, summarised per segment of equal event counts."""

    name: str
    samples: list[Sample]
    peak_rss_mb: float
    segments: int = 5

    def _active(self) -> list[Sample]:
        """From the last sample before output started to the end."""
        first = next((i for i, s in enumerate(self.samples) if s.done > 0), None)
        if first is None:
            return []
        return self.samples[max(first - 1, 0) :]

    def _cuts(self) -> list[tuple[Sample, Sample]]:
        active = self._active()
        if len(active) < 2:
            return []
        start, end = active[0], active[-1]
        step = (end.done - start.done) / self.segments
        edges = [start]
        for n in range(1, self.segments + 1):
            goal = start.done + step * n
            edges.append(next(s for s in active if s.done >= goal))
        return [(a, b) for a, b in itertools.pairwise(edges) if b.at > a.at]

    @property
    def events(self) -> int:
        active = self._active()
        return active[-1].done - active[0].done if active else 0

    @property
    def seconds(self) -> float:
        active = self._active()
        return active[-1].at - active[0].at if active else 0.0

    def rates(self) -> list[float]:
        return [(b.done - a.done) / (b.at - a.at) for a, b in self._cuts()]

    def cpu_per_1k(self) -> list[float]:
        return [(b.cpu_s - a.cpu_s) / (b.done - a.done) * 1000 for a, b in self._cuts()]

    def rss_by_progress(self, points: int = 10) -> list[tuple[float, float]]:
        """(share of the events through, resident MB) at every tenth of the drain."""
        active = self._active()
        if not active or not self.events:
            return []
        total, base = self.events, active[0].done
        curve = []
        for n in range(1, points + 1):
            goal = base + total * n / points
            at = next(s for s in active if s.done >= goal)
            curve.append((n / points, at.rss_mb))
        return curve

    def memory_growth_mb(self) -> float:
        """Resident MB gained from a fifth of the way through to the end (after warm-up)."""
        curve = self.rss_by_progress()
        if len(curve) < 2:
            return 0.0
        return curve[-1][1] - curve[1][1]

    def to_dict(self) -> dict[str, Any]:
        rates, cpu = self.rates(), self.cpu_per_1k()
        return {
            "name": self.name,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": spread(rates),
            "events_per_s_overall": self.events / self.seconds if self.seconds else 0.0,
            "cpu_s_per_1k_events": spread(cpu),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_mb_by_progress": [[share, round(mb, 1)] for share, mb in self.rss_by_progress()],
            "memory_growth_mb_after_warmup": round(self.memory_growth_mb(), 1),
            "segments": len(rates),
        }
