"""A run's trace as a waterfall: the spans FlowStone exports over OTLP, rendered to HTML.

No trace viewer is needed: the script runs a small pipeline with tracing on, exports its
spans over real OTLP/HTTP (protobuf) to a receiver it starts on a local port, decodes the
``ExportTraceServiceRequest`` bodies with ``opentelemetry-proto`` and writes one
self-contained HTML page: one row per span, indented under its parent, a bar from its start
to its end on the run's time axis, its key attributes, and its events (a failed attempt's
exception, a supervisor restart) marked where they happened. With a collector, Jaeger or
Tempo show the same tree: the page draws what they would receive.

The pipeline (``sales``, daily partitions): ``orders`` -> ``enriched`` -> ``revenue``. The
values go through an I/O manager that takes a few milliseconds per load and store (a
warehouse round trip), so the loads and stores get spans of their own; ``enriched`` fails
its first attempt (a timed-out exchange-rate service) and is retried by its
``RetryPolicy``. With ``--crash``, ``revenue``'s first attempt loses its materializer
actor mid-run (killed, as a crash would) and the run's supervisor restarts it: the run span
gets a ``flowstone.restart`` event and the killed attempt ends ``cancelled``.

Run (from the repository root, in FlowStone's environment)::

    python examples/observability/trace_waterfall.py trace.html
    python examples/observability/trace_waterfall.py trace.html --crash --partition 2025-01-15
    python examples/observability/trace_waterfall.py trace.html --png trace.png   # Playwright

``--png`` screenshots the page with Playwright's Chromium (or the one ``--chromium``
names, e.g. ``/usr/bin/chromium``). ``render(spans)`` is usable on its own: it takes the
decoded spans (``Span``), e.g. from ``record_run`` or from your own receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import flowstone as fs

SERVICE = "sales-pipeline"
IO_SECONDS = {"load": 0.003, "store": 0.004}
"""A load and a store take this long: above FlowStone's threshold for an I/O span of its own."""

# -- the pipeline ---------------------------------------------------------------------------


class Warehouse(fs.io.MemoryIOManager):
    """Values in memory, but each load and store waits like a round trip to a warehouse."""

    inline = False  # it blocks: the engine calls it from its thread pool

    def store(self, context: fs.io.IOContext, value: Any) -> dict[str, Any]:
        time.sleep(IO_SECONDS["store"])
        super().store(context, value)
        return {"rows": len(value) if isinstance(value, list) else 1}

    def load(self, context: fs.io.IOContext) -> Any:
        time.sleep(IO_SECONDS["load"])
        return super().load(context)


def sales_pipeline() -> fs.Pipeline:
    """orders -> enriched -> revenue, daily; ``enriched`` fails its first attempt."""
    pipeline = fs.Pipeline("sales")
    days = fs.DailyPartitions(start="2025-01-01")

    @pipeline.asset(partitioned_by=days)
    def orders(context: Any) -> list[dict[str, Any]]:
        time.sleep(0.02)  # the shop's order API
        day = context.partition_key
        found = [{"id": f"{day}-{n}", "amount": 10.0 * n, "currency": "EUR"} for n in (1, 2, 3)]
        context.log.info("read %d orders", len(found))
        return found

    @pipeline.asset(
        depends_on=["orders"],
        partitioned_by=days,
        retry=fs.RetryPolicy(max_retries=2, delay=0.03, jitter=0.0, retry_on=(ConnectionError,)),
    )
    def enriched(context: Any, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        time.sleep(0.01)
        if context.attempt == 1:
            raise ConnectionError("exchange-rate service timed out")
        return [{**order, "usd": round(order["amount"] * 1.03, 2)} for order in orders]

    @pipeline.asset(depends_on=["enriched"], partitioned_by=days)
    async def revenue(context: Any, enriched: list[dict[str, Any]]) -> float:
        await asyncio.sleep(0.03)
        total = float(sum(order["usd"] for order in enriched))
        context.log.info("revenue %.2f USD", total)
        return total

    return pipeline


# -- spans as the receiver decodes them ---------------------------------------------------------


@dataclass(frozen=True)
class SpanEvent:
    name: str
    at_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Span:
    """One exported span, decoded from OTLP protobuf into plain values (ids in hex)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[SpanEvent] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    error: str | None = None
    service: str = ""


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return getattr(any_value, which) if which else None


def _attributes(item: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in item.attributes}


def decode(body: bytes) -> list[Span]:
    """The spans of one OTLP/HTTP ``ExportTraceServiceRequest`` body."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    found = []
    for resource in request.resource_spans:
        service = str(_attributes(resource.resource).get("service.name", ""))
        for scope in resource.scope_spans:
            for s in scope.spans:
                error = s.status.message or "error"
                found.append(
                    Span(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex() or None,
                        name=s.name,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        attributes=_attributes(s),
                        events=[
                            SpanEvent(e.name, e.time_unix_nano, _attributes(e)) for e in s.events
                        ],
                        links=[link.span_id.hex() for link in s.links],
                        error=error if s.status.code == Status.STATUS_CODE_ERROR else None,
                        service=service,
                    )
                )
    return found


@contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP endpoint on a free local port: (its URL, the trace bodies it got)."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/v1/traces":
                bodies.append(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Recorded:
    run: fs.RunResult
    traceparent: str
    spans: list[Span]


async def record_run(partition: str = "2025-01-15", *, crash: bool = False) -> Recorded:
    """Materialize ``revenue`` for ``partition`` with its upstream, tracing over OTLP/HTTP to
    a local receiver; return the run, its stored ``traceparent`` and the decoded spans."""
    with otlp_receiver() as (url, bodies), tempfile.TemporaryDirectory() as base:
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{url}/v1/traces")))
        rt = fs.AsyncRuntime(
            sales_pipeline(),
            storage="memory",
            base_dir=Path(base),
            io_managers={"fs": Warehouse()},
            telemetry=fs.Telemetry(provider),
        )
        try:
            if crash:
                _kill_first_revenue_attempt(rt)
            run = await rt.materialize_all("revenue", partition)
            record = await rt.storage.get_run(run.run_id)
        finally:
            await rt.close()
        provider.force_flush()  # sends what the batch processor holds, then returns
        provider.shutdown()
        spans = [span for body in bodies for span in decode(body)]
    assert record is not None
    return Recorded(run, record.metadata["trace_context"]["traceparent"], spans)


def _kill_first_revenue_attempt(rt: fs.AsyncRuntime) -> None:
    """Kill the actor running ``revenue``'s first attempt (engine internals: a crash)."""
    tasks: list[asyncio.Task[None]] = []

    async def kill(run_id: str) -> None:
        supervisor = rt.engine.tree.run_supervisor(run_id)
        for child in await supervisor.which_children() if supervisor else ():
            if str(child.id).startswith("revenue") and child.ref is not None:
                child.ref.kill()

    def on_event(event: Any) -> None:
        if event.kind == "materialization.started" and (event.asset, event.attempt) == (
            "revenue",
            1,
        ):
            tasks.append(asyncio.get_running_loop().create_task(kill(event.run_id)))

    rt.events.subscribe(on_event)


# -- the waterfall ------------------------------------------------------------------------------


def tree_order(spans: Sequence[Span]) -> list[tuple[Span, int]]:
    """(span, depth) depth-first, children by start time; the traces holding a run first."""
    by_id = {s.span_id: s for s in spans}
    children: dict[str | None, list[Span]] = {}
    for s in spans:
        parent = s.parent_id if s.parent_id in by_id else None
        children.setdefault(parent, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: (s.start_ns, s.end_ns))
    roots = sorted(children.get(None, []), key=lambda s: (s.name != "flowstone.run", s.start_ns))
    ordered: list[tuple[Span, int]] = []

    def visit(span: Span, depth: int) -> None:
        ordered.append((span, depth))
        for child in children.get(span.span_id, []):
            visit(child, depth + 1)

    for root in roots:
        visit(root, 0)
    return ordered


def _duration(ns: int) -> str:
    ms = ns / 1e6
    if ms < 1:
        return f"{ms:.2f} ms"
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _label(span: Span, names: dict[str, str], below: set[str]) -> tuple[str, str]:
    """(what the span is about, its status) for the row; ``below``: its children's names."""
    a = span.attributes
    status = str(a.get("flowstone.status", "error" if span.error else ""))
    if span.name == "flowstone.run":
        targets = ",".join(a.get("flowstone.targets", []))
        about = f"run {a.get('flowstone.run_id', '')} · {a.get('flowstone.run.kind', '')} {targets}"
        return about, status
    if span.name == "flowstone.lineage.commit":
        carried = ", ".join(names.get(link, link[:8]) for link in span.links)
        return f"{a.get('flowstone.commit.materializations', 0)} record(s): {carried}", status
    about = f"{a.get('flowstone.asset', '')} [{a.get('flowstone.partition', '')}]"
    if "flowstone.attempt" in a:
        about += f" attempt {a['flowstone.attempt']}"
    # flowstone.io.load_ms / store_ms: the attempt's time in loads and stores, shown when
    # they were too short for spans of their own (FLOWSTONE_OTEL_IO_SPAN_MIN_MS)
    folded = [
        f"{kind} {a[f'flowstone.io.{kind}_ms']:.1f} ms"
        for kind in ("load", "store")
        if f"flowstone.io.{kind}_ms" in a and f"flowstone.io.{kind}" not in below
    ]
    return about + (f" · I/O {', '.join(folded)}" if folded else ""), status


def _event_text(event: SpanEvent) -> str:
    a = event.attributes
    if event.name == "exception":
        message = a.get("exception.message", "")
        return f"exception {a.get('exception.type', '')}{f': {message}' if message else ''}"
    if event.name == "flowstone.restart":
        return f"restart of {a.get('flowstone.child', '?')} ({a.get('flowstone.reason', '')})"
    return event.name


def _event(event: SpanEvent, at: float) -> str:
    """An event's marker at ``at`` % of the axis, its text after it (before it, near the end)."""
    marker, text = "<i></i>", f"<b>{html.escape(_event_text(event))}</b>"
    right = at > 60
    return (
        f'<span class="event{" right" if right else ""}" style="left:{at:.3f}%" '
        f'title="{html.escape(json.dumps(event.attributes, default=str))}">'
        f"{text + marker if right else marker + text}</span>"
    )


def _tick_label(ns: int) -> str:
    ms = ns / 1e6
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def _ticks(total_ns: int) -> list[int]:
    """Nice tick positions (ns) for an axis of ``total_ns``: about eight of them."""
    step = 1_000  # 1 µs
    while total_ns / step > 8:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if total_ns / step <= 8:
                break
    return list(range(0, total_ns + 1, step))


def render(spans: Sequence[Span], title: str = "FlowStone run") -> str:
    """A self-contained HTML waterfall of ``spans`` (one row per span, in tree order)."""
    ordered = tree_order(spans)
    if not ordered:
        raise ValueError("no spans to render: was tracing on, and did the exporter flush?")
    t0 = min(s.start_ns for s in spans)
    total = max(max(s.end_ns for s in spans) - t0, 1)
    below: dict[str | None, set[str]] = {}
    for s in spans:
        below.setdefault(s.parent_id, set()).add(s.name)
    names = {
        s.span_id: f"{s.attributes.get('flowstone.asset')}#{s.attributes.get('flowstone.attempt')}"
        for s in spans
        if s.name == "flowstone.materialize"
    }

    def pct(ns: int) -> float:
        return 100.0 * (ns - t0) / total

    esc = html.escape
    rows = []
    first_trace = ordered[0][0].trace_id
    for span, depth in ordered:
        about, status = _label(span, names, below.get(span.span_id, set()))
        kind = span.name.removeprefix("flowstone.").split(".")[0]
        width = max(pct(span.end_ns) - pct(span.start_ns), 0.15)
        events = "".join(_event(e, pct(e.at_ns)) for e in span.events)
        # One line per row (a tooltip's line breaks as character references).
        tip = esc(json.dumps(span.attributes, indent=1, default=str)).replace("\n", "&#10;")
        other = " other" if span.trace_id != first_trace else ""
        rows.append(
            f'<div class="row {kind} {esc(status)}{other}"'
            f' data-span-id="{span.span_id}" data-parent-id="{span.parent_id or ""}"'
            f' data-trace-id="{span.trace_id}" data-depth="{depth}" data-name="{esc(span.name)}"'
            f' title="{tip}">'
            f'<div class="name" style="padding-left:{8 + 20 * depth}px">'
            f"<span class=n>{esc(span.name)}</span><span class=about>{esc(about)}</span>"
            f"{f'<span class=status>{esc(status)}</span>' if status else ''}</div>"
            f'<div class="lane"><span class="bar" style="left:{pct(span.start_ns):.3f}%;'
            f'width:{width:.3f}%"></span>{events}</div>'
            f'<div class="dur">{_duration(span.end_ns - span.start_ns)}</div></div>'
        )
    ticks = "".join(
        f'<span class="tick" style="left:{100.0 * t / total:.3f}%">{_tick_label(t)}</span>'
        for t in _ticks(total)
        if t / total < 0.93  # a label at the right edge would not fit
    )
    traces = sorted({s.trace_id for s in spans})
    exported = json.dumps([asdict(s) for s in spans], indent=1, default=str)
    head = (
        f"trace {first_trace} · {len(spans)} spans in {len(traces)} trace(s) · "
        f"{_duration(total)} · service {esc(spans[0].service or '?')} · received over "
        f"OTLP/HTTP and decoded from <code>ExportTraceServiceRequest</code>"
    )
    return _PAGE.format(
        title=esc(title),
        head=head,
        ticks=ticks,
        rows="\n".join(rows),
        exported=esc(exported),
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 13px/1.35 system-ui, "DejaVu Sans", sans-serif; margin: 20px; color: #1d2330;
  background: #fff; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
.sub {{ color: #5b6475; margin-bottom: 14px; }}
.wf {{ border: 1px solid #d9dde5; border-radius: 6px; overflow: hidden; }}
.row, .axis {{ display: grid; grid-template-columns: 600px 1fr 84px; align-items: center;
  min-height: 28px; border-top: 1px solid #eef0f4; }}
.axis {{ border-top: 0; background: #f5f6f9; font-weight: 600; color: #5b6475; }}
.row.other {{ background: #fafbfc; }}
.row.other .n {{ color: #5b6475; }}
.name {{ display: flex; gap: 6px; align-items: baseline; white-space: nowrap; }}
.n {{ font-weight: 600; flex: none; }}
.about {{ color: #3d4656; overflow: hidden; text-overflow: ellipsis; }}
.status {{ font-size: 11px; padding: 1px 6px; border-radius: 9px; background: #e4e8ef;
  flex: none; margin-right: 6px; }}
.succeeded .status {{ background: #d7f0de; color: #1b6b34; }}
.failed .status, .error .status {{ background: #fbdcdc; color: #9b1c1c; }}
.cancelled .status {{ background: #fbecd0; color: #8a5a00; }}
.lane {{ position: relative; height: 28px; border-left: 1px solid #d9dde5;
  border-right: 1px solid #d9dde5; }}
.axis .lane {{ height: 24px; }}
.axis .name {{ padding-left: 8px; }}
.tick {{ position: absolute; top: 4px; font-size: 11px; font-weight: 400;
  border-left: 1px solid #b9c0cc; padding-left: 3px; }}
.bar {{ position: absolute; top: 8px; height: 12px; border-radius: 3px; background: #5b7fd6;
  min-width: 2px; }}
.run .bar {{ background: #7a5bd6; }}
.materialize .bar {{ background: #2f9e5b; }}
.materialize.failed .bar {{ background: #d64545; }}
.materialize.cancelled .bar {{ background: #e0a030; }}
.io .bar {{ background: #4b8fd6; }}
.lineage .bar {{ background: #8c96a8; }}
.event {{ position: absolute; top: 3px; white-space: nowrap; font-size: 11px; }}
.event i {{ display: inline-block; width: 8px; height: 8px; margin: 0 3px 0 -5px;
  transform: rotate(45deg); background: #111; border: 1px solid #fff; vertical-align: -9px; }}
.event b {{ font-weight: 500; color: #7a1a1a; position: relative; top: -4px;
  background: rgba(255, 255, 255, .85); padding: 0 2px; }}
.event.right {{ transform: translateX(-100%); }}
.event.right i {{ margin: 0 -5px 0 3px; }}
.dur {{ text-align: right; padding-right: 10px; font-variant-numeric: tabular-nums; }}
.legend {{ margin-top: 10px; color: #5b6475; }}
.legend span {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin: 0 4px 0 12px; vertical-align: -1px; }}
details {{ margin-top: 14px; }}
pre {{ font-size: 11px; max-height: 480px; overflow: auto; background: #f5f6f9; padding: 8px; }}
</style></head><body>
<h1>{title}</h1>
<div class="sub">{head}</div>
<div class="wf">
<div class="axis"><div class="name">span</div><div class="lane">{ticks}</div>
<div class="dur">duration</div></div>
{rows}
</div>
<div class="legend">
<span style="background:#7a5bd6"></span>run <span style="background:#2f9e5b"></span>attempt
<span style="background:#d64545"></span>failed attempt
<span style="background:#e0a030"></span>cancelled attempt
<span style="background:#4b8fd6"></span>I/O load / store
<span style="background:#8c96a8"></span>lineage commit (its own trace, linked to the attempts)
&nbsp;&nbsp;◆ span event · hover a row for all its attributes
</div>
<details><summary>The exported spans, decoded</summary><pre>{exported}</pre></details>
</body></html>
"""


def screenshot(page: Path, png: Path, chromium: str | None, width: int = 1400) -> None:
    """Save a full-page PNG of ``page`` with Playwright (its Chromium, or ``chromium``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            tab = browser.new_page(viewport={"width": width, "height": 400})
            tab.goto(page.resolve().as_uri())
            tab.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("html", type=Path, help="where to write the waterfall page")
    parser.add_argument("--partition", default="2025-01-15", help="the day to materialize")
    parser.add_argument("--crash", action="store_true", help="kill revenue's first attempt")
    parser.add_argument("--png", type=Path, help="also screenshot the page here (Playwright)")
    parser.add_argument("--chromium", help="a Chromium binary for --png (e.g. /usr/bin/chromium)")
    args = parser.parse_args(argv)

    recorded = asyncio.run(record_run(args.partition, crash=args.crash))
    run = recorded.run
    title = f"Trace of run {run.run_id}: materialize_all revenue [{args.partition}], {run.status}"
    args.html.write_text(render(recorded.spans, title), encoding="utf-8")
    print(f"{len(recorded.spans)} spans, traceparent {recorded.traceparent} -> {args.html}")
    if args.png is not None:
        screenshot(args.html, args.png, args.chromium)
        print(f"screenshot -> {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
