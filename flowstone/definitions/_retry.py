"""``RetryPolicy``: how often and how soon a failed asset attempt is retried."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass
from typing import Any, final

from flowstone.errors import DefinitionError

# Never retried, whatever retry_on says: they mean "stop", not "this attempt failed".
_NEVER_RETRIED = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


@final
@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed asset attempt with exponential backoff and jitter.

    ``max_retries=2`` means up to three attempts. The delay before retry ``n`` (``n`` = the
    1-based number of the attempt that failed) is ``delay * backoff ** (n - 1)``, capped at
    ``max_delay``, then multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` and
    capped again. Only exceptions that are instances of ``retry_on`` are retried; others
    fail the materialization at once. Cancellation and interpreter exit are never retried.

    Args:
        max_retries: retries after the first attempt (0 = never retry).
        delay: seconds before the first retry.
        backoff: factor applied to the delay after each retry (>= 1).
        max_delay: upper bound of any delay, in seconds.
        jitter: relative random spread of each delay, between 0 and 1.
        retry_on: exception classes (or one class) that are worth retrying.

    Raises:
        DefinitionError: when an argument is out of range or of the wrong type.
    """

    max_retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if isinstance(self.retry_on, type):
            object.__setattr__(self, "retry_on", (self.retry_on,))
        problems = _problems(self)
        if problems:
            raise DefinitionError(f"invalid RetryPolicy: {'; '.join(problems)}")

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Return True when the attempt numbered ``attempt`` (1-based), which failed with
        ``exc``, is to be followed by another one."""
        if isinstance(exc, _NEVER_RETRIED):
            return False
        return attempt <= self.max_retries and isinstance(exc, self.retry_on)

    def delay_for(self, attempt: int, rng: random.Random | None = None) -> float:
        """Return the seconds to wait after the failed attempt ``attempt`` (1-based)."""
        base = min(self.max_delay, _exponential(self.delay, self.backoff, attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return min(self.max_delay, max(0.0, base * (1.0 + spread)))


def _exponential(delay: float, backoff: float, exponent: int) -> float:
    if delay == 0.0:
        return 0.0
    try:
        return delay * backoff ** max(0, exponent)
    except OverflowError:
        # Past ~1e308 seconds the cap applies anyway.
        return math.inf


def _problems(policy: RetryPolicy) -> list[str]:
    problems = []
    if not _is_int(policy.max_retries) or policy.max_retries < 0:
        problems.append(f"max_retries must be an integer >= 0, got {policy.max_retries!r}")
    for name, low in (("delay", 0.0), ("backoff", 1.0), ("max_delay", 0.0)):
        value = getattr(policy, name)
        allow_inf = name == "max_delay"
        if not _is_number(value, allow_inf=allow_inf) or value < low:
            problems.append(f"{name} must be a number >= {low:g}, got {value!r}")
    if not _is_number(policy.jitter) or not 0.0 <= policy.jitter <= 1.0:
        problems.append(f"jitter must be a number between 0 and 1, got {policy.jitter!r}")
    if not problems and policy.max_delay < policy.delay:
        problems.append(f"max_delay ({policy.max_delay!r}) must be >= delay ({policy.delay!r})")
    if not _is_exception_tuple(policy.retry_on):
        problems.append(
            "retry_on must be an exception class or a tuple of them, "
            f"e.g. retry_on=(ConnectionError, TimeoutError), got {policy.retry_on!r}"
        )
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any, *, allow_inf: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) or (allow_inf and value == math.inf)


def _is_exception_tuple(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) > 0
        and all(isinstance(c, type) and issubclass(c, BaseException) for c in value)
    )
