"""The statistics a pass rate needs to be an answer: a 95% interval for one rate
(Wilson's score interval, which behaves at 0, 1 and small n), and an exact paired test
for two configurations on the same tasks (McNemar's, on the tasks where they disagree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Rate:
    passed: int
    n: int

    @property
    def value(self) -> float:
        return self.passed / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.passed, self.n)

    def to_dict(self) -> dict[str, float | int]:
        low, high = self.interval
        rounded = {"low": round(low, 4), "high": round(high, 4)}
        return {"passed": self.passed, "n": self.n, "rate": self.value, **rounded}

    def __str__(self) -> str:
        low, high = self.interval
        return f"{self.value:.3f} [{low:.2f}, {high:.2f}] n={self.n}"


def wilson(passed: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The 95% Wilson score interval of ``passed`` successes in ``n`` trials."""
    if n == 0:
        return 0.0, 1.0
    p = passed / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Paired:
    """Two configurations on the same tasks."""

    only_first: int
    """Tasks the first passes and the second fails."""
    only_second: int
    both: int
    neither: int
    p_value: float
    """Exact two-sided McNemar test: the chance of a split at least this lopsided among
    the disagreeing tasks if neither configuration were better."""

    @property
    def verdict(self) -> str:
        if self.only_first == self.only_second:
            return "no difference"
        better = "first" if self.only_first > self.only_second else "second"
        return f"{better} better" if self.p_value < 0.05 else f"{better} ahead, not significant"


def mcnemar(first: Sequence[bool], second: Sequence[bool]) -> Paired:
    if len(first) != len(second):
        raise ValueError("a paired test needs both configurations on the same tasks")
    b = sum(x and not y for x, y in zip(first, second, strict=True))
    c = sum(y and not x for x, y in zip(first, second, strict=True))
    both = sum(x and y for x, y in zip(first, second, strict=True))
    n = b + c
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n if n else 1.0
    return Paired(
        only_first=b, only_second=c, both=both, neither=len(first) - b - c - both, p_value=min(1.0, 2 * tail)
    )


def sign_test(losses: int, wins: int) -> float:
    """Exact one-sided sign test on the discordant tasks: the chance of at least ``losses``
    of ``losses + wins`` going one way if both ways were equally likely."""
    n = losses + wins
    return sum(math.comb(n, i) for i in range(losses, n + 1)) / 2**n if n else 1.0


def bits(passed: Sequence[bool]) -> str:
    """Per-task verdicts as a compact string for a trial attribute ("1011...")."""
    return "".join("1" if p else "0" for p in passed)


def unbits(text: str) -> list[bool]:
    return [c == "1" for c in text]
