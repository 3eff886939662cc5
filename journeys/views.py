"""The journeys API: one journey, a list, and the aggregated summary (CONTRACT §5)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from journeys.serializers import ErrorSerializer, JourneyListSerializer, JourneySerializer, SummarySerializer
from journeys.since import parse_since
from journeys.stages import LATENCY_KEYS
from journeys.tracker import PATHS, STATUSES, get_journey_tracker, now_ms

MAX_LIST_LIMIT = 1000

_FILTERS = [
    OpenApiParameter("channel", str, enum=["telegram", "whatsapp", "discord"]),
    OpenApiParameter("instanceId", str),
]
_SINCE = OpenApiParameter("since", str, description="`<n>s|m|h|d` ago, or an ISO 8601 time")
_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer}


def _bad(code: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError(message, code=code)


def _choice(request: Request, name: str, choices: tuple[str, ...], code: str) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise _bad(code, f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _since(request: Request) -> float | None:
    value = request.query_params.get("since")
    if value is None:
        return None
    try:
        return parse_since(value, now_ms())
    except ValueError as exc:
        raise _bad("INVALID_SINCE", str(exc)) from None


def _limit(request: Request) -> int:
    value = request.query_params.get("limit", "50")
    # ASCII digits only: str.isdigit() also accepts "²", which int() then rejects (a 500, not a 400).
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIST_LIMIT:
        raise _bad("INVALID_LIMIT", f"limit must be an integer from 1 to {MAX_LIST_LIMIT}; got {value!r}")
    return int(value)


def _filters(request: Request) -> dict[str, str | None]:
    return {"channel": request.query_params.get("channel") or None,
            "instance_id": request.query_params.get("instanceId") or None}  # fmt: skip


class _JourneySchema(AutoSchema):
    # The list answers one object ({count, results}), not a bare array as a "list" action would suggest.
    def _is_list_view(self, serializer=None) -> bool:
        return False


class JourneyViewSet(viewsets.ViewSet):
    """Journeys of this process's tracker, looked up by correlation id."""

    schema = _JourneySchema()

    lookup_field = "correlation_id"
    lookup_url_kwarg = "correlationId"  # the schema's path reads /journeys/{correlationId}, as in CONTRACT §5
    lookup_value_regex = r"[^/]+"

    @extend_schema(
        parameters=[
            OpenApiParameter("limit", int, description=f"1..{MAX_LIST_LIMIT}, default 50"),
            OpenApiParameter("status", str, enum=[*STATUSES]),
            OpenApiParameter("slowest", str, enum=[*LATENCY_KEYS], description="order by this key, slowest first"),
            _SINCE,
            *_FILTERS,
        ],
        responses={200: JourneyListSerializer, **_ERRORS},
    )
    def list(self, request: Request) -> Response:
        results = get_journey_tracker().list_journeys(
            limit=_limit(request),
            status=_choice(request, "status", STATUSES, "INVALID_STATUS"),
            slowest=_choice(request, "slowest", LATENCY_KEYS, "INVALID_LATENCY_KEY"),
            since=_since(request),
            **_filters(request),
        )
        return Response({"count": len(results), "results": results})

    @extend_schema(responses={200: JourneySerializer, 401: ErrorSerializer, 404: ErrorSerializer})
    def retrieve(self, request: Request, **kwargs: str) -> Response:
        correlation_id = kwargs[self.lookup_url_kwarg]
        journey = get_journey_tracker().get_journey(correlation_id)
        if journey is None:
            raise exceptions.NotFound(f"No journey with correlation id {correlation_id!r}.", code="JOURNEY_NOT_FOUND")
        return Response(journey)

    @extend_schema(
        parameters=[_SINCE, OpenApiParameter("path", str, enum=[*PATHS]), *_FILTERS],
        responses={200: SummarySerializer, **_ERRORS},
    )
    @action(detail=False, methods=["get"])
    def summary(self, request: Request) -> Response:
        return Response(
            get_journey_tracker().get_summary(
                since=_since(request),
                path=_choice(request, "path", PATHS, "INVALID_PATH"),
                **_filters(request),
            )
        )
