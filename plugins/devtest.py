"""`manage.py plugin test`: run a plugin's tests.json against a real, throwaway organization.

Everything happens in one transaction that is rolled back at the end: an organization with an owner and a
channel, the plugin installed there with every capability it asks for, then each case delivers an event or a
command through the real runtime (sandbox, plugin API, audit) and compares what the plugin did:

    {"name": "...", "event": "message.posted", "body": "!echo hi", "expect_posted": ["hi"]}
    {"name": "...", "command": "/echo", "text": "hi", "expect_response": {"text": "hi"}}
"""

import secrets
from pathlib import Path

from django.db import transaction

from plugins import build, packages, sandbox


class _Rollback(Exception):
    pass


def run_plugin_tests(directory: Path, *, stdout=None) -> list[dict]:
    from accounts.models import Membership, Organization, User
    from chatapp.chat.models import Message
    from chatapp.chat.services import channel_create
    from plugins.models import Plugin, PluginVersion
    from plugins.runtime import DeliveryFailed, deliver
    from plugins.services.lifecycle import installation_create, installation_set_channels

    manifest = build.manifest_of(directory)
    wasm = build.wasm_build(directory)
    sha = sandbox.component_compile(wasm)
    path = packages.store_path("components", sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wasm)
    cases = build.tests_of(directory)
    results = []
    try:
        with transaction.atomic():
            suffix = secrets.token_hex(4)
            org = Organization.objects.create(slug=f"plugin-test-{suffix}", name="Plugin test")
            owner = User.objects.create_user(email=f"owner-{suffix}@plugin-test.invalid", password=None)
            Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
            channel = channel_create(actor=owner, org=org, name="general")
            plugin = Plugin.objects.filter(plugin_id=manifest.data["id"]).first() or Plugin.objects.create(
                plugin_id=manifest.data["id"], name=manifest.data["name"], kind=Plugin.Kind.WASM
            )
            version = PluginVersion.objects.create(
                plugin=plugin, version=f"{manifest.data['version']}+test.{suffix}", manifest=manifest.data,
                wasm_sha256=sha, status=PluginVersion.Status.APPROVED, unsigned_dev=True,
            )  # fmt: skip
            installation = installation_create(
                actor=owner, org=org, plugin=plugin, version=version, consent=manifest.capabilities
            )
            installation_set_channels(actor=owner, org=org, installation=installation, channels=[channel])
            for number, case in enumerate(cases, 1):
                results.append(_run_case(number, case, installation, channel, owner, deliver, DeliveryFailed, Message))
            raise _Rollback
    except _Rollback:
        pass
    return results


def _run_case(number, case, installation, channel, owner, deliver, DeliveryFailed, Message) -> dict:
    name = case.get("name", f"case {number}")
    before = Message.objects.filter(channel=channel).count()
    try:
        if "event" in case:
            payload = {"channel_id": channel.pk, "message_id": 0, "author_id": owner.pk, "body": case.get("body", "")}
            payload.update(case.get("payload", {}))
            response = deliver(installation, kind="event", name=case["event"], payload=payload)
        else:
            payload = {"text": case.get("text", ""), "channel_id": channel.pk, "user_id": owner.pk}
            response = deliver(installation, kind="command", name=case["command"], payload=payload)
    except DeliveryFailed as exc:
        return {"name": name, "ok": bool(case.get("expect_failure")), "detail": f"{exc.kind}: {exc}"}
    posted = list(Message.objects.filter(channel=channel).order_by("pk").values_list("body", flat=True)[before:])
    if "expect_posted" in case and posted != case["expect_posted"]:
        return {"name": name, "ok": False, "detail": f"posted {posted!r}, expected {case['expect_posted']!r}"}
    if "expect_response" in case and response != case["expect_response"]:
        return {"name": name, "ok": False, "detail": f"answered {response!r}, expected {case['expect_response']!r}"}
    return {"name": name, "ok": True, "detail": ""}
