"""Slack: the Events API, slash commands and interactivity, verified with the v0 signature over the raw body
within ±300 s, answered at once (Slack retries after 3 s) with the work done in a Celery task; and outbound
notifications in Block Kit.

Mirroring: a message in a Slack channel listed in the installation's `mirrors` is posted into the mapped chatapp
channel by the Slack bot as "**<Slack user>** (Slack): text". Bot messages and edits are skipped, so a chatapp
-> Slack notification cannot come back as a message.
"""

import hashlib
import hmac
import json

from slack_sdk.models.blocks import ContextBlock, DividerBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from chatapp.chat.models import Channel
from chatapp.kernel import outbound
from plugins.integrations.handlers import Refused
from plugins.integrations.services.common import policy, post_as_bot
from plugins.integrations.webhooks.slack_format import mrkdwn

TOLERANCE_SECONDS = 300
SLACK_API = "https://slack.com/api"


def verify(*, headers, body: bytes, secrets: dict, now: float) -> None:
    secret = secrets.get("signing_secret")
    timestamp, given = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    if not secret or not timestamp or not given.startswith("v0="):
        raise Refused("missing signature")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise Refused("bad timestamp") from None
    if abs(now - stamp) > TOLERANCE_SECONDS:
        raise Refused("stale timestamp")
    expected = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused("wrong signature")


def mirror_channel(installation, slack_channel: str) -> Channel | None:
    for mirror in (installation.settings or {}).get("mirrors", []):
        if mirror["slack_channel"] == slack_channel:
            return (
                Channel.objects.for_org(installation.organization)
                .filter(pk=mirror["channel_id"], is_archived=False)
                .first()
            )
    return None


def process(*, installation, event: str, payload: dict) -> None:
    """The deferred half of every Slack request (a Celery task)."""
    if event == "event_callback":
        inner = payload.get("event") or {}
        if inner.get("type") != "message" or inner.get("subtype") or inner.get("bot_id"):
            return
        channel = mirror_channel(installation, inner.get("channel", ""))
        text = mrkdwn(inner.get("text", "")).strip()
        if channel is not None and text:
            post_as_bot(
                installation=installation, channel=channel, body=f"**{inner.get('user', 'someone')}** (Slack): {text}"
            )
    elif event == "command":
        channel = mirror_channel(installation, payload.get("channel_id", ""))
        text = (payload.get("text") or "").strip()
        if channel is not None and text:
            post_as_bot(installation=installation, channel=channel,
                        body=f"**{payload.get('user_name', 'someone')}** (Slack): {mrkdwn(text)}")  # fmt: skip
    elif event == "interactivity" and payload.get("type") == "message_action":
        # the "Share to chatapp" message shortcut: the message it was used on goes to the mirrored channel
        channel = mirror_channel(installation, (payload.get("channel") or {}).get("id", ""))
        message = payload.get("message") or {}
        if channel is not None and message.get("text"):
            who = (payload.get("user") or {}).get("name", "someone")
            post_as_bot(installation=installation, channel=channel,
                        body=f"**{who}** shared from Slack: {mrkdwn(message['text'])}")  # fmt: skip


# --- outbound ------------------------------------------------------------------------------------------------------


def blocks_for(*, title: str, text: str, url: str = "", context: str = "") -> list[dict]:
    """A notification in Block Kit (built with slack_sdk's models, which validate lengths and types)."""
    blocks = [HeaderBlock(text=title[:150]), SectionBlock(text=MarkdownTextObject(text=text[:3000]))]
    if url:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"<{url}|Open in chatapp>")))
    if context:
        blocks += [DividerBlock(), ContextBlock(elements=[MarkdownTextObject(text=context[:2000])])]
    return [block.to_dict() for block in blocks]


def send(installation, *, title: str, text: str, url: str = "", context: str = "") -> None:
    """Post a notification to Slack: to the incoming webhook URL if set, else with the bot token to
    `notify_channel`. Sent through the SSRF-safe transport (slack_sdk's own HTTP client cannot be pinned)."""
    secrets = installation.secrets or {}
    body = {"text": f"{title}: {text}"[:3000], "blocks": blocks_for(title=title, text=text, url=url, context=context)}
    if secrets.get("incoming_webhook_url"):
        target, headers = secrets["incoming_webhook_url"], {}
    elif secrets.get("bot_token") and installation.settings.get("notify_channel"):
        target = f"{SLACK_API}/chat.postMessage"
        headers = {"Authorization": f"Bearer {secrets['bot_token']}"}
        body["channel"] = installation.settings["notify_channel"]
    else:
        raise outbound.OutboundError("Set an incoming webhook URL, or a bot token and a channel.")
    response = outbound.request("POST", target, body=json.dumps(body).encode(), policy=policy(),
                                headers={"Content-Type": "application/json; charset=utf-8", **headers})  # fmt: skip
    if response.status != 200:
        raise outbound.OutboundError(f"Slack answered HTTP {response.status}")
    if headers:  # the Web API answers 200 with {"ok": false, "error": ...}
        answer = json.loads(response.body or b"{}")
        if not answer.get("ok"):
            raise outbound.OutboundError(f"Slack refused: {answer.get('error', 'unknown error')}")
