"""The baseline report: markdown beside an SVG chart, from journey summaries (CONTRACT §3, §5).

`write_report(data, output, chart)` is the whole contract: `data` is a `BaselineData` (summaries overall
and per channel, plus what was simulated and where it ran), the markdown goes to `output`, the chart to
`chart` (referenced from the markdown by its path relative to `output`). Nothing here talks to a server,
so the writer can be tested on a synthetic summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypedDict

from journeys.cli.analysis import Bottleneck, summary_bottlenecks
from journeys.cli.thresholds import THRESHOLDS, grade
from journeys.stages import INTERNAL_STAGES, LATENCY_KEYS, LATENCY_LABELS, PLATFORM_LEGS

CHANNELS: tuple[str, ...] = ("telegram", "whatsapp", "discord")
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "discord": "Discord"}
# T0's precision per platform (CONTRACT §2), when no journey tells.
DEFAULT_PRECISION_MS = {"telegram": 1000, "whatsapp": 1000, "discord": 1}
# Keys whose one end is T0, the platform's clock: on second-precision platforms they carry up to 1 s of
# truncation (T0 is the whole second the platform stamped, so these spans read long by 0-1000 ms).
T0_KEYS = ("channelProcessing", "totalInbound", "totalRoundTrip", "omniProcessing")


class Stats(TypedDict):
    count: int
    negative: int
    avg: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class Summary(TypedDict, total=False):
    totalTracked: int
    completedJourneys: int
    activeJourneys: int
    abandonedJourneys: int
    since: float | None
    stages: dict[str, Stats]


class BaselineData(TypedDict, total=False):
    generatedAt: str  # ISO 8601, UTC
    mode: Literal["driven", "live"]
    source: str  # the hub's URL
    window: str  # what the summaries cover, in words
    durationS: float | None  # driving, first message to the last journey's end
    environment: dict[str, Any]  # python, django, database, nats, cpuCores, platform, server
    simulation: dict[str, Any] | None  # Simulation.describe() plus messages, ratePerS, timedOut
    summary: Summary
    channels: dict[str, Summary]
    precisionMs: dict[str, int | None]
    command: str


def bottlenecks(summary: Summary, top: int = 3) -> list[Bottleneck]:
    """The `top` internal stages by average, slowest first, each with its share of the internal stages'
    summed averages (journeys.cli.analysis, the ranking `journey summary` prints)."""
    return summary_bottlenecks(dict(summary.get("stages", {})), top=top, stat="avg")


# --- formatting ------------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}"


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def _achieved(sim: dict[str, Any]) -> str:
    offered_for_s = sim.get("offeredForS")
    if not offered_for_s or sim.get("messages", 0) < 2:
        return ""
    return f" (achieved: {(sim['messages'] - 1) / offered_for_s:.1f}/s)"


def _bound(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def _grade_cell(latency_key: str, stats: Stats | None) -> str:
    p95 = stats["p95"] if stats else None
    verdict = grade(latency_key, p95)
    if verdict is None:
        return "no data"
    mark = {"acceptable": "✅", "warning": "⚠️", "critical": "❌"}[verdict]
    return f"{_ms(p95)} ms {mark} {verdict}"


def _precision(ms: int | None) -> str:
    if ms is None:
        return "unknown"
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def _stage_table(summary: Summary) -> list[str]:
    lines = [
        "| latency key | stage | n | negative | avg | p50 | p95 | p99 | min | max |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    stages = summary.get("stages", {})
    for key in LATENCY_KEYS:
        s = stages.get(key)
        if s is None:
            continue
        lines.append(
            f"| `{key}` | {LATENCY_LABELS[key]} | {s['count']} | {s['negative']} | {_ms(s['avg'])} | {_ms(s['p50'])} "
            f"| {_ms(s['p95'])} | {_ms(s['p99'])} | {_ms(s['min'])} | {_ms(s['max'])} |"
        )
    return lines


def _counts(summary: Summary) -> str:
    return (
        f"{summary.get('totalTracked', 0)} tracked, {summary.get('completedJourneys', 0)} completed, "
        f"{summary.get('activeJourneys', 0)} active, {summary.get('abandonedJourneys', 0)} abandoned"
    )


def _stat(summary: Summary | None, key: str, field: str) -> float | None:
    if not summary:
        return None
    stats = summary.get("stages", {}).get(key)
    return stats[field] if stats else None  # type: ignore[literal-required]


def render_markdown(data: BaselineData, chart_ref: str | None) -> str:
    """The report as markdown; `chart_ref` is the chart's path relative to the report (None: no chart)."""
    summary = data.get("summary", {})
    channels = data.get("channels", {})
    env = data.get("environment", {})
    sim = data.get("simulation")
    precision = {ch: data.get("precisionMs", {}).get(ch) or DEFAULT_PRECISION_MS[ch] for ch in CHANNELS}
    present = [ch for ch in CHANNELS if channels.get(ch, {}).get("totalTracked")]
    out: list[str] = ["# Journey baseline", ""]

    # Headline.
    top = bottlenecks(summary)
    if sim:
        lead = (
            f"{sim['messages']} messages driven through the running pipeline; summaries read over HTTP from the "
            f"hub this command started (`{data.get('source', '?')}`), {data.get('window', 'all time')}."
        )
    else:
        lead = f"A live server's journeys, read from `{data.get('source', '?')}`: {data.get('window', 'all time')}."
    out += [
        lead,
        "",
        f"- Journeys: {_counts(summary)}.",
        f"- Internal processing (our own code, T1→T5 + T7→T10): p50 {_ms(_stat(summary, 'internalProcessing', 'p50'))}"
        f" ms, p95 {_ms(_stat(summary, 'internalProcessing', 'p95'))} ms, "
        f"p99 {_ms(_stat(summary, 'internalProcessing', 'p99'))} ms.",
        f"- Total round-trip (T0→T11, agent included): p95 {_ms(_stat(summary, 'totalRoundTrip', 'p95'))} ms.",
    ]
    if top:
        out.append(
            f"- Slowest internal stage: {LATENCY_LABELS[top[0].latency_key]}, avg {_ms(top[0].value_ms)} ms, "
            f"{_share(top[0].share)} of internal processing."
        )
    out.append("")

    # When and where.
    out += ["## When and where", "", "| | |", "|---|---|"]
    out.append(f"| When (UTC) | {data.get('generatedAt', '?')} |")
    if data.get("durationS") is not None:
        out.append(f"| Duration | {data['durationS']:.1f} s (first message to the last journey's end) |")
    for label, field in (
        ("Python", "python"),
        ("Django", "django"),
        ("Database", "database"),
        ("NATS", "nats"),
        ("CPU cores", "cpuCores"),
        ("Machine load", "load"),
        ("Operating system", "platform"),
        ("Server", "server"),
    ):
        if env.get(field) not in (None, ""):
            out.append(f"| {label} | {env[field]} |")
    out.append("")

    # What was simulated, what was real.
    out += ["## What was simulated and what was real", ""]
    if sim:
        sent = sim.get("sent", {})
        per_channel = ", ".join(f"{CHANNEL_NAMES[ch]} {sent.get(ch, 0)}" for ch in CHANNELS)
        receipts = sim.get("receiptAfterMs")
        out += [
            "Simulated (on loopback, in the command's own process, apart from the hub's):",
            "",
            f"- **The platforms**: the sandboxes of `channels_plugins/<platform>/sandbox.py`, each answering its "
            f"send API (Telegram `sendMessage`, WhatsApp Cloud `/{{phone}}/messages`, Discord "
            f"`POST /channels/{{id}}/messages`) after **{sim.get('platformLatencyMs', 0):g} ms** of added latency. "
            "Telegram and WhatsApp deliver inbound messages by POSTing signed webhooks to the hub; Discord "
            "dispatches MESSAGE_CREATE over its Gateway WebSocket. "
            + (
                f"WhatsApp posts a `delivered` status {receipts:g} ms after each send (T12)."
                if receipts is not None
                else "No delivery receipts."
            ),
            f"- **The users**: {sim['messages']} text messages, round-robin ({per_channel}), "
            f"{sim.get('chatsPerPlatform', '?')} chats per platform, offered at a steady {sim.get('ratePerS', 0):g} "
            f"messages/s{_achieved(sim)} from a pool of senders (open loop: a slow answer does not slow the "
            "offered rate)."
            + (
                f" Before them, {sim['warmup']} warm-up messages, left out of every figure here (a fresh server's "
                "first requests, connections and queries)."
                if sim.get("warmup")
                else ""
            ),
            f"- **The agent**: a local HTTP server that acknowledges each notification at once and replies "
            f"through `POST /api/v2/messages/send` (with the `correlationId`) after a think time of "
            f"**{sim.get('thinkMs', 0):g} ms**; it is inside `agentRoundTrip` (T5→T7), which no target grades.",
            "",
            "Real: the hub, in a process of its own as in production (`manage.py serve`: Django's ASGI app under "
            "uvicorn, the runtime with its NATS consumers, the plugins and their HTTP clients, the Discord Gateway "
            "client, the in-memory tracker), NATS JetStream (a real nats-server, file storage), the database "
            "named above, and HTTP and WebSocket over loopback.",
            "",
        ]
        replies = sim.get("agentReplies") or {}
        if replies:
            listed = ", ".join(
                f"HTTP {status}: {count}" if status.isdigit() else f"{status}: {count}"
                for status, count in sorted(replies.items())
            )
            out += [f"The agent's replies, by the send API's answer: {listed}.", ""]
        rejected = sum(sim.get("rejected", {}).values())
        if rejected or sim.get("timedOut"):
            out.append(
                f"Not everything ended: {rejected} webhook(s) refused"
                + (", and the bounded wait ran out before every journey ended" if sim.get("timedOut") else "")
                + "; the counts above say what the summary holds."
            )
            out.append("")
    else:
        out += [
            "Nothing was simulated by this report: it reads a live server's journeys (real platforms, real "
            "agents, or whatever that server is wired to). Platform legs and agent time are whatever those "
            "peers took.",
            "",
        ]

    # Thresholds.
    out += [
        "## Thresholds (original design), graded on p95",
        "",
        "Grades (journeys.cli.thresholds, as `journey show` colours them): ✅ acceptable below the acceptable "
        "target, ⚠️ warning from there up to the critical bound (the design's gap between its warning target "
        "and its critical bound counts as a warning), ❌ critical at or above the critical bound. Agent time "
        "(T5→T7) is excluded by the design.",
        "",
        "| metric | acceptable | warning | critical | p95, all channels | "
        + " | ".join(CHANNEL_NAMES[ch] for ch in CHANNELS)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(CHANNELS),
    ]
    for t in THRESHOLDS.values():
        cells = [_grade_cell(t.latency_key, summary.get("stages", {}).get(t.latency_key))]
        cells += [
            _grade_cell(t.latency_key, channels.get(ch, {}).get("stages", {}).get(t.latency_key)) for ch in CHANNELS
        ]
        out.append(
            f"| {t.metric} | < {_bound(t.acceptable_ms)} | < {_bound(t.warning_ms)} | > {_bound(t.critical_ms)} | "
            + " | ".join(cells)
            + " |"
        )
    coarse = [CHANNEL_NAMES[ch] for ch in CHANNELS if precision[ch] >= 1000]
    if coarse:
        out += [
            "",
            f"Total inbound, omni processing and total round-trip start at T0. On {' and '.join(coarse)} T0 is the "
            "whole second the platform stamped, so there these spans read long by up to 1 s (on average "
            "half a second): their grades measure the platform clock as much as our code.",
        ]
    out.append("")

    # Bottlenecks.
    out += [
        "## Top 3 internal bottlenecks",
        "",
        "Ranked by average over the internal stages (our own code: "
        + ", ".join(f"`{k}`" for k in INTERNAL_STAGES)
        + "); the share is of internal processing, taken as the sum of those stages' averages (it adds up to "
        "100 %; `internalProcessing`'s own average covers only journeys with every stage).",
        "",
        "| rank | stage | avg (ms) | p95 (ms) | share of internal processing |",
        "|--:|---|--:|--:|--:|",
    ]
    for rank, b in enumerate(top, start=1):
        p95 = _stat(summary, b.latency_key, "p95")
        out.append(f"| {rank} | {LATENCY_LABELS[b.latency_key]} | {_ms(b.value_ms)} | {_ms(p95)} | {_share(b.share)} |")
    if not top:
        out.append("| - | no internal stage measured | | | |")
    out.append("")
    for ch in present:
        ranked = bottlenecks(channels[ch])
        if ranked:
            listed = ", ".join(
                f"{LATENCY_LABELS[b.latency_key]} {_ms(b.value_ms)} ms ({_share(b.share)})" for b in ranked
            )
            out.append(f"- {CHANNEL_NAMES[ch]}: {listed}.")
    out.append("")

    # Platform legs.
    out += [
        "## Platform legs (outside our process)",
        "",
        "`channelProcessing` (T0→T1) runs from the platform's own timestamp to our webhook or gateway handler; "
        "`platformSend` (T10→T11) is the platform's send API answering. Neither is our code, so neither is "
        "ranked above. Negative values (T0 after T1, within T0's precision) are left out of the statistics "
        "and counted.",
        "",
        "| channel | T0 precision | channelProcessing p50 / p95 (ms) | negative | platformSend p50 / p95 (ms) "
        "| deliveryReceipt p50 (ms) |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for ch in CHANNELS:
        s = channels.get(ch)
        cp = (_stat(s, "channelProcessing", "p50"), _stat(s, "channelProcessing", "p95"))
        ps = (_stat(s, "platformSend", "p50"), _stat(s, "platformSend", "p95"))
        negative = (s or {}).get("stages", {}).get("channelProcessing", {}).get("negative", 0)
        out.append(
            f"| {CHANNEL_NAMES[ch]} | {_precision(precision[ch])} | {_ms(cp[0])} / {_ms(cp[1])} | {negative} "
            f"| {_ms(ps[0])} / {_ms(ps[1])} | {_ms(_stat(s, 'deliveryReceipt', 'p50'))} |"
        )
    out += [
        "",
        "T0 has 1 s precision on Telegram and WhatsApp (`message.date`, `timestamp`: whole seconds) and 1 ms on "
        "Discord (ISO timestamp / snowflake): a Telegram or WhatsApp `channelProcessing` is mostly the "
        "truncated fraction of a second, not time spent anywhere. WhatsApp's delivery receipt (T12) is a "
        "status timestamp in whole seconds as well, so `deliveryReceipt` is as coarse, and can be negative.",
        "",
    ]

    # Chart.
    out += ["## Chart", ""]
    if chart_ref:
        out += [
            f"![p50, p95 and p99 per stage, log scale]({chart_ref})",
            "",
            "p50 / p95 / p99 of every internal stage and both platform legs over all channels (top), and "
            "p95 per channel (bottom), on a log scale.",
        ]
    else:
        out.append("No chart was drawn.")
    out.append("")

    # Per stage, overall and per channel.
    out += ["## Per stage, all channels", "", f"Journeys: {_counts(summary)}. Milliseconds.", ""]
    out += _stage_table(summary)
    out += ["", "## Per channel", ""]
    for ch in CHANNELS:
        s = channels.get(ch)
        out += [f"### {CHANNEL_NAMES[ch]}", ""]
        if not s or not s.get("totalTracked"):
            out += ["No journeys.", ""]
            continue
        out += [f"Journeys: {_counts(s)}. T0 precision {_precision(precision[ch])}.", ""]
        out += _stage_table(s)
        out.append("")

    if data.get("command"):
        out += ["## Reproduce", "", "```sh", data["command"], "```", ""]
    return "\n".join(out)


# --- the chart ---------------------------------------------------------------------------------------------

_CHART_KEYS = (*INTERNAL_STAGES, *PLATFORM_LEGS)
_FLOOR_MS = 1e-3  # a log axis has no zero: the smallest value drawn is a microsecond


def draw_chart(data: BaselineData, path: Path) -> None:
    """The per-stage distribution as an SVG: p50/p95/p99 bars over all channels, p95 per channel."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the figure is saved as SVG
    from matplotlib.figure import Figure

    summary = data.get("summary", {})
    channels = data.get("channels", {})
    keys = [k for k in _CHART_KEYS if summary.get("stages", {}).get(k, {}).get("count")] or list(_CHART_KEYS)
    labels = [LATENCY_LABELS[k] + (" *" if k in PLATFORM_LEGS else "") for k in keys]
    with matplotlib.rc_context({"svg.hashsalt": "journey-baseline", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(10, 9), layout="constrained")
        top, bottom = fig.subplots(2, 1)
        rows = range(len(keys))
        height = 0.26
        for i, (field, color) in enumerate((("p50", "#4c78a8"), ("p95", "#f58518"), ("p99", "#e45756"))):
            values = [max(_stat(summary, k, field) or 0.0, _FLOOR_MS) for k in keys]
            top.barh([r + (i - 1) * height for r in rows], values, height=height, color=color, label=field)
        top.set_title("All channels: p50 / p95 / p99 per stage (* outside our process)")
        _axes(top, labels)
        present = [ch for ch in CHANNELS if channels.get(ch, {}).get("totalTracked")] or list(CHANNELS)
        colors = {"telegram": "#2ca5e0", "whatsapp": "#25d366", "discord": "#5865f2"}
        height = 0.8 / len(present)
        for i, ch in enumerate(present):
            values = [max(_stat(channels.get(ch), k, "p95") or 0.0, _FLOOR_MS) for k in keys]
            offset = (i - (len(present) - 1) / 2) * height
            top_of = [r + offset for r in rows]
            bottom.barh(top_of, values, height=height, color=colors[ch], label=CHANNEL_NAMES[ch])
        bottom.set_title("p95 per channel")
        _axes(bottom, labels)
        fig.suptitle(f"Journey baseline, {data.get('generatedAt', '')}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="svg", metadata={"Date": None})


def _axes(ax: Any, labels: list[str]) -> None:
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds (log scale)")
    ax.grid(axis="x", which="both", alpha=0.3)
    legs = sum(1 for label in labels if label.endswith(" *"))
    if 0 < legs < len(labels):  # a line between our own stages and the platform legs
        ax.axhline(len(labels) - legs - 0.5, color="#555555", linewidth=0.8, linestyle="--")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def write_report(data: BaselineData, output: Path, chart: Path | None = None) -> tuple[Path, Path | None]:
    """Write the markdown to `output` and the chart to `chart` (default: `output` with `.svg`); returns both."""
    output = Path(output)
    chart = output.with_suffix(".svg") if chart is None else Path(chart)
    draw_chart(data, chart)
    output.parent.mkdir(parents=True, exist_ok=True)
    reference = Path(os.path.relpath(chart.resolve(), output.resolve().parent)).as_posix()
    output.write_text(render_markdown(data, reference), encoding="utf-8")
    return output, chart
