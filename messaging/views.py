"""The messaging API: instances, the agent's send endpoint, health."""

from __future__ import annotations

import orjson
from django.db import DatabaseError, connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import exceptions, parsers, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.serializers import ErrorSerializer
from journeys.tracker import get_journey_tracker, now_ms
from messaging.metrics import REGISTRY
from messaging.models import Instance
from messaging.outbound import send_message
from messaging.runtime import get_runtime
from messaging.serializers import HealthSerializer, InstanceSerializer, SendRequestSerializer, SendResponseSerializer


class JsonParser(parsers.JSONParser):
    """DRF's JSON parser on orjson, as the webhooks parse: strict JSON, and a nesting limit that answers
    400 INVALID_JSON where the standard library raised RecursionError (a 500) for `[[[[...`."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


class InstanceViewSet(viewsets.ModelViewSet):
    """Channel instances. Secrets (`token`, `webhookSecret`) are write-only."""

    parser_classes = [JsonParser]
    queryset = Instance.objects.all()
    serializer_class = InstanceSerializer
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"


class SendMessageView(APIView):
    """The agent's reply. Linked to its journey by `correlationId`, `X-Correlation-Id`, or the chat."""

    parser_classes = [JsonParser]

    @extend_schema(
        request=SendRequestSerializer,
        parameters=[OpenApiParameter("X-Correlation-Id", str, OpenApiParameter.HEADER, required=False)],
        responses={
            202: SendResponseSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        t7 = now_ms()  # T7: the first statement of the send endpoint
        body = SendRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = send_message(
            instance_id=data["instanceId"],
            to=data["to"],
            text=data["text"],
            correlation_id=data.get("correlationId"),
            header_correlation_id=request.headers.get("X-Correlation-Id") or None,
            t7=t7,
        )
        return Response(
            {"messageId": outcome.message_id, "correlationId": outcome.correlation_id, "status": outcome.status},
            status=status.HTTP_202_ACCEPTED,
        )


class MetricsView(APIView):
    """Prometheus text: journey latency histograms and pipeline counters (X-API-Key required)."""

    @extend_schema(responses={(200, CONTENT_TYPE_LATEST): OpenApiTypes.STR, 401: ErrorSerializer})
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class HealthView(APIView):
    """NATS and database state; 503 when either is down. No API key needed."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer}, auth=[])
    def get(self, request: Request) -> Response:
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = {"ok": True, "engine": connection.vendor}
        except DatabaseError as exc:
            database = {"ok": False, "engine": connection.vendor, "error": type(exc).__name__}
        runtime = get_runtime()
        nats = {"ok": bool(runtime and runtime.bus.connected), "url": runtime.bus.url if runtime else None}
        healthy = database["ok"] and nats["ok"]
        body = {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "nats": nats,
            "runtime": {"running": bool(runtime and runtime.running)},
            "tracker": {"journeys": len(get_journey_tracker())},
        }
        return Response(body, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)
