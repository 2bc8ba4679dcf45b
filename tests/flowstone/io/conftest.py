"""Fixtures of the object-storage tests: the moto S3 server from ``tests/s3_server.py``."""

from __future__ import annotations

import sys
from pathlib import Path

# ``tests`` is importable only when the repository root is on sys.path (``python -m pytest``
# or a ``pythonpath`` setting); make it so for plain ``pytest`` runs as well.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.s3_server import (  # noqa: E402
    s3_bucket,
    s3_endpoint,
    s3_enforced_credentials,
    s3_faulty_proxy,
    s3_server,
)

__all__ = (
    "s3_bucket",
    "s3_endpoint",
    "s3_enforced_credentials",
    "s3_faulty_proxy",
    "s3_server",
)
