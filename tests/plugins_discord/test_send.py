"""Outbound: the plugin's `send` against the sandbox's REST API, each Discord answer classified."""

from __future__ import annotations

import socket
import uuid

import pytest

from channels_plugins.base import OutboundMessage, PluginError
from channels_plugins.discord.plugin import DiscordPlugin
from channels_plugins.discord.sandbox import DiscordSandbox
from messaging.instances import InstanceConfig

TOKEN = "send-test-token"
CHANNEL = "1100000000000000042"


@pytest.fixture
def sandbox():
    with DiscordSandbox(token=TOKEN, echo_sends=False) as server:
        yield server


def plugin_for(runtime, base_url: str, token: str = TOKEN) -> DiscordPlugin:
    instance = InstanceConfig(
        id=str(uuid.uuid4()),
        name="discord",
        channel_type="discord",
        base_url=base_url,
        token=token,
        webhook_secret="",
        agent_url="",
        agent_reply_timeout_ms=1000,
        config={},
    )
    return DiscordPlugin(instance, runtime)


def outbound(text: str = "hello", chat_id: str = CHANNEL, message_id: str | None = None) -> OutboundMessage:
    return OutboundMessage(message_id=message_id or str(uuid.uuid4()), chat_id=chat_id, text=text, correlation_id="c")


def send(runtime, plugin, message):
    return runtime.call(plugin.send(message), timeout=15)


def failure(runtime, plugin, message) -> PluginError:
    with pytest.raises(PluginError) as caught:
        send(runtime, plugin, message)
    return caught.value


def test_a_send_posts_the_content_with_the_bot_token_and_returns_discords_id(runtime, sandbox):
    result = send(runtime, plugin_for(runtime, sandbox.rest_url), outbound("hi there"))
    [message] = sandbox.sent
    assert result.platform_message_id == message["id"]
    assert message["content"] == "hi there" and message["channel_id"] == CHANNEL
    call = sandbox.calls[-1]
    assert call.method == "POST" and call.path == f"/api/v10/channels/{CHANNEL}/messages"
    assert call.headers["authorization"] == f"Bot {TOKEN}"
    assert call.body["content"] == "hi there" and len(call.body["nonce"]) <= 25


def test_a_retried_send_with_the_same_message_id_posts_once(runtime, sandbox):
    plugin = plugin_for(runtime, sandbox.rest_url)
    message = outbound()
    first = send(runtime, plugin, message)
    second = send(runtime, plugin, message)  # as after a reply lost on the way back
    assert first.platform_message_id == second.platform_message_id
    assert len(sandbox.sent) == 1


def test_rate_limited_send_carries_discords_retry_after(runtime, sandbox):
    sandbox.fail_next(429, retry_after_s=1.5)
    error = failure(runtime, plugin_for(runtime, sandbox.rest_url), outbound())
    assert not error.permanent and error.retry_after_s == 1.5
    assert "rate limited" in str(error)


@pytest.mark.parametrize(("status", "reason"), [(403, "Missing Access"), (404, "Unknown Channel"), (400, "Invalid")])
def test_client_errors_are_permanent_with_discords_reason(runtime, sandbox, status, reason):
    sandbox.fail_next(status)
    error = failure(runtime, plugin_for(runtime, sandbox.rest_url), outbound())
    assert error.permanent and f"HTTP {status}" in str(error) and reason in str(error)


def test_an_empty_message_is_refused_permanently(runtime, sandbox):
    error = failure(runtime, plugin_for(runtime, sandbox.rest_url), outbound(text=""))
    assert error.permanent and "50006" in str(error)


def test_a_wrong_token_is_permanent(runtime, sandbox):
    error = failure(runtime, plugin_for(runtime, sandbox.rest_url, token="wrong"), outbound())
    assert error.permanent and "401" in str(error)


def test_server_errors_are_transient(runtime, sandbox):
    sandbox.fail_next(502)
    error = failure(runtime, plugin_for(runtime, sandbox.rest_url), outbound())
    assert not error.permanent and error.retry_after_s is None


def test_an_unreachable_discord_is_transient(runtime):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    error = failure(runtime, plugin_for(runtime, f"http://127.0.0.1:{port}/api/v10"), outbound())
    assert not error.permanent and "unreachable" in str(error)
