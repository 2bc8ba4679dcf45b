"""@pipeline.checkpoint: a gate is an asset with a checkpoint spec, with its input's
partitions; bad options are refused at definition time, each with a fix."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel

import flowstone as fs
from flowstone.definitions._checkpoint import CheckpointSpec

DAYS = fs.DailyPartitions(start="2026-01-01")


def base() -> fs.Pipeline:
    p = fs.Pipeline("p")

    @p.asset(partitioned_by=DAYS)
    def draft(context: Any) -> int:
        return 1

    return p


class Summary(BaseModel):
    total: int


def test_a_checkpoint_is_an_asset_with_its_inputs_partitions_and_a_spec() -> None:
    p = base()

    @p.checkpoint(
        depends_on=["draft"],
        message="check it",
        timeout=3600,
        on_timeout="escalate",
        escalate_to=["leads", "heads"],
    )
    def gate(context: Any, draft: int) -> Summary:
        return Summary(total=draft)

    assert isinstance(gate, fs.AssetDefinition)
    assert gate.partitions is DAYS
    assert gate.checkpoint == CheckpointSpec(
        message="check it",
        timeout=dt.timedelta(hours=1),
        on_timeout="escalate",
        escalate_to=("leads", "heads"),
        value_type=Summary,
    )
    assert [gate.checkpoint.escalation_target(n) for n in (1, 2, 3)] == ["leads", "heads", "heads"]
    assert p.get("draft").checkpoint is None
    p.validate()


def test_value_type_may_be_given_and_partitions_overridden() -> None:
    p = base()
    static = fs.StaticPartitions(["a"])

    @p.checkpoint(
        depends_on=[fs.Dep("draft", mapping=fs.AllPartitionsMapping())],
        value_type=dict[str, int],
        partitioned_by=static,
    )
    def gate(context: Any, draft: Any) -> Any:
        return draft

    assert gate.checkpoint is not None
    assert gate.checkpoint.value_type == dict[str, int]
    assert gate.partitions is static


def test_every_problem_of_a_checkpoint_is_reported_at_once() -> None:
    p = base()
    with pytest.raises(fs.DefinitionError) as caught:

        @p.checkpoint(
            depends_on=["draft"],
            timeout=-5,
            on_timeout="escalate",
            condition="yes",
            max_escalations=-1,
            message=3,
        )
        def gate(context: Any, draft: int) -> int:
            return draft

    messages = [problem.message for problem in caught.value.problems]
    assert messages == [
        "on_timeout='escalate' needs someone to escalate to; add escalate_to='data-leads' "
        "(or a list of levels)",
        "max_escalations must be an integer >= 0, got -1",
        "message must be a string or a function (context, **inputs) -> str, got 3",
        "timeout must be positive, got -5 s; use None to wait forever",
        "condition must be a function (context, **inputs) -> bool, got 'yes'",
    ]
    assert caught.value.problems[0].asset == "gate"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"on_timeout": "ignore"},
            r"on_timeout must be one of 'escalate', 'approve', 'reject', 'extend', got 'ignore'",
        ),
        ({"timeout": "1h"}, r"timeout must be a datetime.timedelta \(or seconds\), got '1h'"),
        ({"escalate_to": [1]}, r"escalate_to must be a name or a list of names"),
        ({"auto_decide": 5}, r"auto_decide must be a function"),
        ({"value_type": 5}, r"value_type must be a type \(e.g. a pydantic model\), got 5"),
        ({"retry": 3}, r"@pipeline.checkpoint got unknown option\(s\) 'retry'"),
    ],
)
def test_bad_options_are_refused_with_what_was_expected(
    options: dict[str, Any], message: str
) -> None:
    p = base()
    with pytest.raises(fs.DefinitionError, match=message):
        p.checkpoint(depends_on=["draft"], **options)(lambda context, draft: draft)


def test_a_checkpoint_needs_an_input_defined_before_it() -> None:
    p = base()
    with pytest.raises(fs.DefinitionError, match=r"gates the value of its input"):
        p.checkpoint(depends_on=[])(lambda context: 1)
    with pytest.raises(
        fs.DefinitionError,
        match=r"'later' is not defined yet; define the checkpoint after it, or pass partitioned_by",
    ):
        p.checkpoint(depends_on=["later"])(lambda context, later: later)
