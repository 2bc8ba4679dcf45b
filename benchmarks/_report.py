"""The results model shared by every family, its rich table and its JSON form.

A family produces a ``FamilyResult``: the systems it measured (columns), the ratios it wants
printed (peer / FlowStone), and one ``Row`` per metric. A value that could not be measured is
a ``Value`` with ``value=None`` and a reason, shown as "n/a (reason)"; nothing here raises
because a measurement is missing.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchmarks._stats import NS_PER_US, median, percentile

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Value:
    """One system's figure for one metric, or the reason it is missing."""

    value: float | None
    p99: float | None = None
    note: str = ""

    @classmethod
    def missing(cls, reason: str) -> Value:
        """A figure that could not be measured, with the reason shown in the table."""
        return cls(None, note=reason)

    @classmethod
    def latency(cls, samples_ns: list[int]) -> Value:
        """Median and p99 of nanosecond samples, in microseconds."""
        return cls(median(samples_ns) / NS_PER_US, p99=percentile(samples_ns, 99) / NS_PER_US)

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Ratio:
    """A ratio column: ``peer`` divided by ``subject`` (a FlowStone system)."""

    peer: str
    subject: str

    @property
    def label(self) -> str:
        return f"{self.peer} / {self.subject}"


@dataclass(frozen=True)
class Target:
    """A goal: ``system``'s value ``op`` ``threshold``, or, with ``ratio``, that ratio's."""

    system: str
    op: Literal["<=", ">="]
    threshold: float
    ratio: Ratio | None = None
    text: str = ""
    also: tuple[Ratio, ...] = ()
    """Further ratios that must meet the same threshold (every store pairing of a row)."""

    def met(self, row: Row) -> bool | None:
        """True or False when the figures exist, None when they do not."""
        if self.ratio is not None:
            figures = [row.ratio(ratio) for ratio in (self.ratio, *self.also)]
        else:
            measured = row.values.get(self.system)
            figures = [measured.value if measured is not None else None]
        if any(figure is None for figure in figures):
            return None
        compare = operator.le if self.op == "<=" else operator.ge
        return all(compare(figure, self.threshold) for figure in figures)


@dataclass
class Row:
    """One metric measured on every system of the family."""

    metric: str
    unit: str
    better: Better
    values: dict[str, Value]
    target: Target | None = None

    def ratio(self, ratio: Ratio) -> float | None:
        """``peer / subject`` when both were measured (and the subject is not zero)."""
        peer, subject = self.values.get(ratio.peer), self.values.get(ratio.subject)
        if peer is None or subject is None or peer.value is None or not subject.value:
            return None
        return peer.value / subject.value


@dataclass
class FamilyResult:
    """Everything one family measured, ready to print and to store."""

    name: str
    title: str
    systems: list[str]
    ratios: list[Ratio]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load_average: float = 0.0
    """The 1-minute load average when the family started (others' work skews figures)."""

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def to_json(self) -> dict[str, Any]:
        """A plain-data form for ``results/latest.json``."""
        return {
            "title": self.title,
            "systems": self.systems,
            "seconds": round(self.seconds, 2),
            "load_average_at_start": round(self.load_average, 2),
            "notes": self.notes,
            "rows": [_row_json(row, self.ratios) for row in self.rows],
        }


def _row_json(row: Row, ratios: list[Ratio]) -> dict[str, Any]:
    return {
        "metric": row.metric,
        "unit": row.unit,
        "better": row.better,
        "values": {
            name: {"value": v.value, "p99": v.p99, "note": v.note} for name, v in row.values.items()
        },
        "ratios": {r.label: row.ratio(r) for r in ratios},
        "target": row.target.text if row.target else None,
        "met": row.target.met(row) if row.target else None,
    }


# -- rendering --------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Three significant figures, thousands separated: 12.3, 4,560, 1.23e+06 never."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


class _Footnotes:
    """Long reasons go under the table once, numbered, instead of into every cell."""

    INLINE = 28

    def __init__(self) -> None:
        self.reasons: dict[str, int] = {}

    def mark(self, reason: str) -> str:
        if len(reason) <= self.INLINE:
            return f"({reason})"
        number = self.reasons.setdefault(reason, len(self.reasons) + 1)
        return f"[{number}]"


def _value_text(value: Value | None, footnotes: _Footnotes) -> Text:
    if value is None:
        return Text("–", style="dim")
    if value.value is None:
        return Text(f"n/a {footnotes.mark(value.note)}" if value.note else "n/a", style="yellow")
    text = format_number(value.value)
    if value.p99 is not None:
        text += f" (p99 {format_number(value.p99)})"
    if value.note:
        text += f" {footnotes.mark(value.note)}"
    return Text(text)


def _ratio_text(row: Row, ratio: Ratio) -> Text:
    figure = row.ratio(ratio)
    if figure is None:
        return Text("–", style="dim")
    flowstone_wins = figure > 1 if row.better == "lower" else figure < 1
    # Ratios below one read better as fractions: "1/260×" rather than "0.00385×".
    text = f"{format_number(figure)}×" if figure >= 1 else f"1/{format_number(1 / figure)}×"
    return Text(text, style="green" if flowstone_wins else "red")


def _met_text(row: Row) -> Text:
    if row.target is None:
        return Text("")
    met = row.target.met(row)
    if met is None:
        return Text("n/a", style="yellow")
    return Text("yes", style="bold green") if met else Text("no", style="bold red")


def render(result: FamilyResult, console: Console) -> None:
    """Print one family's table with its notes."""
    table = Table(
        title=f"{result.title}  ({result.seconds:.1f} s, load {result.load_average:.1f})",
        caption=(
            "ratio = peer ÷ FlowStone; green when FlowStone is better "
            "(ratio > 1 where lower is better, < 1 where higher is better)"
        ),
        title_justify="left",
        caption_justify="left",
        show_lines=False,
    )
    table.add_column("metric", overflow="fold")
    table.add_column("better", style="dim")
    for system in result.systems:
        table.add_column(system, justify="right", overflow="fold")
    for ratio in result.ratios:
        table.add_column(ratio.label, justify="right")
    table.add_column("target", overflow="fold")
    table.add_column("met", justify="center")
    footnotes = _Footnotes()
    for row in result.rows:
        cells: list[Text | str] = [Text(f"{row.metric} [{row.unit}]"), row.better]
        cells += [_value_text(row.values.get(system), footnotes) for system in result.systems]
        cells += [_ratio_text(row, ratio) for ratio in result.ratios]
        cells += [Text(row.target.text if row.target else ""), _met_text(row)]
        table.add_row(*cells)
    console.print(table)
    for reason, number in footnotes.reasons.items():
        console.print(f"  [{number}] {reason}", style="yellow", highlight=False, markup=False)
    for note in result.notes:
        console.print(f"  • {note}", style="dim", highlight=False, markup=False)
    console.print()


# -- markdown (docs/benchmarks.md is refreshed from results/latest.json) ----------------------


def _cell(value: dict[str, Any] | None, footnotes: _Footnotes) -> str:
    if not value:
        return "–"
    note = value.get("note") or ""
    if value.get("value") is None:
        return f"n/a {footnotes.mark(note)}" if note else "n/a"
    text = format_number(value["value"])
    if value.get("p99") is not None:
        text += f" (p99 {format_number(value['p99'])})"
    return f"{text} {footnotes.mark(note)}" if note else text


def _ratio_cell(figure: float | None) -> str:
    if figure is None:
        return "–"
    return f"{format_number(figure)}×" if figure >= 1 else f"1/{format_number(1 / figure)}×"


def markdown(name: str, family: dict[str, Any]) -> str:
    """One family of ``results/latest.json`` as a Markdown table."""
    rows = family.get("rows", [])
    ratio_labels = list(rows[0]["ratios"]) if rows else []
    header = ["metric", *family.get("systems", []), *ratio_labels, "target", "met"]
    lines = [
        f"### {name}",
        "",
        f"{family.get('title', name)}; measured {family.get('measured_at', '?')}"
        f"{' (quick)' if family.get('quick') else ''}, load average at start "
        f"{family.get('load_average_at_start', '?')}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    met_text = {True: "yes", False: "no", None: ""}
    footnotes = _Footnotes()
    for row in rows:
        cells = [f"{row['metric']} [{row['unit']}, {row['better']} is better]"]
        cells += [_cell(row["values"].get(s), footnotes) for s in family.get("systems", [])]
        cells += [_ratio_cell(row["ratios"].get(label)) for label in ratio_labels]
        met = met_text[row["met"]] if row["target"] and row["met"] is not None else ""
        cells += [row["target"] or "", met or ("n/a" if row["target"] else "")]
        lines.append("| " + " | ".join(cells) + " |")
    if footnotes.reasons:
        lines.append("")
        lines += [f"[{number}] {reason}  " for reason, number in footnotes.reasons.items()]
    return "\n".join(lines) + "\n"
