"""``python -m benchmarks``: see ``benchmarks._cli``."""

from __future__ import annotations

from benchmarks._cli import main

raise SystemExit(main())
