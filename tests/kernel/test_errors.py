"""Every 4xx (and the 500) has the RFC 9457 shape, and bad input never writes anything."""

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from chatapp.chat.models import Channel

pytestmark = pytest.mark.django_db


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def channels(org):
    return f"/api/v1/orgs/{org.org.slug}/channels/"


def test_400_malformed_json(acme, client_for):
    response = client_for(acme.member).post(channels(acme), data='{"name": ', content_type="application/json")
    assert assert_problem(response, 400)["type"] == "urn:chatapp:problem:malformed-request"


def test_400_wrong_types_and_unknown_fields_name_each_field(acme, client_for):
    response = client_for(acme.member).post(channels(acme), {"name": ["x"], "is_private": "sure", "colour": "red"})
    body = assert_problem(response, 400)
    assert body["type"] == "urn:chatapp:problem:validation-error"
    assert set(body["errors"]) == {"colour"}  # unknown fields are refused before anything else
    response = client_for(acme.member).post(channels(acme), {"name": ["x"], "is_private": "sure"})
    assert set(assert_problem(response, 400)["errors"]) == {"name", "is_private"}
    assert Channel.objects.count() == 2


def test_400_json_that_is_not_an_object(acme, client_for):
    response = client_for(acme.member).post(channels(acme), data="[1, 2]", content_type="application/json")
    assert "non_field_errors" in assert_problem(response, 400)["errors"]


def test_401_anonymous(acme, anon):
    assert_problem(anon.get(channels(acme)), 401)


def test_403_names_the_missing_permission(acme, client_for):
    body = assert_problem(client_for(acme.guest).post(channels(acme), {"name": "x"}), 403)
    assert "channels.create" in body["detail"]


def test_404_unknown_object_and_unknown_api_route(acme, client_for):
    assert_problem(client_for(acme.member).get(channels(acme) + "999999/"), 404)
    assert_problem(client_for(acme.member).get("/api/v1/nothing-here"), 404)


def test_405_lists_allowed_methods(acme, client_for):
    response = client_for(acme.member).put(channels(acme) + f"{acme.public.pk}/", {"name": "x"})
    assert_problem(response, 405)
    assert "PATCH" in response["Allow"]


def test_409_conflict(acme, client_for):
    assert_problem(client_for(acme.member).post(channels(acme), {"name": "general"}), 409)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_413_oversized_body(acme, client_for):
    response = client_for(acme.member).post(channels(acme), {"name": "x" * 2000})
    assert assert_problem(response, 413)["type"] == "urn:chatapp:problem:payload-too-large"
    assert Channel.objects.count() == 2


def test_415_form_bodies_are_refused(acme, client_for):
    response = client_for(acme.member).post(channels(acme), {"name": "x"}, format="multipart")
    assert_problem(response, 415)


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf", fromlist=["settings"]).settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "3/min", "login": "10/min"},
    }
)
def test_429_with_retry_after(acme, client_for, monkeypatch):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", api_settings.DEFAULT_THROTTLE_RATES)
    client = client_for(acme.member)
    # Fixed windows: on a slow machine four requests could straddle a minute boundary; freeze the clock.
    with time_machine.travel("2026-11-25 10:00:10+00:00", tick=False):
        statuses = [client.get(channels(acme)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = client.get(channels(acme))
    assert assert_problem(response, 429)["type"] == "urn:chatapp:problem:rate-limited"
    assert int(response["Retry-After"]) > 0


def test_500_is_a_problem_with_the_request_id(acme, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database exploded with password=hunter2")

    monkeypatch.setattr("chatapp.chat.selectors.channels_visible_to", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(acme.member)
    response = client.get(channels(acme), HTTP_X_REQUEST_ID="abc123")
    body = assert_problem(response, 500)
    assert "abc123" in body["detail"]
    assert "hunter2" not in response.content.decode()


def test_non_api_404_stays_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "problem+json" not in response["Content-Type"]
