"""Stage names and latency keys of a message's journey (CONTRACT §1, §3)."""

from __future__ import annotations

from typing import Final, Literal

# Stage -> checkpoint name, in journey order. There is no T6: the agent is an external black box.
JOURNEY_STAGES: Final[dict[str, str]] = {
    "T0": "platformReceivedAt",
    "T1": "pluginReceivedAt",
    "T2": "eventPublishedAt",
    "T3": "eventConsumedAt",
    "T4": "dbStoredAt",
    "T5": "agentNotifiedAt",
    "T7": "agentCompletedAt",
    "T8": "apiProcessedAt",
    "T9": "outboundEventPublishedAt",
    "T10": "pluginSentAt",
    "T11": "platformDeliveredAt",
    "T12": "recipientDeliveredAt",
}
STAGE_ORDER: Final[tuple[str, ...]] = tuple(JOURNEY_STAGES)
STAGE_COLUMN: Final[dict[str, int]] = {stage: i for i, stage in enumerate(STAGE_ORDER)}
NAME_TO_STAGE: Final[dict[str, str]] = {name: stage for stage, name in JOURNEY_STAGES.items()}
STAGE_LABELS: Final[dict[str, str]] = {
    "T0": "Platform received",
    "T1": "Plugin received",
    "T2": "Event published",
    "T3": "Event consumed",
    "T4": "DB stored",
    "T5": "Agent notified",
    "T7": "Agent completed",
    "T8": "API processed",
    "T9": "Event published",
    "T10": "Plugin sent",
    "T11": "Platform delivered",
    "T12": "Recipient delivered",
}

# Simple latency keys: key -> (end stage, start stage).
SIMPLE_LATENCIES: Final[dict[str, tuple[str, str]]] = {
    "channelProcessing": ("T1", "T0"),
    "eventPublish": ("T2", "T1"),
    "natsDelivery": ("T3", "T2"),
    "dbWrite": ("T4", "T3"),
    "agentNotification": ("T5", "T4"),
    "totalInbound": ("T5", "T0"),
    "agentRoundTrip": ("T7", "T5"),
    "apiProcessing": ("T8", "T7"),
    "outboundEventPublish": ("T9", "T8"),
    "outboundNatsDelivery": ("T10", "T9"),
    "platformSend": ("T11", "T10"),
    "totalOutbound": ("T11", "T7"),
    "totalRoundTrip": ("T11", "T0"),
    "deliveryReceipt": ("T12", "T11"),
}
# Composite keys: an inbound span plus, when both its ends exist, an outbound span.
COMPOSITE_LATENCIES: Final[dict[str, tuple[tuple[str, str], tuple[str, str]]]] = {
    "omniProcessing": (("T5", "T0"), ("T11", "T7")),
    "internalProcessing": (("T5", "T1"), ("T10", "T7")),
}
LATENCY_KEYS: Final[tuple[str, ...]] = (*SIMPLE_LATENCIES, *COMPOSITE_LATENCIES)

# Our own code, ranked for bottlenecks. The platform legs are reported apart ("outside our process").
INTERNAL_STAGES: Final[tuple[str, ...]] = (
    "eventPublish",
    "natsDelivery",
    "dbWrite",
    "agentNotification",
    "apiProcessing",
    "outboundEventPublish",
    "outboundNatsDelivery",
)
PLATFORM_LEGS: Final[tuple[str, ...]] = ("channelProcessing", "platformSend")
LATENCY_LABELS: Final[dict[str, str]] = {
    "channelProcessing": "Channel processing (T0→T1)",
    "eventPublish": "Event publish (T1→T2)",
    "natsDelivery": "NATS delivery (T2→T3)",
    "dbWrite": "DB write (T3→T4)",
    "agentNotification": "Agent notification (T4→T5)",
    "totalInbound": "Total inbound (T0→T5)",
    "agentRoundTrip": "Agent round-trip (T5→T7)",
    "apiProcessing": "API processing (T7→T8)",
    "outboundEventPublish": "Outbound event publish (T8→T9)",
    "outboundNatsDelivery": "Outbound NATS delivery (T9→T10)",
    "platformSend": "Platform send (T10→T11)",
    "totalOutbound": "Total outbound (T7→T11)",
    "totalRoundTrip": "Total round-trip (T0→T11)",
    "deliveryReceipt": "Delivery receipt (T11→T12)",
    "omniProcessing": "Omni processing (excl. agent)",
    "internalProcessing": "Internal processing (our code)",
}

# "DB write (T3→T4)" -> "DB write": for places that show the stages beside the label.
LATENCY_SHORT_LABELS: Final[dict[str, str]] = {key: label.split(" (")[0] for key, label in LATENCY_LABELS.items()}

# The simple keys between consecutive stages (T5→T7 included: there is no T6), in journey order: the steps a
# journey's time divides into, T11→T12 last.
STEP_LATENCIES: Final[tuple[str, ...]] = tuple(
    key for key, (end, start) in SIMPLE_LATENCIES.items() if STAGE_COLUMN[end] == STAGE_COLUMN[start] + 1
)

LatencyKind = Literal["internal", "platform", "external", "total"]


def latency_kind(key: str) -> LatencyKind:
    """Whose time a latency key is: our code, a platform leg (the receipt included), the agent, or a total."""
    if key in INTERNAL_STAGES:
        return "internal"
    if key == "agentRoundTrip":
        return "external"
    if key in PLATFORM_LEGS or key == "deliveryReceipt":
        return "platform"
    return "total"
