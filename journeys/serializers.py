"""Shapes of the journeys API (plain serializers: journeys are not models). Used for the schema."""

from __future__ import annotations

from rest_framework import serializers

from journeys.stages import LATENCY_KEYS


class CheckpointSerializer(serializers.Serializer):
    stage = serializers.CharField(help_text="T0..T12")
    name = serializers.CharField(help_text="e.g. platformReceivedAt")
    timestamp = serializers.FloatField(help_text="Unix epoch milliseconds, microsecond resolution")
    precisionMs = serializers.FloatField(required=False, allow_null=True, help_text="T0 only")


class LatenciesSerializer(serializers.Serializer):
    def get_fields(self):
        return {key: serializers.FloatField(required=False) for key in LATENCY_KEYS}


class JourneySerializer(serializers.Serializer):
    correlationId = serializers.CharField()
    instanceId = serializers.CharField(allow_null=True)
    channelType = serializers.CharField(allow_null=True)
    chatId = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["active", "completed", "abandoned"])
    path = serializers.ChoiceField(choices=["no-agent", "agent", "replied"])
    startedAt = serializers.FloatField(help_text="local time of the first record (epoch ms)")
    completedAt = serializers.FloatField(allow_null=True)
    expiresAt = serializers.FloatField()
    abandonReason = serializers.CharField(allow_null=True)
    extraReplies = serializers.IntegerField()
    checkpoints = CheckpointSerializer(many=True)
    latencies = LatenciesSerializer()


class JourneyListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = JourneySerializer(many=True)


class StageStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    negative = serializers.IntegerField()
    avg = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class SummaryStagesSerializer(serializers.Serializer):
    def get_fields(self):
        return {key: StageStatsSerializer() for key in LATENCY_KEYS}


class SummarySerializer(serializers.Serializer):
    totalTracked = serializers.IntegerField()
    completedJourneys = serializers.IntegerField()
    activeJourneys = serializers.IntegerField()
    abandonedJourneys = serializers.IntegerField()
    since = serializers.FloatField(allow_null=True)
    stages = SummaryStagesSerializer()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
