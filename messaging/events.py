"""The event envelope that travels over NATS (CONTRACT §6).

Unknown metadata fields are kept in `extra` and written back out, so no publisher or consumer ever
drops a field it does not know (a later version's, or another service's).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from journeys.stages import JOURNEY_STAGES
from journeys.tracker import now_ms

MESSAGE_RECEIVED = "message.received"
MESSAGE_SENT = "message.sent"
JOURNEY_COMPLETE = "system.journey.complete"

_KNOWN = {"correlationId", "instanceId", "channelType", "sampled", "timings"}


@dataclass(frozen=True)
class EventMetadata:
    """Metadata of an event. `timings` maps checkpoint names to epoch ms; None means unsampled or untimed."""

    correlation_id: str
    instance_id: str | None = None
    channel_type: str | None = None
    sampled: bool = True
    timings: Mapping[str, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            correlationId=self.correlation_id,
            instanceId=self.instance_id,
            channelType=self.channel_type,
            sampled=self.sampled,
        )
        if self.timings is not None:
            out["timings"] = dict(self.timings)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventMetadata:
        """Build from wire JSON; raises ValueError without a correlation id."""
        correlation_id = data.get("correlationId")
        if not isinstance(correlation_id, str) or not correlation_id:
            raise ValueError("event metadata has no correlationId")
        timings = data.get("timings")
        if timings is not None:
            if not isinstance(timings, Mapping):
                raise ValueError("event metadata timings is not an object")
            timings = {str(k): float(v) for k, v in timings.items() if _is_number(v)}
        return cls(
            correlation_id=correlation_id,
            instance_id=data.get("instanceId"),
            channel_type=data.get("channelType"),
            sampled=bool(data.get("sampled", timings is not None)),
            timings=timings,
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    def timing(self, checkpoint: str) -> float | None:
        """The recorded time of a checkpoint (name or stage), if present."""
        if self.timings is None:
            return None
        return self.timings.get(JOURNEY_STAGES.get(checkpoint, checkpoint))


def with_timing(metadata: EventMetadata, checkpoint: str, timestamp: float | None = None) -> EventMetadata:
    """A copy of `metadata` with `checkpoint` (a name like "eventPublishedAt", or its stage "T2") set.

    The given metadata is left unchanged. `timestamp` defaults to now, in epoch ms.
    """
    name = JOURNEY_STAGES.get(checkpoint, checkpoint)
    timings = dict(metadata.timings or {})
    timings[name] = now_ms() if timestamp is None else float(timestamp)
    return replace(metadata, timings=timings)


@dataclass(frozen=True)
class Event:
    """One envelope: `{"id", "type", "timestamp", "payload", "metadata"}`."""

    type: str
    payload: Mapping[str, Any]
    metadata: EventMetadata
    id: str = field(default_factory=lambda: f"evt-{uuid.uuid4()}")
    timestamp: float = field(default_factory=now_ms)
    # Fields of the envelope itself that this version does not know, kept for re-publishing.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = dict(self.extra)
        body.update(
            id=self.id,
            type=self.type,
            timestamp=self.timestamp,
            payload=dict(self.payload),
            metadata=self.metadata.to_dict(),
        )
        # orjson: a journey's JSON encodes in ~3 µs against ~40 µs with the standard library, and
        # every finished journey is published as one (system.journey.complete).
        return orjson.dumps(body)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Parse an envelope; raises ValueError for anything that is not one."""
        try:
            data = orjson.loads(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event is not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
            raise ValueError("event has no metadata object")
        payload = data.get("payload")
        if not isinstance(payload, dict):
            raise ValueError("event payload is not an object")
        return cls(
            type=str(data.get("type", "")),
            payload=payload,
            metadata=EventMetadata.from_dict(data["metadata"]),
            id=str(data.get("id") or f"evt-{uuid.uuid4()}"),
            timestamp=_timestamp(data.get("timestamp")),
            extra={k: v for k, v in data.items() if k not in {"id", "type", "timestamp", "payload", "metadata"}},
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _timestamp(value: Any) -> float:
    """The envelope's timestamp (epoch ms); now when absent. ValueError, never TypeError, for a bad one."""
    if value is None:
        return now_ms()
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"event timestamp is not a number: {value!r}") from None


def subject_for(event_type: str, channel_type: str, instance_id: str) -> str:
    """`message.received.<channel>.<instanceId>` and the like."""
    return f"{event_type}.{channel_type}.{instance_id}"
