"""Checkpoint gates: human (or policy) decisions inside a run, durable and audited.

A gate (``@pipeline.checkpoint``) is a node: when a run reaches it, the gatekeeper records
an approval request and the run ends "waiting", holding nothing; a decision from any
process (``rt.approvals``, ``flowstone approvals``) or a deadline moves the approval to a
terminal state in one conditional update, appends an audit row the database refuses to
change, and resumes the run. See docs/approvals.md.

Module map:
    _decision.py      Approve, Modify, Reject: what auto_decide returns
    _approval.py      Approval: the public view of a stored approval
    _gatekeeper.py    ApprovalGateKeeper: what happens when a run reaches a gate
    _decider.py       Decider: decisions and deadline transitions, one conditional update each
    _timer.py         DeadlineTimer: the actor firing due deadlines each tick
    _notifier.py      Notifier, Notification, WebhookNotifier, and the background dispatcher
    _api.py           rt.approvals (AsyncApprovals / Approvals), BulkDecision
    _report.py        rt.audit.report: executions, lineage, approvals, content digests
    _report_format.py the report as Markdown or CSV (``flowstone audit``)
    _lineage_at.py    rt.lineage.at: the materialization current at an instant
    _grants.py        the PostgreSQL grants of an application role
    _clock.py         DrivenWallClock: wall time driven by the actors clock (for tests)
    _values.py        JSON views, digests, checking modified values against a type
    _wing.py          ApprovalsWing: the whole wing as one object a runtime holds
"""

from flowstone.approvals._api import Approvals as Approvals
from flowstone.approvals._api import AsyncApprovals as AsyncApprovals
from flowstone.approvals._api import BulkDecision as BulkDecision
from flowstone.approvals._approval import Approval as Approval
from flowstone.approvals._clock import DrivenWallClock as DrivenWallClock
from flowstone.approvals._decision import Approve as Approve
from flowstone.approvals._decision import Modify as Modify
from flowstone.approvals._decision import Reject as Reject
from flowstone.approvals._gatekeeper import ApprovalGateKeeper as ApprovalGateKeeper
from flowstone.approvals._grants import app_role_grants_sql as app_role_grants_sql
from flowstone.approvals._notifier import Notification as Notification
from flowstone.approvals._notifier import NotificationFailed as NotificationFailed
from flowstone.approvals._notifier import Notifier as Notifier
from flowstone.approvals._notifier import WebhookNotifier as WebhookNotifier
from flowstone.approvals._report import AsyncAudit as AsyncAudit
from flowstone.approvals._wing import ApprovalsWing as ApprovalsWing

__all__ = (
    "Approval",
    "ApprovalGateKeeper",
    "Approvals",
    "ApprovalsWing",
    "Approve",
    "AsyncApprovals",
    "AsyncAudit",
    "BulkDecision",
    "DrivenWallClock",
    "Modify",
    "Notification",
    "NotificationFailed",
    "Notifier",
    "Reject",
    "WebhookNotifier",
    "app_role_grants_sql",
)

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("flowstone.approvals._"):
        try:
            _obj.__module__ = "flowstone.approvals"
        except (AttributeError, TypeError):
            pass
