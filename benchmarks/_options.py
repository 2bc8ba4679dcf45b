"""Run options every family receives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """How big and how thorough a run is.

    Attributes:
        quick: smaller sizes and fewer repetitions (the actors family stays under 30 s).
        exhaustive: run the slow peers (Dagster) on every large case, not a representative one.
    """

    quick: bool = False
    exhaustive: bool = False

    def pick(self, quick: int, full: int) -> int:
        """``quick`` in quick mode, else ``full``."""
        return quick if self.quick else full
