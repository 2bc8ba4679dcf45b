"""The engine's checkpoint hook (``flowstone/engine/_gate.py``), re-exported for the wing:
``GateRequest`` (a run reached a gate), ``Proceed`` (pass with a value), ``Wait`` (wait for
an approval) and the ``GateKeeper`` protocol the ``ApprovalGateKeeper`` implements."""

from __future__ import annotations

from flowstone.engine._gate import GateKeeper as GateKeeper
from flowstone.engine._gate import GateRequest as GateRequest
from flowstone.engine._gate import Proceed as Proceed
from flowstone.engine._gate import Wait as Wait
