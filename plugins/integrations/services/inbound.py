"""Requests from other tools (GitHub, GitLab, Jira): verify over the raw body, de-duplicate, render, post.

Order matters: the signature is checked on the exact bytes received before anything is parsed; a refused request
is audited (integrations.inbound.refused) and posts nothing. The de-duplication row, the messages and their
audit events are written in one transaction, so a retry after a crash either finds everything or nothing.
"""

import json
import time
from dataclasses import dataclass
from importlib import import_module

from django.db import IntegrityError, transaction

from audit.services import Actor, audit_record
from chatapp.chat.models import Channel
from plugins.integrations import audit_events as events
from plugins.integrations.handlers import Refused, route_channels
from plugins.integrations.models import InboundDelivery, Installation
from plugins.integrations.services.common import post_as_bot
from plugins.integrations.services.installations import installation_for_inbound

MAX_BODY_BYTES = 5 * 1024 * 1024  # GitHub caps payloads at 25 MB but pushes that big are not worth a message


@dataclass(frozen=True)
class Outcome:
    status: int
    detail: str
    posted: int = 0


def handler(integration: str):
    return import_module(f"plugins.integrations.{integration}.handlers")


def refuse(installation: Installation, reason: str) -> Outcome:
    with transaction.atomic():
        audit_record(
            org=installation.organization, event=events.INBOUND_REFUSED,
            actor=Actor.system(f"{installation.integration} webhook"), target=installation,
            metadata={"reason": reason},
        )  # fmt: skip
    return Outcome(401, "The request signature is missing or wrong.")


def receive(*, integration: str, token: str, headers, body: bytes, now: float | None = None) -> Outcome:
    """Handle one inbound request for the installation behind `token`."""
    installation = installation_for_inbound(integration=integration, token=token)
    if installation is None:
        return Outcome(404, "No such webhook.")
    module = handler(integration)
    try:
        module.verify(headers=headers, body=body, secrets=installation.secrets or {}, now=now or time.time())
    except Refused as exc:
        return refuse(installation, str(exc))
    if len(body) > MAX_BODY_BYTES:
        return Outcome(413, "The payload is too large.")
    try:
        payload = json.loads(body)
    except ValueError:
        return Outcome(400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return Outcome(400, "The body is not a JSON object.")
    event = module.event_of(headers, payload)
    delivery_id = (module.delivery_id_of(headers, payload) or "")[:100]
    return deliver(installation=installation, module=module, event=event, delivery_id=delivery_id, payload=payload)


def deliver(*, installation: Installation, module, event: str, delivery_id: str, payload: dict) -> Outcome:
    rendered = module.render(event, payload)
    try:
        with transaction.atomic():
            if delivery_id:
                InboundDelivery.objects.create(
                    organization_id=installation.organization_id, installation=installation,
                    delivery_id=delivery_id, event=event[:100],
                    outcome="rendered" if rendered else "not rendered (event not supported)",
                )  # fmt: skip
            if rendered is None:
                return Outcome(202, f"Event {event!r} is not shown in chat.")
            posted = post_routed(installation=installation, event=event, rendered=rendered, scope_key=module.SCOPE_KEY)
            if delivery_id and posted:
                InboundDelivery.objects.filter(installation=installation, delivery_id=delivery_id).update(
                    messages_posted=posted
                )
    except IntegrityError:
        return Outcome(200, "Already received.")
    return Outcome(200, f"Posted in {posted} channel(s).", posted)


def post_routed(*, installation: Installation, event: str, rendered, scope_key: str) -> int:
    """Post the rendered event in every channel whose route lets it through; returns how many."""
    routes = (installation.settings or {}).get("routes", [])
    channel_ids = route_channels(routes, event=event, scope_key=scope_key, rendered=rendered)
    channels = Channel.objects.for_org(installation.organization).filter(pk__in=channel_ids, is_archived=False)
    posted = 0
    for channel in channels:
        post_as_bot(installation=installation, channel=channel, body=rendered.text)
        posted += 1
    return posted


def process(*, integration: str, installation_id: int, event: str, payload: dict) -> None:
    """Deferred processing (a Celery task) for tools that must be answered at once (Slack)."""
    installation = (
        Installation.objects.select_related("organization", "bot_user").filter(pk=installation_id, enabled=True).first()
    )
    if installation is None:
        return
    handler(integration).process(installation=installation, event=event, payload=payload)


# --- Slack: answer at once, work in a task -----------------------------------------------------------------------


def slack_receive(*, token: str, kind: str, headers, body: bytes, now: float | None = None) -> tuple[Outcome, dict]:
    """Verify a Slack request and queue its work; returns the outcome and the JSON Slack should get back now."""
    from urllib.parse import parse_qs

    from plugins.integrations import tasks

    installation = installation_for_inbound(integration="slack", token=token)
    if installation is None:
        return Outcome(404, "No such webhook."), {}
    module = handler("slack")
    try:
        module.verify(headers=headers, body=body, secrets=installation.secrets or {}, now=now or time.time())
    except Refused as exc:
        return refuse(installation, str(exc)), {}
    try:
        if kind == "events":
            payload = json.loads(body)
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
            payload = json.loads(form["payload"]) if kind == "interactivity" else form
    except (ValueError, KeyError, UnicodeDecodeError):
        return Outcome(400, "The body is not what Slack sends."), {}
    if not isinstance(payload, dict):
        return Outcome(400, "The body is not a JSON object."), {}
    if kind == "events" and payload.get("type") == "url_verification":
        return Outcome(200, "challenge"), {"challenge": str(payload.get("challenge", ""))}
    event = {"events": payload.get("type", ""), "commands": "command", "interactivity": "interactivity"}[kind]
    reply = {}
    if kind == "commands":
        if module.mirror_channel(installation, payload.get("channel_id", "")) is None:
            text = "This Slack channel is not mirrored to a chatapp channel."
            return Outcome(200, "unmapped"), {"response_type": "ephemeral", "text": text}
        reply = {"response_type": "ephemeral", "text": "Posting to chatapp…"}
    delivery_id = str(payload.get("event_id") or payload.get("trigger_id") or "")[:100]
    with transaction.atomic():
        if delivery_id:
            try:
                with transaction.atomic():
                    InboundDelivery.objects.create(
                        organization_id=installation.organization_id, installation=installation,
                        delivery_id=delivery_id, event=event[:100], outcome="queued",
                    )  # fmt: skip
            except IntegrityError:
                return Outcome(200, "Already received."), reply  # Slack's retry of an event we have
        transaction.on_commit(lambda: tasks.inbound_process.delay("slack", installation.pk, event, payload))
    return Outcome(200, "queued"), reply


# --- Teams: a Teams outgoing webhook posts into the configured channel and gets a reply -------------------------


def teams_receive(*, token: str, headers, body: bytes) -> Outcome:
    installation = installation_for_inbound(integration="teams", token=token)
    if installation is None:
        return Outcome(404, "No such webhook.")
    module = handler("teams")
    try:
        module.verify(headers=headers, body=body, secrets=installation.secrets or {}, now=time.time())
    except Refused as exc:
        return refuse(installation, str(exc))
    try:
        activity = json.loads(body)
    except ValueError:
        return Outcome(400, "The body is not JSON.")
    if not isinstance(activity, dict):
        return Outcome(400, "The body is not a JSON object.")
    channel = (
        Channel.objects.for_org(installation.organization)
        .filter(pk=(installation.settings or {}).get("channel_id"), is_archived=False)
        .first()
    )
    text = module.text_of(activity)
    if channel is None or not text:
        return Outcome(200, "Nothing was posted: no chatapp channel is set, or the message was empty.")
    who = ((activity.get("from") or {}).get("name") or "someone")[:100]
    try:
        with transaction.atomic():
            if activity.get("id"):
                InboundDelivery.objects.create(
                    organization_id=installation.organization_id, installation=installation,
                    delivery_id=str(activity["id"])[:100], event="message", outcome="posted", messages_posted=1,
                )  # fmt: skip
            post_as_bot(installation=installation, channel=channel, body=f"**{who}** (Teams): {text}")
    except IntegrityError:
        return Outcome(200, "Already received.")
    return Outcome(200, f"Posted to #{channel.name} in chatapp.", 1)
