"""Fixtures of the record store tests."""

from __future__ import annotations

import sys
from pathlib import Path

# ``tests`` is importable only when the repository root is on sys.path (``python -m pytest``
# or a ``pythonpath`` setting); make it so for plain ``pytest`` runs as well.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
