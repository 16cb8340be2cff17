"""Message retention: the run removes exactly what its dry run announced, and nothing under legal hold."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from chatapp.chat import retention
from chatapp.chat.models import ChannelRetentionOverride, LegalHold, Message, MessageRetentionPolicy, RetentionRun
from chatapp.kernel.errors import Conflict
from tests.factories import ChannelFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def post(channel, author, days_ago, body="hello"):
    """A message written `days_ago` days before NOW."""
    with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
        return MessageFactory(channel=channel, author=author, body=body)


def events(name):
    return list(AuditEvent.objects.filter(event_name=name).order_by("sequence"))


@pytest.fixture
def world(acme, globex):
    """acme: messages of many ages in five channels, one channel and one author under hold; globex: old messages."""
    short = ChannelFactory(organization=acme.org, name="short")
    longer = ChannelFactory(organization=acme.org, name="longer")
    forever = ChannelFactory(organization=acme.org, name="forever")
    held = ChannelFactory(organization=acme.org, name="held")
    for days in (5, 15, 40, 100, 400):
        for channel in (acme.public, acme.private, short, longer, forever, held):
            post(channel, acme.member, days)
        post(acme.public, acme.admin, days)  # acme.admin is held as an author
    soft_deleted = post(acme.public, acme.member, 50)
    Message.objects.filter(pk=soft_deleted.pk).update(deleted=NOW)  # soft-deleted rows are still data to retire
    for days in (100, 400):
        post(globex.public, globex.member, days)
    retention.retention_policy_set(
        actor=acme.owner, org=acme.org, enabled=True, days=30, action="delete",
        overrides=[{"channel": short.pk, "days": 10}, {"channel": longer.pk, "days": 200},
                   {"channel": forever.pk, "days": None}],
    )  # fmt: skip
    retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="Case 12", channel=held)
    retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="Case 13", user=acme.admin)
    return acme, {"short": short, "longer": longer, "forever": forever, "held": held}


def test_run_respects_legal_hold_and_matches_its_dry_run_preview(world, globex):
    acme, ch = world
    preview = retention.retention_preview(org=acme.org, rules=retention.rules_of(acme.org), now=NOW)
    expected = {
        acme.public.pk: 4,  # 40, 100, 400 days by member, and the soft-deleted one (50); admin's are held
        acme.private.pk: 3,
        ch["short"].pk: 4,  # 10 days: everything but the 5-day-old one
        ch["longer"].pk: 1,  # 200 days: only the 400-day-old one
    }
    assert {row["channel"]: row["messages"] for row in preview["channels"]} == expected
    assert preview["total"] == 12 and preview["channels"][0]["name"] in {"general", "short"}
    before = set(Message.objects.values_list("pk", flat=True))
    doomed = set(retention.messages_expiring(org=acme.org, rules=retention.rules_of(acme.org), now=NOW).values_list(
        "pk", flat=True))  # fmt: skip

    run = retention.retention_run(org=acme.org, now=NOW, batch=5)

    assert run.status == RetentionRun.Status.DONE and run.processed == preview["total"]
    assert {int(pk): n for pk, n in run.per_channel.items()} == expected
    assert set(Message.objects.values_list("pk", flat=True)) == before - doomed
    # what is held, kept for good, or young enough, is all still there
    assert Message.objects.filter(channel=ch["held"]).count() == 5
    assert Message.objects.filter(channel=ch["forever"]).count() == 5
    assert Message.objects.filter(author=acme.admin).count() == 5
    assert Message.objects.filter(organization=globex.org).count() == 2
    # the run is recorded with its counts
    (finished,) = events("retention.run_finished")
    assert finished.metadata["processed"] == 12 and finished.metadata["per_channel"] == run.per_channel
    assert finished.actor_type == "system"
    # nothing is left to do: a second run is harmless
    assert retention.retention_run(org=acme.org, now=NOW).processed == 0


def test_released_hold_lets_the_next_run_remove_the_messages(world):
    acme, ch = world
    hold = LegalHold.objects.get(channel=ch["held"])
    retention.legal_hold_release(actor=acme.owner, org=acme.org, hold=hold)
    with pytest.raises(Conflict):
        retention.legal_hold_release(actor=acme.owner, org=acme.org, hold=hold)
    run = retention.retention_run(org=acme.org, now=NOW)
    assert run.per_channel[str(ch["held"].pk)] == 3
    (released,) = events("retention.hold_released")
    assert released.changes["released_at"][0] is None and released.changes["released_at"][1]


def test_anonymize_blanks_body_and_author_once(acme):
    old = post(acme.public, acme.member, 100, body="the secret plan")
    young = post(acme.public, acme.member, 1)
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=30, action="anonymize")
    rules = retention.rules_of(acme.org)
    assert retention.retention_preview(org=acme.org, rules=rules, now=NOW)["total"] == 1
    run = retention.retention_run(org=acme.org, now=NOW)
    old.refresh_from_db()
    assert (old.body, old.author_id, run.processed) == (retention.ANONYMIZED_BODY, None, 1)
    assert old.anonymized is not None
    young.refresh_from_db()
    assert young.body == "hello" and young.author_id == acme.member.pk
    assert retention.retention_preview(org=acme.org, rules=rules, now=NOW)["total"] == 0
    assert retention.retention_run(org=acme.org, now=NOW).processed == 0


def test_run_stops_at_its_time_limit_and_the_next_one_continues(acme):
    for days in range(40, 47):
        post(acme.public, acme.member, days)
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=30, action="delete")
    first = retention.retention_run(org=acme.org, now=NOW, batch=3, max_seconds=0)
    assert (first.status, first.processed) == (RetentionRun.Status.PARTIAL, 3)
    second = retention.retention_run(org=acme.org, now=NOW, batch=3)
    assert (second.status, second.processed) == (RetentionRun.Status.DONE, 4)


def test_disabled_policy_runs_nothing_and_records_nothing(acme):
    post(acme.public, acme.member, 1000)
    assert retention.retention_run(org=acme.org, now=NOW) is None
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=False, days=1, action="delete")
    assert retention.retention_run(org=acme.org, now=NOW) is None
    assert not RetentionRun.objects.exists() and Message.objects.count() == 1


def test_policy_change_is_audited_with_before_and_after(acme):
    retention.retention_policy_set(
        actor=acme.owner, org=acme.org, enabled=True, days=90, action="delete",
        overrides=[{"channel": acme.public.pk, "days": None}],
    )  # fmt: skip
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=60, action="delete")
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=60, action="delete")
    first, second = events("retention.policy_changed")  # saving the same policy again records nothing
    assert first.changes["enabled"] == [False, True]
    assert first.changes["overrides"] == [{}, {str(acme.public.pk): None}]
    assert second.changes == {"days": [90, 60]}  # overrides left out stay as they were
    assert ChannelRetentionOverride.objects.get().channel == acme.public


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"days": 0}, "days"),
        ({"days": True}, "days"),
        ({"action": "shred"}, "action"),
        ({"overrides": [{"channel": -1, "days": 5}]}, "overrides"),
        ({"overrides": [{"channel": "{public}", "days": 0}]}, "overrides"),
        ({"overrides": [{"channel": "{public}", "days": 5}, {"channel": "{public}", "days": 6}]}, "overrides"),
    ],
)
def test_bad_policy_is_refused_and_nothing_is_written(acme, changes, field):
    values = {"enabled": True, "days": 30, "action": "delete", **changes}
    for item in values.get("overrides", []):
        item["channel"] = acme.public.pk if item["channel"] == "{public}" else item["channel"]
    with pytest.raises(ValidationError) as refused:
        retention.retention_policy_set(actor=acme.owner, org=acme.org, **values)
    assert field in refused.value.message_dict
    assert not MessageRetentionPolicy.objects.exists() and not events("retention.policy_changed")


def test_only_retention_managers_change_policy_or_holds(acme):
    for actor in (acme.admin, acme.member, acme.auditor):
        with pytest.raises(PermissionDenied):
            retention.retention_policy_set(actor=actor, org=acme.org, enabled=True, days=30, action="delete")
        with pytest.raises(PermissionDenied):
            retention.legal_hold_place(actor=actor, org=acme.org, reason="x", channel=acme.public)


def test_hold_needs_one_target_a_reason_and_a_member(acme, globex):
    with pytest.raises(ValidationError):
        retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="x")
    with pytest.raises(ValidationError):
        retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="x", channel=acme.public, user=acme.member)
    with pytest.raises(ValidationError):
        retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="  ", channel=acme.public)
    with pytest.raises(ValidationError):
        retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="x", user=UserFactory())
    with pytest.raises(ValidationError):
        retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="x", channel=globex.public)
    assert not LegalHold.objects.exists()


def test_held_user_or_channel_cannot_be_deleted(acme):
    from django.db.models import RestrictedError

    retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="Case 3", user=acme.member)
    retention.legal_hold_place(actor=acme.owner, org=acme.org, reason="Case 4", channel=acme.public)
    with pytest.raises(RestrictedError):
        acme.member.delete()
    with pytest.raises(RestrictedError):
        acme.public.delete()


def test_daily_task_runs_every_organization_with_retention_on(acme, globex, settings):
    from django_celery_beat.models import PeriodicTask

    from chatapp.chat import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    from chatapp.celery import app

    app.conf.task_always_eager = True
    try:
        post(acme.public, acme.member, 100)
        post(globex.public, globex.member, 100)
        retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=30, action="delete")
        tasks.retention_run_all()
        tasks.retention_run(999_999)  # a vanished organization is no error
    finally:
        app.conf.task_always_eager = False
    assert Message.objects.filter(organization=acme.org).count() == 0
    assert Message.objects.filter(organization=globex.org).count() == 1
    assert PeriodicTask.objects.get(task="chat.retention_run_all").crontab.hour == "2"


# API


def url(org, rest):
    return f"/api/v1/orgs/{org}/retention/{rest}"


POLICY = {"enabled": True, "days": 30, "action": "delete"}


@time_machine.travel(NOW + timedelta(seconds=1), tick=False)
def test_api_policy_defaults_then_preview_then_save(acme, client_for):
    post(acme.public, acme.member, 100)
    post(acme.private, acme.member, 100)
    post(acme.public, acme.member, 1)
    client = client_for(acme.owner)
    body = client.get(url("acme", "policy")).json()
    assert (body["enabled"], body["overrides"], body["preview"]["total"]) == (False, [], 0)

    dry = {**POLICY, "enabled": False, "overrides": [{"channel": acme.private.pk, "days": None}]}
    response = client.post(url("acme", "preview"), dry, format="json")
    assert response.status_code == 200
    assert response.json()["channels"] == [{"channel": acme.public.pk, "name": "general", "messages": 1}]
    assert not MessageRetentionPolicy.objects.exists() and not ChannelRetentionOverride.objects.exists()

    response = client.put(url("acme", "policy"), POLICY, format="json")
    assert response.status_code == 200
    assert response.json()["preview"]["total"] == 2 and response.json()["enabled"] is True
    assert Message.objects.count() == 3  # saving removes nothing: the daily run does


@pytest.mark.parametrize(
    "body",
    [
        {**POLICY, "days": 0},
        {**POLICY, "days": "thirty"},
        {**POLICY, "action": "shred"},
        {**POLICY, "extra": 1},
        {"days": 30},
        {**POLICY, "overrides": [{"channel": 999_999, "days": 5}]},
        {**POLICY, "overrides": [{"channel": 1, "days": 5, "why": "x"}]},
        {**POLICY, "overrides": "all"},
        [],
    ],
)
def test_api_bad_policy_is_a_400_for_save_and_preview(acme, client_for, body):
    client = client_for(acme.owner)
    for method, path in (("put", "policy"), ("post", "preview")):
        response = getattr(client, method)(url("acme", path), body, format="json")
        assert response.status_code == 400, (method, response.content)
    assert not MessageRetentionPolicy.objects.exists()


def test_api_foreign_channel_override_reads_as_missing(acme, globex, client_for):
    body = {**POLICY, "overrides": [{"channel": globex.public.pk, "days": 5}]}
    response = client_for(acme.owner).put(url("acme", "policy"), body, format="json")
    assert response.status_code == 400 and "globex" not in response.content.decode()


@pytest.mark.parametrize(
    "role, read, write", [("owner", 200, 200), ("admin", 200, 403), ("auditor", 200, 403), ("member", 403, 403)]
)
def test_api_permissions(acme, client_for, role, read, write):
    client = client_for(getattr(acme, role))
    assert client.get(url("acme", "policy")).status_code == read
    assert client.get(url("acme", "holds/")).status_code == read
    assert client.get(url("acme", "runs/")).status_code == read
    assert client.post(url("acme", "preview"), POLICY, format="json").status_code == read
    assert client.put(url("acme", "policy"), POLICY, format="json").status_code == write
    hold = {"channel_id": acme.public.pk, "reason": "Case 1"}
    assert client.post(url("acme", "holds/"), hold, format="json").status_code == (201 if write == 200 else write)


def test_api_holds_place_list_release(acme, client_for):
    client = client_for(acme.owner)
    response = client.post(url("acme", "holds/"), {"user_id": acme.member.pk, "reason": "Case 7"}, format="json")
    assert response.status_code == 201, response.content
    hold = response.json()
    assert hold["user"]["id"] == acme.member.pk and hold["channel"] is None and hold["active"] is True
    # a private channel the owner need not read can be held too
    response = client.post(url("acme", "holds/"), {"channel_id": acme.private.pk, "reason": "Case 8"}, format="json")
    assert response.status_code == 201
    assert len(client.get(url("acme", "holds/")).json()["results"]) == 2
    response = client.post(url("acme", f"holds/{hold['id']}/release"))
    assert response.status_code == 200 and response.json()["active"] is False
    assert client.post(url("acme", f"holds/{hold['id']}/release")).status_code == 409
    (placed, _) = events("retention.hold_placed")
    assert placed.changes["reason"] == [None, "Case 7"]


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "no target"},
        {"channel_id": 1, "user_id": 1, "reason": "both"},
        {"channel_id": 999_999, "reason": "missing"},
        {"user_id": 999_999, "reason": "missing"},
        {"channel_id": "x", "reason": "bad"},
        {"channel_id": 1},
        {"channel_id": 1, "reason": "x" * 501},
    ],
)
def test_api_bad_hold_is_a_400(acme, client_for, body):
    response = client_for(acme.owner).post(url("acme", "holds/"), body, format="json")
    assert response.status_code == 400, response.content
    assert not LegalHold.objects.exists()


def test_api_cross_org(acme, globex, client_for):
    hold = retention.legal_hold_place(actor=globex.owner, org=globex.org, reason="globex case", user=globex.member)
    retention.retention_policy_set(actor=globex.owner, org=globex.org, enabled=True, days=1, action="delete")
    client = client_for(acme.owner)
    routes = [("get", "policy"), ("put", "policy"), ("post", "preview"), ("get", "holds/"),
              ("get", f"holds/{hold.pk}/"), ("post", f"holds/{hold.pk}/release"), ("get", "runs/")]  # fmt: skip
    for method, path in routes:
        assert getattr(client, method)(url("globex", path), POLICY, format="json").status_code == 404, path
    # globex's hold through acme's own slug is missing, and acme's lists show nothing of globex
    assert client.get(url("acme", f"holds/{hold.pk}/")).status_code == 404
    assert client.post(url("acme", f"holds/{hold.pk}/release")).status_code == 404
    assert client_for(globex.member).get(url("acme", "policy")).status_code == 404
    assert "globex" not in client.get(url("acme", "holds/")).content.decode()
    hold.refresh_from_db()
    assert hold.released_at is None


def test_api_runs_list(acme, client_for):
    post(acme.public, acme.member, 100)
    retention.retention_policy_set(actor=acme.owner, org=acme.org, enabled=True, days=30, action="delete")
    run = retention.retention_run(org=acme.org, now=NOW)
    (row,) = client_for(acme.auditor).get(url("acme", "runs/")).json()["results"]
    assert (row["id"], row["processed"], row["per_channel"]) == (run.pk, 1, {str(acme.public.pk): 1})


# Admin


@pytest.fixture
def root(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_shows_the_preview_before_saving_a_policy(acme, root):
    post(acme.public, acme.member, 100)
    form = {"organization": acme.org.pk, "enabled": "on", "days": 30, "action": "delete", "previewed": ""}
    response = root.post("/admin/chat/messageretentionpolicy/add/", form)
    page = response.content.decode()
    assert response.status_code == 200 and "Not saved yet" in page and 'id="retention-preview"' in page
    assert "#general" in page and not MessageRetentionPolicy.objects.exists()
    # the second press saves, carrying what the preview was computed for
    form["previewed"] = f"{acme.org.pk}:30:delete"
    assert root.post("/admin/chat/messageretentionpolicy/add/", form).status_code == 302
    policy = MessageRetentionPolicy.objects.get()
    assert policy.enabled and events("retention.policy_changed")
    # a changed value asks again
    form["days"] = 10
    response = root.post(f"/admin/chat/messageretentionpolicy/{policy.pk}/change/", form)
    assert response.status_code == 200 and "Not saved yet" in response.content.decode()
    policy.refresh_from_db()
    assert policy.days == 30
    page = root.get(f"/admin/chat/messageretentionpolicy/{policy.pk}/change/").content.decode()
    assert "1 message(s) in 1 channel(s)" in page


def test_admin_holds_and_overrides_go_through_the_services(acme, root):
    response = root.post("/admin/chat/legalhold/add/", {"organization": acme.org.pk, "channel": acme.public.pk,
                                                       "user": "", "reason": "Case 9"})  # fmt: skip
    assert response.status_code == 302
    hold = LegalHold.objects.get()
    assert events("retention.hold_placed")
    root.post("/admin/chat/legalhold/", {"action": "release", "_selected_action": [hold.pk]})
    hold.refresh_from_db()
    assert hold.released_at is not None and events("retention.hold_released")
    response = root.post("/admin/chat/channelretentionoverride/add/", {"channel": acme.public.pk, "days": ""})
    assert response.status_code == 302 and ChannelRetentionOverride.objects.get().days is None
    for path in ["/admin/chat/legalhold/", "/admin/chat/retentionrun/", "/admin/chat/channelretentionoverride/",
                 "/admin/chat/messageretentionpolicy/", "/admin/chat/messageretentionpolicy/add/"]:  # fmt: skip
        assert root.get(path).status_code == 200, path
