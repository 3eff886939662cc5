from django.contrib import admin

from messaging.models import Instance, Message, TriggerLog


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("name", "channel_type", "base_url", "agent_url", "created_at")
    list_filter = ("channel_type",)
    search_fields = ("name",)
    # Secrets are editable but never listed.
    exclude = ()


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "instance", "direction", "chat_id", "status", "correlation_id")
    list_filter = ("direction", "status", "instance__channel_type")
    search_fields = ("correlation_id", "external_id", "chat_id")
    raw_id_fields = ("instance",)


@admin.register(TriggerLog)
class TriggerLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "correlation_id", "status", "attempts", "agent_url")
    list_filter = ("status",)
    search_fields = ("correlation_id",)
    raw_id_fields = ("message",)
