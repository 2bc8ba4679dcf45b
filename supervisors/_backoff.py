"""``Backoff``: an opt-in delay before a child is restarted. Beyond OTP.

OTP restarts at once and lets the restart intensity be the only brake, which is right for
bugs (a crash loop escalates within seconds) but wrong for a child that crashes because
something outside is down: a database outage would exhaust every intensity up the tree in
seconds. A child spec may therefore carry a ``Backoff``: its restarts (and the retries of a
failed restart) are delayed exponentially, with jitter, and the delay resets once the child
has run for ``reset_after`` seconds. The restart still counts toward the supervisor's
intensity when it is attempted, after the delay. See docs/adr/0004-restart-backoff.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

from supervisors._exceptions import InvalidSpec


@final
@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay the restarts of one child: exponential growth, jitter, reset when stable.

    The ``n``-th consecutive restart (``n = 0, 1, ...``) waits
    ``min(max, initial * multiplier ** n)`` seconds of the runtime clock, plus up to
    ``jitter`` times that (uniformly drawn), so that children failing together do not come
    back together. ``n`` goes back to 0 when the child crashes after running at least
    ``reset_after`` seconds.

    Args:
        initial: the first delay, in seconds (0 restarts the first time at once).
        max: the largest delay before jitter.
        multiplier: growth factor between consecutive delays (at least 1).
        jitter: the random extra, as a fraction of the delay (0 for none).
        reset_after: seconds of uninterrupted running after which the child counts as
            healthy again.

    Raises:
        InvalidSpec: a value is negative, ``max < initial``, ``multiplier < 1`` or
            ``reset_after <= 0``.
    """

    initial: float = 0.1
    max: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.1
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        _check("initial", self.initial, "a number of seconds >= 0", lambda v: v >= 0)
        _check("max", self.max, f"a number >= initial ({self.initial!r})", self._above_initial)
        _check("multiplier", self.multiplier, "a number >= 1", lambda v: v >= 1)
        _check("jitter", self.jitter, "a fraction >= 0 (0.1 = up to +10%)", lambda v: v >= 0)
        _check("reset_after", self.reset_after, "a number of seconds > 0", lambda v: v > 0)

    def _above_initial(self, value: float) -> bool:
        return isinstance(self.initial, int | float) and value >= self.initial

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Return the delay before restart number ``attempt`` (0-based), jitter included.

        Args:
            attempt: how many restarts of this child came before without a reset.
            rand: a source of floats in [0, 1); pass a seeded one for reproducible delays.
        """
        try:
            base = self.initial * self.multiplier**attempt
        except OverflowError:
            base = math.inf
        base = min(self.max, base)
        return base + base * self.jitter * rand() if self.jitter else base


def _check(field: str, value: Any, allowed: str, ok: Callable[[float], bool]) -> None:
    # NaN fails every comparison, so it is refused too.
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise InvalidSpec("invalid Backoff", field, value, allowed)
