"""Event collection: track() from services, the events API (bad items reported by index), the PostHog ingest
with the real `posthog` client, pseudonymous ids and truncated addresses, the opt-out, erasure and retention."""

import gzip
import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.services.privacy import user_erase
from analytics.models import Event, RollupCount
from analytics.services import events_purge, ingest_key_create
from analytics.stats import fill_all
from analytics.tracking import UndeclaredEvent, buffer, person_of, track, truncate_ip
from audit.models import AuditEvent
from chatapp.chat.services import channel_create, message_post

EVENTS_URL = "/api/v1/orgs/acme/analytics/events"


def test_services_track_their_events_pseudonymously(acme):
    channel = channel_create(actor=acme.member, org=acme.org, name="launch")
    message_post(actor=acme.member, org=acme.org, channel=channel, body="hello")
    assert Event.objects.count() == 0  # buffered: nothing written in the caller's request
    assert buffer.flush() == 2
    events = {e.name: e for e in Event.objects.all()}
    assert set(events) == {"channel.created", "message.posted"}
    posted = events["message.posted"]
    assert posted.channel_id == channel.pk and posted.client == "server"
    assert posted.person == person_of(acme.member.pk) != acme.member.pk  # a keyed hash, not the id
    assert str(acme.member.pk) not in json.dumps(posted.properties)


def test_undeclared_event_is_an_error_in_tests(acme):
    with pytest.raises(UndeclaredEvent, match="not declared"):
        track("message.sent_typo", org=acme.org, user=acme.member)


def test_track_never_breaks_its_caller_when_the_write_fails(acme, settings):
    track("message.posted", org=acme.org, user=acme.member, properties={"bad": object()})  # cannot be stored
    assert buffer.flush() == 0  # logged and counted, not raised
    assert Event.objects.count() == 0


def test_ip_addresses_are_truncated():
    assert truncate_ip("203.0.113.77") == "203.0.113.0"
    assert truncate_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert truncate_ip("::ffff:198.51.100.9") == "198.51.100.0"
    assert truncate_ip("not an address") is None


def test_events_api_stores_good_items_and_reports_bad_ones_by_index(acme, client_for):
    now = timezone.now()
    batch = [
        {"event": "checkout_opened", "properties": {"plan": "pro", "token": "secret-do-not-keep"}, "client": "web"},
        {"properties": {}},
        {"event": "x", "timestamp": "yesterday"},
        {"event": "x", "timestamp": (now - timedelta(days=200)).isoformat()},
        {"event": "x", "client": "fridge"},
        {"event": "x", "uuid": "not-a-uuid"},
        "not an object",
        {"event": "$pageview", "timestamp": (now - timedelta(hours=2)).isoformat(), "client": "mobile"},
    ]
    response = client_for(acme.member).post(EVENTS_URL, {"events": batch}, format="json",
                                            REMOTE_ADDR="198.51.100.23")  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 6)
    reasons = {e["index"]: e["reason"] for e in body["errors"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "required" in reasons[1] and "ISO 8601" in reasons[2] and "retention" in reasons[3]
    assert "client" in reasons[4] and "UUID" in reasons[5] and "object" in reasons[6]
    stored = {e.name: e for e in Event.objects.filter(organization=acme.org)}
    assert set(stored) == {"checkout_opened", "$pageview"}
    assert stored["checkout_opened"].properties == {"plan": "pro"}  # the key is never stored
    assert stored["$pageview"].client == "mobile" and stored["$pageview"].source == "api"
    assert stored["checkout_opened"].ip == "198.51.100.0"


def test_events_api_refuses_a_body_that_is_not_a_batch_and_writes_nothing(acme, client_for):
    client = client_for(acme.member)
    assert client.post(EVENTS_URL, {"events": []}, format="json").status_code == 400
    assert client.post(EVENTS_URL, {"events": [{"event": "x"}] * 1001}, format="json").status_code == 400
    assert client.post(EVENTS_URL, {"evnts": []}, format="json").status_code == 400
    assert Event.objects.count() == 0


def test_events_api_is_org_scoped(acme, globex, client_for):
    response = client_for(globex.member).post(EVENTS_URL, {"events": [{"event": "x"}]}, format="json")
    assert response.status_code == 404
    assert Event.objects.count() == 0


def test_opt_out_stops_every_source(acme, client_for):
    client = client_for(acme.owner)
    assert client.patch("/api/v1/orgs/acme/analytics/settings", {"enabled": False}, format="json").json() == {
        "enabled": False
    }
    track("message.posted", org=acme.org, user=acme.member)
    buffer.flush()
    response = client.post(EVENTS_URL, {"events": [{"event": "x"}]}, format="json")
    assert response.json()["opted_out"] is True
    assert Event.objects.count() == 0
    assert AuditEvent.objects.filter(event_name="analytics.settings_changed").count() == 1
    assert client_for(acme.member).patch("/api/v1/orgs/acme/analytics/settings", {"enabled": True},
                                         format="json").status_code == 403  # fmt: skip


def test_erasure_pseudonymizes_the_persons_events_and_drops_their_rollups(acme):
    track("message.posted", org=acme.org, user=acme.member, properties={"length": 5})
    track("message.posted", org=acme.org, user=acme.owner)
    buffer.flush()
    fill_all()
    person = person_of(acme.member.pk)
    assert RollupCount.objects.filter(stat="person_events:day", object_id=person).exists()
    done = user_erase(user=acme.member, actor=acme.owner)
    assert done["analytics_events_pseudonymized"] == 1
    assert not Event.objects.filter(person=person).exists()
    erased = Event.objects.get(person=0)
    assert erased.properties == {} and erased.ip is None
    assert not RollupCount.objects.filter(object_id=person).exists()
    assert Event.objects.filter(person=person_of(acme.owner.pk)).count() == 1  # others untouched
    assert AuditEvent.objects.filter(event_name="analytics.events_erased", organization=acme.org).exists()


def test_raw_events_past_retention_are_dropped_rollups_kept(acme, settings):
    from tests.analytics.conftest import store

    settings.ANALYTICS_RETENTION_DAYS = 90
    now = timezone.now()
    store(acme.org, "message.posted", now - timedelta(days=10), user=acme.member)
    with time_machine.travel(now + timedelta(days=200), tick=False):
        fill_all()
        assert events_purge() == 1
    assert Event.objects.count() == 0
    assert RollupCount.objects.filter(stat="events:hour").exists()


# --- PostHog ----------------------------------------------------------------------------------------------


@pytest.fixture
def ingest_key(acme):
    from django.db import transaction

    with transaction.atomic():
        _, raw = ingest_key_create(actor=acme.admin, org=acme.org, name="web app")
    return raw


def test_the_real_posthog_client_events_arrive_and_are_counted(live_server, allow_audit_flush, acme, ingest_key):
    from posthog import Posthog

    for gzip_on in (False, True):
        client = Posthog(ingest_key, host=f"{live_server.url}/ingest/posthog", sync_mode=True, gzip=gzip_on,
                         max_retries=0, enable_local_evaluation=False)  # fmt: skip
        client.capture("report_opened", distinct_id="visitor-1", properties={"$lib": "web", "$ip": "203.0.113.5"})
        client.capture("report_opened", distinct_id="visitor-2")
        client.capture("$pageview", distinct_id="visitor-1", properties={"$current_url": "https://acme.test/"})
        client.shutdown()
    events = Event.objects.filter(organization=acme.org, source="posthog")
    assert events.count() == 6
    assert "$ip" not in events.first().properties
    assert events.filter(name="report_opened", client="api").count() == 4  # $lib: posthog-python
    fill_all()
    assert sum(RollupCount.objects.filter(stat="events:hour", subgroup="report_opened").values_list(
        "value", flat=True)) == 4  # fmt: skip
    assert RollupCount.objects.get(stat="active_users:day", organization=acme.org).value == 2  # two visitors


def test_posthog_batch_retried_with_the_same_uuids_is_stored_once(client, acme, ingest_key):
    event = {"event": "signup", "distinct_id": "d1", "uuid": str(uuid.uuid4()),
             "timestamp": timezone.now().isoformat(), "properties": {"$lib": "posthog-ios"}}  # fmt: skip
    body = gzip.compress(json.dumps({"api_key": ingest_key, "batch": [event]}).encode())
    for _ in range(2):
        response = client.post("/ingest/posthog/batch/", body, content_type="application/json",
                               HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
        assert response.status_code == 200
    stored = Event.objects.get(name="signup")
    assert stored.client == "mobile"


def test_posthog_browser_capture_with_the_token_in_the_event(client, acme, ingest_key):
    import base64

    payload = [{"event": "$autocapture", "properties": {"token": ingest_key, "distinct_id": "b1"}}]
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    response = client.post("/ingest/posthog/e/?compression=base64", f"data={data}",
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"]
    assert Event.objects.get(name="$autocapture").properties == {"distinct_id": "b1"}
    assert client.post("/ingest/posthog/decide/?v=3", "{}", content_type="application/json").json()["flags"] == {}


def test_posthog_bad_key_and_bad_bodies(client, acme, ingest_key):
    batch = {"api_key": "phc_wrong", "batch": [{"event": "x", "distinct_id": "d"}]}
    assert client.post("/ingest/posthog/batch/", batch, content_type="application/json").status_code == 401
    assert client.post("/ingest/posthog/batch/", "{not json", content_type="application/json").status_code == 400
    bomb = gzip.compress(b"[" + b" " * 6_000_000 + b"]")
    response = client.post("/ingest/posthog/batch/", bomb, content_type="application/json",
                           HTTP_CONTENT_ENCODING="gzip")  # fmt: skip
    assert response.status_code == 400 and "decompressed" in response.json()["detail"]
    assert Event.objects.count() == 0


def test_a_revoked_key_is_refused(client, acme, ingest_key, client_for):
    keys = client_for(acme.admin).get("/api/v1/orgs/acme/analytics/ingest-keys/").json()
    assert [k["prefix"] for k in keys] == [ingest_key[:12]] and "key" not in keys[0]
    assert client_for(acme.admin).delete(f"/api/v1/orgs/acme/analytics/ingest-keys/{keys[0]['id']}/").status_code == 204
    batch = {"api_key": ingest_key, "batch": [{"event": "x", "distinct_id": "d"}]}
    assert client.post("/ingest/posthog/batch/", batch, content_type="application/json").status_code == 401


def test_ingest_keys_are_org_scoped_and_need_analytics_manage(acme, globex, client_for, ingest_key):
    key_id = client_for(acme.admin).get("/api/v1/orgs/acme/analytics/ingest-keys/").json()[0]["id"]
    assert client_for(globex.admin).delete(f"/api/v1/orgs/globex/analytics/ingest-keys/{key_id}/").status_code == 404
    assert client_for(acme.member).get("/api/v1/orgs/acme/analytics/ingest-keys/").status_code == 403
    created = client_for(acme.admin).post("/api/v1/orgs/acme/analytics/ingest-keys/", {"name": "ios"}, format="json")
    assert created.status_code == 201 and created.json()["key"].startswith("phc_")
    raw = created.json()["key"]
    assert not AuditEvent.objects.filter(metadata__icontains=raw).exists()
