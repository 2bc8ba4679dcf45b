"""I/O loads and stores: timed on the attempt span, a span of their own only when slow.

The I/O timer is ``flowstone.telemetry._spans.perf_counter_ns``; the tests replace it with a
clock that only the I/O manager moves, so "slow" is decided without sleeping.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

import flowstone as fs
from flowstone.telemetry import _spans
from tests.flowstone.telemetry.conftest import Observed, two_steps

MS = 1_000_000


class Clock:
    """A perf_counter_ns that moves only when told to."""

    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        return self.now


class TimedIO(fs.io.MemoryIOManager):
    """A memory I/O manager whose I/O of some assets "takes" a while on ``clock``, or fails;
    it also starts a span of its own in each call (as an instrumented client would)."""

    def __init__(
        self,
        observed: Observed,
        clock: Clock,
        slow: dict[tuple[str, str], int],
        fail: str = "",
    ) -> None:
        super().__init__()
        self.clock, self.slow, self.fail = clock, slow, fail
        self.tracer = observed.telemetry.tracer_provider.get_tracer("client")  # type: ignore[union-attr]

    def _io(self, operation: str, asset: str) -> None:
        with self.tracer.start_as_current_span(f"client.{operation}"):
            self.clock.now += self.slow.get((operation, asset), 0)
        if operation == self.fail:
            raise OSError(f"disk said no to {asset}")

    def store(self, context: fs.io.IOContext, value: Any) -> Any:
        self._io("store", context.asset)
        return super().store(context, value)

    def load(self, context: fs.io.IOContext) -> Any:
        self._io("load", context.asset)
        return super().load(context)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr(_spans, "perf_counter_ns", made)
    return made


def telemetry(observed: Observed, **kwargs: Any) -> fs.Telemetry:
    """The fixture's providers, with another I/O span threshold."""
    providers = observed.telemetry.tracer_provider, observed.telemetry.meter_provider
    return fs.Telemetry(*providers, **kwargs)


def attempts(observed: Observed) -> dict[str, ReadableSpan]:
    return {s.attributes["flowstone.asset"]: s for s in observed.spans("flowstone.materialize")}  # type: ignore[misc]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_fast_load_or_store_has_no_span_and_its_time_is_on_the_attempt(
    make_runtime: Any, observed: Observed, clock: Clock
) -> None:
    """Under the threshold (1 ms by default): no I/O span; the attempt span says how long
    its loads and stores took, in milliseconds."""
    io = TimedIO(observed, clock, {("load", "raw"): MS // 4, ("store", "clean"): MS // 2})
    rt = make_runtime(two_steps(), telemetry=observed.telemetry, io_managers={"fs": io})
    await rt.materialize_all("clean", "2025-01-02")

    assert observed.spans("flowstone.io.load") == observed.spans("flowstone.io.store") == []
    found = attempts(observed)
    assert found["raw"].attributes["flowstone.io.store_ms"] == 0.0  # type: ignore[index]
    assert "flowstone.io.load_ms" not in found["raw"].attributes  # type: ignore[operator]
    assert found["clean"].attributes["flowstone.io.load_ms"] == 0.25  # type: ignore[index]
    assert found["clean"].attributes["flowstone.io.store_ms"] == 0.5  # type: ignore[index]
    # The I/O manager's own spans are children of the attempt, in the same trace.
    [client_load] = observed.spans("client.load")
    assert parent_of(client_load) == found["clean"].context.span_id


async def test_a_slow_store_is_a_child_span_of_its_attempt_timed_as_it_ran(
    make_runtime: Any, observed: Observed, clock: Clock
) -> None:
    """At or over the threshold, the store gets its span, made afterwards with the measured
    duration, ending when the store returned, inside its attempt."""
    io = TimedIO(observed, clock, {("store", "raw"): 40 * MS})
    rt = make_runtime(
        two_steps(), telemetry=telemetry(observed, io_span_min_ms=40), io_managers={"fs": io}
    )
    result = await rt.materialize_all("clean", "2025-01-02")

    [store] = observed.spans("flowstone.io.store")
    found = attempts(observed)
    assert parent_of(store) == found["raw"].context.span_id
    assert store.context.trace_id == found["raw"].context.trace_id
    assert store.end_time - store.start_time == 40 * MS  # type: ignore[operator]
    assert found["raw"].start_time <= store.end_time <= found["raw"].end_time  # type: ignore[operator]
    assert dict(store.attributes or {}) == {
        "flowstone.asset": "raw",
        "flowstone.run_id": result.run_id,
        "flowstone.partition": "2025-01-02",
    }
    assert store.status.status_code is StatusCode.UNSET
    assert found["raw"].attributes["flowstone.io.store_ms"] == 40.0  # type: ignore[index]
    assert observed.spans("flowstone.io.load") == []  # clean's load was fast


async def test_a_failed_load_has_its_error_span_however_fast(
    make_runtime: Any, observed: Observed, clock: Clock
) -> None:
    """An I/O that raises always gets its span, with the error (the attempt fails)."""
    io = TimedIO(observed, clock, {}, fail="load")
    rt = make_runtime(two_steps(), telemetry=observed.telemetry, io_managers={"fs": io})
    with pytest.raises(fs.MissingUpstream, match="disk said no to raw"):
        await rt.materialize_all("clean", "2025-01-02")

    [load] = observed.spans("flowstone.io.load")
    assert parent_of(load) == attempts(observed)["clean"].context.span_id
    assert load.status.status_code is StatusCode.ERROR
    assert load.status.description == "OSError: disk said no to raw"
    assert [e.name for e in load.events] == ["exception"]


async def test_threshold_zero_gives_every_io_its_span_current_while_it_runs(
    make_runtime: Any, observed: Observed, clock: Clock
) -> None:
    """io_span_min_ms=0: a span per load and store, made current while the I/O runs, so
    the I/O manager's own spans are its children; the attempt still carries the times."""
    io = TimedIO(observed, clock, {("store", "clean"): MS})
    rt = make_runtime(
        two_steps(), telemetry=telemetry(observed, io_span_min_ms=0), io_managers={"fs": io}
    )
    await rt.materialize_all("clean", "2025-01-02")

    found = attempts(observed)
    stores = {s.attributes["flowstone.asset"]: s for s in observed.spans("flowstone.io.store")}  # type: ignore[misc]
    [load] = observed.spans("flowstone.io.load")
    assert {a: parent_of(s) for a, s in stores.items()} == {
        "raw": found["raw"].context.span_id,
        "clean": found["clean"].context.span_id,
    }
    assert parent_of(load) == found["clean"].context.span_id
    client_parents = {parent_of(s) for s in observed.spans("client.store")}
    assert client_parents == {s.context.span_id for s in stores.values()}
    [client_load] = observed.spans("client.load")
    assert parent_of(client_load) == load.context.span_id
    assert found["clean"].attributes["flowstone.io.store_ms"] == 1.0  # type: ignore[index]


async def test_a_load_outside_any_attempt_has_a_span_only_inside_a_span_of_the_caller(
    make_runtime: Any, observed: Observed
) -> None:
    """rt.load_value belongs to no attempt: inside the application's own span it gets a
    span of its own (there is no attempt to carry its time); outside any span, none."""
    rt = make_runtime(two_steps(), telemetry=observed.telemetry)
    await rt.materialize_all("raw", "2025-01-02")
    assert await rt.load_value("raw", "2025-01-02") == [1, 2, 3]
    assert observed.spans("flowstone.io.load") == []

    tracer = observed.telemetry.tracer_provider.get_tracer("app")  # type: ignore[union-attr]
    with tracer.start_as_current_span("app.report") as mine:
        assert await rt.load_value("raw", "2025-01-02") == [1, 2, 3]
    [load] = observed.spans("flowstone.io.load")
    assert parent_of(load) == mine.get_span_context().span_id
    assert load.attributes["flowstone.asset"] == "raw"  # type: ignore[index]
