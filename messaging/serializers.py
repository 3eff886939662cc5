"""Request and answer shapes of the messaging API (instances, send)."""

from __future__ import annotations

from rest_framework import serializers

from messaging.models import CHANNEL_TYPES, Instance

SECRET_FIELDS = ("token", "webhookSecret")
# A config is a handful of settings; deeper nesting is refused before json.dumps in the ORM overflows
# its recursion limit, and NUL characters before PostgreSQL's jsonb refuses them (each a 500 otherwise).
MAX_CONFIG_DEPTH = 32


class InstanceSerializer(serializers.ModelSerializer):
    """Instance JSON (CONTRACT §5). Secrets are write-only: answers say only whether one is set."""

    channelType = serializers.ChoiceField(source="channel_type", choices=CHANNEL_TYPES)
    baseUrl = serializers.URLField(source="base_url", required=False, allow_blank=True, max_length=500)
    token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)
    webhookSecret = serializers.CharField(
        source="webhook_secret", write_only=True, required=False, allow_blank=True, max_length=500
    )
    agentUrl = serializers.URLField(source="agent_url", required=False, allow_blank=True, max_length=500)
    agentReplyTimeoutMs = serializers.IntegerField(
        source="agent_reply_timeout_ms", required=False, min_value=1, max_value=86_400_000
    )
    config = serializers.DictField(required=False)
    hasToken = serializers.SerializerMethodField()
    hasWebhookSecret = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Instance
        fields = [
            "id",
            "name",
            "channelType",
            "baseUrl",
            "token",
            "webhookSecret",
            "agentUrl",
            "agentReplyTimeoutMs",
            "config",
            "hasToken",
            "hasWebhookSecret",
            "createdAt",
        ]
        read_only_fields = ["id"]

    def get_hasToken(self, obj: Instance) -> bool:
        return bool(obj.token)

    def get_hasWebhookSecret(self, obj: Instance) -> bool:
        return bool(obj.webhook_secret)

    def validate_baseUrl(self, value: str) -> str:
        return value.rstrip("/")

    # Tokens and secrets travel in HTTP headers (and Telegram's token in the URL path): printable ASCII
    # only. A stray non-ASCII character made httpx raise UnicodeEncodeError, whose message carries the
    # whole header value, the token, into logs and stored errors. The error below never echoes the value.
    def validate_token(self, value: str) -> str:
        return _header_safe(value, "token")

    def validate_webhookSecret(self, value: str) -> str:
        return _header_safe(value, "webhookSecret")

    def validate_config(self, value: dict) -> dict:
        # Walked without recursion: the point is to refuse what would overflow a recursive encoder later.
        pending: list[tuple[object, int]] = [(value, 1)]
        while pending:
            node, depth = pending.pop()
            if depth > MAX_CONFIG_DEPTH:
                raise serializers.ValidationError(f"config is nested deeper than {MAX_CONFIG_DEPTH} levels.")
            if isinstance(node, dict):
                if any("\x00" in key for key in node):
                    raise serializers.ValidationError("config keys cannot contain NUL characters.")
                pending.extend((child, depth + 1) for child in node.values())
            elif isinstance(node, list):
                pending.extend((child, depth + 1) for child in node)
            elif isinstance(node, str) and "\x00" in node:
                raise serializers.ValidationError("config values cannot contain NUL characters.")
        return value

    def validate(self, attrs):
        channel = attrs.get("channel_type", getattr(self.instance, "channel_type", None))
        config = attrs.get("config", getattr(self.instance, "config", None)) or {}
        if (
            self.instance is not None
            and "channel_type" in attrs
            and attrs["channel_type"] != self.instance.channel_type
        ):
            raise serializers.ValidationError({"channelType": "The channel type of an instance cannot change."})
        if channel == "whatsapp" and "phoneNumberId" in config and not str(config["phoneNumberId"]).isdigit():
            raise serializers.ValidationError({"config": "config.phoneNumberId must be digits."})
        return attrs


def _header_safe(value: str, name: str) -> str:
    if value and not (value.isascii() and value.isprintable() and not any(c.isspace() for c in value)):
        raise serializers.ValidationError(f"{name} must be printable ASCII without spaces.")
    return value


class SendRequestSerializer(serializers.Serializer):
    instanceId = serializers.CharField(max_length=100)
    to = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=4096, trim_whitespace=False)
    correlationId = serializers.CharField(max_length=100, required=False, allow_blank=False)


class SendResponseSerializer(serializers.Serializer):
    messageId = serializers.CharField()
    correlationId = serializers.CharField()
    status = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.DictField()
    nats = serializers.DictField()
    runtime = serializers.DictField()
    tracker = serializers.DictField()
