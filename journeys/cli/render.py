"""Terminal rendering of journeys, summaries and lists (rich): colour on a TTY, plain text elsewhere.

The layout follows the original design's "Example CLI Output". Every function takes a rich `Console`;
`console_for()` builds one over a Django `OutputWrapper` (or any text stream) that emits ANSI codes only
when the stream is a terminal.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any, Final

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from journeys.cli.analysis import journey_bottleneck, summary_bottlenecks
from journeys.cli.thresholds import THRESHOLDS, grade
from journeys.stages import (
    LATENCY_LABELS,
    SIMPLE_LATENCIES,
    STAGE_LABELS,
    STAGE_ORDER,
    latency_kind,
)

# Columns when the output is not a terminal (files, pipes, tests): there is no screen to fit, and tables are as
# wide as their content, so this only keeps long correlation ids and lines from being cut.
PLAIN_WIDTH: Final = 200
BAR_WIDTH: Final = 20
RULE_WIDE: Final = "━" * 48
RULE_SECTION: Final = "━" * 32

GRADE_STYLES: Final[dict[str, str]] = {"acceptable": "green", "warning": "yellow", "critical": "bold red"}
STATUS_STYLES: Final[dict[str, str]] = {"completed": "green", "active": "yellow", "abandoned": "red"}
# Steps the design's table does not grade, coloured by whose time they are.
_EXTERNAL_STYLE, _PLATFORM_STYLE, _INTERNAL_STYLE = "magenta", "blue", "cyan"
_KIND_STYLES = {"external": _EXTERNAL_STYLE, "platform": _PLATFORM_STYLE}  # our code and totals: internal
CHANNEL_NAMES: Final[dict[str, str]] = {"telegram": "Telegram", "whatsapp": "WhatsApp", "discord": "Discord"}

SECTIONS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Inbound Flow", ("T0", "T1", "T2", "T3", "T4", "T5")),
    ("Agent Processing", ("T7",)),
    ("Outbound Flow", ("T8", "T9", "T10", "T11", "T12")),  # T12 only when recorded
)
# Which stages a derived figure needs, to say why it is missing.
_NEEDS: Final[dict[str, str]] = {
    "totalInbound": "T0 and T5",
    "agentRoundTrip": "T5 and T7",
    "totalOutbound": "T7 and T11",
    "totalRoundTrip": "T0 and T11",
    "omniProcessing": "T0 and T5",
    "internalProcessing": "T1 and T5",
}
# The summary's row order: the stages in journey order, then the totals.
SUMMARY_ORDER: Final[tuple[str, ...]] = (
    "channelProcessing",
    "eventPublish",
    "natsDelivery",
    "dbWrite",
    "agentNotification",
    "agentRoundTrip",
    "apiProcessing",
    "outboundEventPublish",
    "outboundNatsDelivery",
    "platformSend",
    "deliveryReceipt",
    "totalInbound",
    "totalOutbound",
    "totalRoundTrip",
    "omniProcessing",
    "internalProcessing",
)
_TRAILING_SPACES: Final = re.compile(r" +\n")
_STEP_KEYS: Final[dict[tuple[str, str], str]] = {
    (start, end): key
    for key, (end, start) in SIMPLE_LATENCIES.items()
    if STAGE_ORDER.index(end) - STAGE_ORDER.index(start) == 1
}


# --- console and numbers ----------------------------------------------------------------------------


class _Stream:
    """Lets rich write through a Django OutputWrapper without it adding a newline to every chunk.

    Off a terminal, the spaces rich pads table cells with are dropped at line ends (pipes, files, READMEs).
    """

    def __init__(self, out: Any) -> None:
        self._out = out
        self._plain = not self.isatty()

    def write(self, text: str) -> int:
        if self._plain:
            text = _TRAILING_SPACES.sub("\n", text)
        try:
            self._out.write(text, ending="")
        except TypeError:  # a plain text stream
            self._out.write(text)
        return len(text)

    def flush(self) -> None:
        if hasattr(self._out, "flush"):
            self._out.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._out, "isatty", lambda: False)())


def console_for(out: IO[str] | Any, *, color: bool | None = None) -> Console:
    """A Console over `out`: colours and the terminal's width on a TTY; plain text otherwise.

    `color` True forces styles (Django's --force-color); False gives plain text on a TTY too (--no-color).
    """
    tty = bool(getattr(out, "isatty", lambda: False)())
    return Console(
        file=_Stream(out),
        force_terminal=color if color is not None else tty,
        width=None if tty else PLAIN_WIDTH,
        highlight=False,
        emoji=False,
        markup=False,
    )


def fmt_ms(value: float | None, *, sign: bool = False, unit: bool = True) -> str:
    """Milliseconds for people: 3 decimals below 10 ms (loopback steps are sub-ms), 1 below 100, else whole.

    None gives "—"; `sign` puts "+" before non-negative values (a step since the previous checkpoint).
    """
    if value is None:
        return "—"
    size = abs(value)
    digits = f"{size:.3f}" if size < 10 else f"{size:.1f}" if size < 100 else f"{size:.0f}"
    prefix = "-" if value < 0 else "+" if sign else ""
    return f"{prefix}{digits}{'ms' if unit else ''}"


def fmt_share(share: float | None) -> str:
    if share is None:
        return "—"
    return "<1%" if 0 < share < 0.005 else f"{share * 100:.0f}%"


def fmt_local(epoch_ms: float | None, *, zone: bool = True) -> str:
    """An epoch-ms time in the local time zone, to the millisecond (with the zone's name, by default)."""
    if epoch_ms is None:
        return "—"
    moment = datetime.fromtimestamp(epoch_ms / 1000).astimezone()
    text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return f"{text} {moment.strftime('%Z')}" if zone else text


def fmt_precision(precision_ms: float | None) -> str:
    if precision_ms is None:
        return "unknown precision"
    if precision_ms >= 1000 and precision_ms % 1000 == 0:
        return f"{precision_ms / 1000:.0f} s precision"
    return f"{precision_ms:g} ms precision"


def style_for(latency_key: str | None, value: float | None) -> str:
    """The colour of a value: its grade for the design's thresholds, else whose time it is."""
    if value is not None and value < 0:
        return "red"
    graded = grade(latency_key, value) if latency_key else None
    if graded is not None:
        return GRADE_STYLES[graded]
    return _KIND_STYLES.get(latency_kind(latency_key) if latency_key else "", _INTERNAL_STYLE)


def _graded(latency_key: str, value: float | None) -> str:
    graded = grade(latency_key, value)
    return f"; {graded}" if graded else ""


def _channel(journey: dict[str, Any]) -> str:
    channel = journey.get("channelType")
    return CHANNEL_NAMES.get(channel, channel) if channel else "unknown channel"


# --- journey show -----------------------------------------------------------------------------------


def print_journey(console: Console, journey: dict[str, Any]) -> None:
    """The timeline of one journey (GET /api/v2/journeys/{id}), as in the design's example output."""
    times = {c["stage"]: c["timestamp"] for c in journey.get("checkpoints", [])}
    t0 = next((c for c in journey.get("checkpoints", []) if c["stage"] == "T0"), None)
    precision = t0.get("precisionMs") if t0 else None
    latencies: dict[str, float] = journey.get("latencies", {})
    recorded = [stage for stage in STAGE_ORDER if stage in times]
    steps: dict[str, tuple[float, str | None]] = {}  # stage -> (ms since the previous recorded stage, its key)
    for previous, stage in itertools.pairwise(recorded):
        steps[stage] = (times[stage] - times[previous], _STEP_KEYS.get((previous, stage)))
    longest = max((ms for ms, _key in steps.values() if ms > 0), default=0.0)

    console.print(Text(f"Message Journey: {journey['correlationId']}", style="bold"))
    console.print(RULE_WIDE)
    _print_context(console, journey)

    section_totals = {
        "Inbound Flow": ("Total Inbound", "totalInbound", ""),
        "Agent Processing": ("Agent Time", "agentRoundTrip", "T5→T7, external"),
        "Outbound Flow": ("Total Outbound", "totalOutbound", ""),
    }
    for title, stages in SECTIONS:
        console.print()
        console.print(Text(f"{title}:", style="bold"))
        for stage in stages:
            if stage == "T12" and stage not in times:
                continue
            console.print(_stage_row(journey, stage, times, recorded, steps, longest, precision))
        console.print("  " + RULE_SECTION)
        label, key, note = section_totals[title]
        console.print(_total_line(label, key, latencies.get(key), note))

    console.print()
    console.print(RULE_WIDE)
    for label, key, note in (
        ("Total Round-Trip", "totalRoundTrip", ""),
        ("Omni Processing", "omniProcessing", "excl. agent"),
        ("Internal Processing", "internalProcessing", "our code"),
    ):
        console.print(_total_line(label, key, latencies.get(key), note, width=20))
    console.print()
    console.print(_bottleneck_line(latencies), soft_wrap=True)
    console.print(_platform_legs_line(journey, latencies, times, precision), soft_wrap=True)


def _print_context(console: Console, journey: dict[str, Any]) -> None:
    where = [_channel(journey)]
    if journey.get("instanceId"):
        where.append(f"instance {journey['instanceId']}")
    if journey.get("chatId"):
        where.append(f"chat {journey['chatId']}")
    where.append(f"started {fmt_local(journey.get('startedAt'))}")
    console.print("  " + " · ".join(where), soft_wrap=True)
    status = journey.get("status", "?")
    line = Text("  Status: ")
    line.append(status, style=STATUS_STYLES.get(status, ""))
    line.append(f" · path: {journey.get('path', '?')}")
    if journey.get("abandonReason"):
        line.append(f" · abandoned: {journey['abandonReason']}", style="red")
    if journey.get("completedAt") is not None and status == "completed":
        line.append(f" · completed {fmt_local(journey['completedAt'])}")
    extra = journey.get("extraReplies") or 0
    if extra:
        line.append(f" · {extra} extra repl{'y' if extra == 1 else 'ies'} (not part of this journey)")
    console.print(line, soft_wrap=True)


_LABEL_WIDTH = max(len(label) for label in STAGE_LABELS.values()) + 2
_STEP_WIDTH = 11


def _stage_row(
    journey: dict[str, Any],
    stage: str,
    times: dict[str, float],
    recorded: list[str],
    steps: dict[str, tuple[float, str | None]],
    longest: float,
    precision: float | None,
) -> Text:
    label = STAGE_LABELS[stage].ljust(_LABEL_WIDTH) + stage.ljust(4)
    row = Text("  ")
    if stage not in times:
        mark, why = _missing(journey, stage, recorded)
        row.append(mark, style="red" if mark == "✗" else "dim")
        row.append(" " + label, style="dim")
        row.append(why.rjust(_STEP_WIDTH), style="red" if mark == "✗" else "dim")
        return row
    row.append("✓", style="green")
    row.append(" " + label)
    if stage not in steps:  # the first checkpoint: the journey's origin
        row.append("0ms".rjust(_STEP_WIDTH))
        return row
    ms, key = steps[stage]
    style = style_for(key, ms)
    row.append(fmt_ms(ms, sign=True).rjust(_STEP_WIDTH), style=style)
    row.append("  ")
    if ms < 0:
        cause = f"T0 has {fmt_precision(precision)}, or clock skew" if key == "channelProcessing" else "clock skew"
        row.append(f"before the previous checkpoint ({cause})", style="red")
        return row
    filled = max(1, round(BAR_WIDTH * ms / longest)) if ms > 0 and longest > 0 else 0
    row.append("█" * filled, style=style)
    row.append("░" * (BAR_WIDTH - filled), style="dim")
    return row


def _missing(journey: dict[str, Any], stage: str, recorded: list[str]) -> tuple[str, str]:
    """The mark and the word for a stage without a checkpoint."""
    position = STAGE_ORDER.index(stage)
    later = any(STAGE_ORDER.index(other) > position for other in recorded)
    if journey.get("path") == "no-agent" and position >= STAGE_ORDER.index("T5") and not later:
        return "·", "no agent"
    if later:
        return "✗", "no T0" if stage == "T0" else "missing"
    if journey.get("status") == "active":
        return "·", "pending"
    return "✗", "not reached"


def _total_line(label: str, key: str, value: float | None, note: str, *, width: int = 0) -> Text:
    """`  Label: value (note; grade)`, the label padded to `width` so that a block of totals aligns."""
    line = Text(f"  {(label + ':').ljust(width)} ")
    if value is None:
        line.append("—", style="dim")
        line.append(f" (needs {_NEEDS.get(key, 'more checkpoints')})", style="dim")
        return line
    line.append(fmt_ms(value), style=style_for(key, value))
    detail = note + _graded(key, value)
    if detail:
        line.append(f" ({detail.removeprefix('; ')})")
    return line


def _bottleneck_line(latencies: dict[str, float]) -> Text:
    found = journey_bottleneck(latencies)
    line = Text("  Bottleneck: ", style="bold")
    if found is None:
        line.append("— (no internal stage measured yet)", style="dim")
        return line
    line.append(LATENCY_LABELS[found.latency_key], style="bold")
    line.append(" took ")
    line.append(fmt_ms(found.value_ms), style=style_for(found.latency_key, found.value_ms))
    if found.share is not None:
        line.append(f" — {fmt_share(found.share)} of {found.of}")
    return line


def _platform_legs_line(
    journey: dict[str, Any], latencies: dict[str, float], times: dict[str, float], precision: float | None
) -> Text:
    line = Text("  Platform legs (outside our process): ")
    channel = latencies.get("channelProcessing")
    line.append("channel processing ")
    if channel is None:
        line.append("— (no T0: the platform gave no timestamp)" if "T0" not in times else "— (no T1)", style="dim")
    else:
        line.append(fmt_ms(channel), style=style_for("channelProcessing", channel))
        line.append(f" (T0 has {fmt_precision(precision)} on {_channel(journey)})")
    line.append(", platform send ")
    send = latencies.get("platformSend")
    if send is None:
        line.append("—", style="dim")
    else:
        line.append(fmt_ms(send), style=style_for("platformSend", send))
    receipt = latencies.get("deliveryReceipt")
    if receipt is not None:
        line.append(", delivery receipt ")
        line.append(fmt_ms(receipt), style=style_for("deliveryReceipt", receipt))
    return line


# --- journey summary --------------------------------------------------------------------------------


def print_summary(console: Console, summary: dict[str, Any], *, window: str, filters: Iterable[str] = ()) -> None:
    """Counts, a table of every latency key and the top 3 internal bottlenecks (ranked by average)."""
    console.print(Text(f"Journey Summary: {window}", style="bold"), soft_wrap=True)
    console.print(RULE_WIDE)
    counts = Text("  Journeys: ")
    counts.append(f"{summary['totalTracked']} tracked", style="bold")
    counts.append(" · ")
    counts.append(f"{summary['completedJourneys']} completed", style=STATUS_STYLES["completed"])
    counts.append(" · ")
    counts.append(f"{summary['activeJourneys']} active", style=STATUS_STYLES["active"])
    counts.append(" · ")
    counts.append(f"{summary['abandonedJourneys']} abandoned", style=STATUS_STYLES["abandoned"])
    console.print(counts)
    filters = list(filters)
    if filters:
        console.print("  Filters: " + " · ".join(filters), soft_wrap=True)
    if summary["totalTracked"] == 0:
        console.print()
        console.print(
            "  No journeys match: send a message through a channel (or run `make demo`), or widen --since, "
            "--channel or --instance. Journeys live in the server's memory for JOURNEY_TTL_MS.",
            soft_wrap=True,
        )
        return

    stages: dict[str, dict[str, Any]] = summary["stages"]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1))
    table.add_column("  Latency (ms)", no_wrap=True)
    for name in ("n", "avg", "p50", "p95", "p99", "max", "neg"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("p95 target", no_wrap=True)
    for key in SUMMARY_ORDER:
        stats = stages.get(key, {})
        graded = grade(key, stats.get("p95"))
        style = GRADE_STYLES.get(graded or "", "")
        table.add_row(
            "  " + LATENCY_LABELS[key],
            str(stats.get("count", 0)),
            fmt_ms(stats.get("avg"), unit=False),
            fmt_ms(stats.get("p50"), unit=False),
            Text(fmt_ms(stats.get("p95"), unit=False), style=style),
            fmt_ms(stats.get("p99"), unit=False),
            fmt_ms(stats.get("max"), unit=False),
            Text(str(stats.get("negative", 0)), style="red" if stats.get("negative") else ""),
            Text(_target(key, graded), style=style),
            end_section=key == "deliveryReceipt",
        )
    console.print()
    console.print(table)
    if any(stats.get("negative") for stats in stages.values()):
        console.print(
            "  neg: values below zero (T0 after T1: T0's precision or clock skew), left out of the statistics.",
            style="dim",
            soft_wrap=True,
        )

    console.print(Text("  Top internal bottlenecks (by average):", style="bold"))
    ranked = summary_bottlenecks(stages, top=3, stat="avg")
    if not ranked:
        console.print("    — (no internal stage measured yet)", style="dim")
    for n, found in enumerate(ranked, start=1):
        line = Text(f"    {n}. {LATENCY_LABELS[found.latency_key]}: avg ")
        line.append(fmt_ms(found.value_ms), style=style_for(found.latency_key, found.value_ms))
        line.append(f", p95 {fmt_ms(stages[found.latency_key].get('p95'))}")
        line.append(f" — {fmt_share(found.share)} of the internal stages' summed averages")
        console.print(line, soft_wrap=True)
    legs = Text("  Platform legs (outside our process, by average): ")
    legs.append(f"channel processing {fmt_ms(stages.get('channelProcessing', {}).get('avg'))}")
    legs.append(" (includes T0's precision: 1 s on Telegram and WhatsApp, 1 ms on Discord)")
    legs.append(f", platform send {fmt_ms(stages.get('platformSend', {}).get('avg'))}")
    console.print(legs, soft_wrap=True)


def _target(key: str, graded: str | None) -> str:
    threshold = THRESHOLDS.get(key)
    if threshold is None or graded is None:
        return ""
    if graded == "acceptable":
        return f"acceptable (<{fmt_ms(threshold.acceptable_ms)})"
    if graded == "warning":
        return f"warning (≥{fmt_ms(threshold.acceptable_ms)})"
    return f"critical (≥{fmt_ms(threshold.critical_ms)})"


# --- journey list -----------------------------------------------------------------------------------


def print_journey_list(console: Console, answer: dict[str, Any], *, slowest: str | None) -> None:
    """A table of journeys (GET /api/v2/journeys): id, channel, status, path, start, round-trip, omni."""
    results: list[dict[str, Any]] = answer.get("results", [])
    order = f"slowest first by {slowest}" if slowest else "newest first"
    console.print(Text(f"Journeys: {answer.get('count', len(results))} shown, {order}", style="bold"))
    if not results:
        console.print(
            "  No journeys match: send a message through a channel (or run `make demo`), or drop a filter. "
            "Journeys live in the server's memory for JOURNEY_TTL_MS.",
            soft_wrap=True,
        )
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1))
    # On a narrow terminal the id folds onto a second line rather than losing characters to an ellipsis.
    table.add_column("  Correlation id", overflow="fold")
    table.add_column("Channel", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Path", no_wrap=True)
    table.add_column(f"Started ({datetime.now().astimezone().strftime('%Z')})", no_wrap=True)
    keys = ["totalRoundTrip", "omniProcessing"]
    headers = {"totalRoundTrip": "Round-trip", "omniProcessing": "Omni"}
    if slowest and slowest not in keys:
        keys.append(slowest)
    for key in keys:
        table.add_column(headers.get(key, key), justify="right", no_wrap=True)
    for journey in results:
        latencies = journey.get("latencies", {})
        status = journey.get("status", "?")
        table.add_row(
            "  " + str(journey.get("correlationId")),
            journey.get("channelType") or "—",
            Text(status, style=STATUS_STYLES.get(status, "")),
            journey.get("path") or "—",
            fmt_local(journey.get("startedAt"), zone=False),
            *(Text(fmt_ms(latencies.get(key)), style=style_for(key, latencies.get(key))) for key in keys),
        )
    console.print(table)
