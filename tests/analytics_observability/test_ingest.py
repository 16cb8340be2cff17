"""The Sentry envelope endpoint: authentication, encodings, items, de-duplication, grouping, quotas."""

import json
import time
import uuid

import pytest
from django.test import Client

from analytics.observability.models import EndpointHour, ErrorEvent, ErrorIssue
from analytics.observability.perf import buffer
from tests.analytics_observability.envelope import auth_header, compress, envelope, exception_event

pytestmark = pytest.mark.django_db


def post(project, body: bytes, *, key=None, encoding="", query="", client=None):
    headers = {"HTTP_X_SENTRY_AUTH": auth_header(key if key is not None else project.public_key)} if key != "" else {}
    if encoding:
        headers["HTTP_CONTENT_ENCODING"] = encoding
    url = f"/ingest/sentry/api/{project.pk}/envelope/{query}"
    return (client or Client()).post(url, compress(body, encoding), content_type="application/x-sentry-envelope",
                                     **headers)  # fmt: skip


@pytest.mark.parametrize("encoding", ["", "gzip", "deflate", "br"])
def test_each_encoding_is_decoded(project, encoding):
    response = post(project, envelope(("event", exception_event())), encoding=encoding)
    assert response.status_code == 200, response.content
    assert ErrorIssue.objects.get(project=project).times_seen == 1


def test_the_same_event_id_twice_is_stored_once(project):
    event = exception_event()
    for _ in range(2):
        assert post(project, envelope(("event", event))).status_code == 200
    assert ErrorEvent.objects.count() == 1 and ErrorIssue.objects.get().times_seen == 1


def test_the_event_id_of_the_envelope_header_is_used_and_answered(project):
    event = exception_event()
    event_id = event.pop("event_id")
    response = post(project, envelope(("event", event), header={"event_id": event_id}))
    assert response.json() == {"id": event_id}
    assert ErrorEvent.objects.get().event_id == event_id


def test_unknown_items_are_skipped_without_dropping_the_event(project):
    body = envelope(
        ("session", {"sid": "x", "status": "ok"}), ("client_report", {"discarded_events": []}),
        ("attachment", b"\x00\x01binary\n"), ("event", exception_event()), ("log", {"items": []}),
    )  # fmt: skip
    assert post(project, body).status_code == 200
    assert ErrorIssue.objects.get(project=project).times_seen == 1


def test_items_without_length_are_read_to_the_newline(project):
    body = envelope(("event", exception_event()), ("event", exception_event()), lengths=False)
    assert post(project, body).status_code == 200
    assert ErrorIssue.objects.get(project=project).times_seen == 2


def test_grouping_ignores_line_numbers_and_values_but_not_the_line_or_the_type(project):
    post(project, envelope(("event", exception_event(value="'a'"))))
    moved = exception_event(value="'b'")
    moved["exception"]["values"][0]["stacktrace"]["frames"][1]["lineno"] = 99
    post(project, envelope(("event", moved)))
    post(project, envelope(("event", exception_event(line="raise KeyError(other)"))))
    issues = list(ErrorIssue.objects.order_by("id").values_list("times_seen", flat=True))
    assert issues == [2, 1]


def test_a_client_fingerprint_with_default_splits_issues_by_its_other_parts(project):
    for tenant in ("a", "a", "b"):
        post(project, envelope(("event", exception_event(fingerprint=["{{ default }}", tenant]))))
    post(project, envelope(("event", exception_event(fingerprint=["only-this"]))))
    post(project, envelope(("event", exception_event(function="other", fingerprint=["only-this"]))))
    assert sorted(ErrorIssue.objects.values_list("times_seen", flat=True)) == [1, 2, 2]


def test_a_message_event_without_exception_groups_by_its_message(project):
    for _ in range(2):
        post(project, envelope(("event", {"event_id": uuid.uuid4().hex, "message": "cache miss storm",
                                          "level": "warning"})))  # fmt: skip
    issue = ErrorIssue.objects.get()
    assert (issue.title, issue.level, issue.times_seen) == ("cache miss storm", "warning", 2)


def test_key_in_the_query_string_works_for_browser_sdks(project):
    response = post(project, envelope(("event", exception_event())), key="", query=f"?sentry_key={project.public_key}")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "*"


def test_no_key_is_401_a_wrong_key_or_project_is_403_and_nothing_is_stored(project, globex_project):
    body = envelope(("event", exception_event()))
    assert post(project, body, key="").status_code == 401
    assert post(project, body, key="f" * 32).status_code == 403
    # another organization's key on this project id: refused the same way
    assert post(project, body, key=globex_project.public_key).status_code == 403
    project.is_active = False
    project.save()
    assert post(project, body).status_code == 403
    assert not ErrorIssue.objects.exists()


def test_over_quota_is_429_with_retry_after_and_sentry_rate_limits(project):
    project.rate_limit_per_minute = 2
    project.save()
    if time.time() % 60 > 57:
        time.sleep(3)  # stay inside one quota minute
    codes = [post(project, envelope(("event", exception_event()))) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    limited = codes[-1]
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["X-Sentry-Rate-Limits"] == f"{limited['Retry-After']}::project:quota_exceeded"
    assert ErrorEvent.objects.count() == 2


@pytest.mark.parametrize("body, encoding", [(b"not json\n", ""), (b"\x00garbage", "gzip"), (b'{}\n{"type"', "")])
def test_malformed_bodies_are_400_problems(project, body, encoding):
    response = Client().post(
        f"/ingest/sentry/api/{project.pk}/envelope/", body, content_type="application/x-sentry-envelope",
        HTTP_X_SENTRY_AUTH=auth_header(project.public_key), **({"HTTP_CONTENT_ENCODING": encoding} if encoding else {}),
    )  # fmt: skip
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"


def test_a_compression_bomb_is_refused_at_the_cap(project, settings):
    settings.OBSERVABILITY_INGEST_MAX_BYTES = 100_000
    bomb = envelope(("event", {"message": "x" * 5_000_000}))
    for encoding in ("gzip", "br", "deflate"):
        assert post(project, bomb, encoding=encoding).status_code == 413
    assert not ErrorEvent.objects.exists()


def test_transactions_feed_the_performance_view(project):
    now = time.time()
    transaction = {
        "type": "transaction", "transaction": "/orders/12345/items/9f8e7d6c5b4a3f2e1d0c", "start_timestamp": now - 0.25,
        "timestamp": now, "contexts": {"trace": {"op": "http.server", "status": "internal_error"}},
    }  # fmt: skip
    assert post(project, envelope(("transaction", transaction))).status_code == 200
    skewed = {**transaction, "transaction": "/late", "start_timestamp": 1_000_000.0, "timestamp": 1_000_000.5}
    assert post(project, envelope(("transaction", skewed))).status_code == 200
    buffer.flush()
    row = EndpointHour.objects.get(source="sdk", route__contains="orders")
    assert (row.route, row.scope, row.requests, row.errors) == (
        "http.server /orders/{id}/items/{id}", project.organization_id, 1, 1)  # fmt: skip
    assert row.duration_ms == pytest.approx(250, abs=1)
    assert EndpointHour.objects.get(route="http.server /late").hour.year >= 2026  # a clock far off: counted now


def test_scrubbed_before_storage_including_title_and_culprit(project):
    event = exception_event(value="token=abc123secret for bob@corp.example from 10.1.2.3")
    event["exception"]["values"][0]["stacktrace"]["frames"][1]["vars"] = {
        "api_key": "k-123",
        "card_number": "4242424242424242",
        "note": "Bearer abcdefghijkl",
    }
    event["user"] = {"id": 7, "email": "bob@corp.example"}
    post(project, envelope(("event", event)))
    stored = json.dumps(list(ErrorEvent.objects.values("data"))) + json.dumps(
        list(ErrorIssue.objects.values("title", "culprit")))  # fmt: skip
    for leaked in ("abc123secret", "bob@corp.example", "10.1.2.3", "k-123", "4242424242424242", "abcdefghijkl"):
        assert leaked not in stored
    assert ErrorIssue.objects.get().users_affected == 1
