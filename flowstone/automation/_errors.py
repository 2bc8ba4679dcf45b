"""Errors of the automation wing: the run errors are the runtime's own (``flowstone.errors``),
re-exported here so ``fs.automation.RunNotFound`` and ``fs.RunNotFound`` are one class."""

from __future__ import annotations

from flowstone.errors import RunNotFound, WaitTimeout

__all__ = ("RunNotFound", "WaitTimeout")
