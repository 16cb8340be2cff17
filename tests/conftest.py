"""Shared fixtures: two organizations (acme and globex) with people in every base role, and API clients."""

import os
import re
import time
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Membership
from tests.factories import ChannelFactory, ChannelMemberFactory, MembershipFactory, OrganizationFactory


def pytest_configure(config):
    """On Redis, give each xdist worker its own database: the cache is cleared between tests."""
    from django.conf import settings

    location = settings.CACHES["default"].get("LOCATION", "")
    if location.startswith("redis"):
        worker = int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "gw0")) or 0)
        settings.CACHES["default"]["LOCATION"] = re.sub(r"(/\d+)?$", f"/{8 + worker}", location, count=1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashing costs ~230 ms a password by design; tests create many users and test no hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _api_audit_buffer(settings):
    """api.request events wait in the buffer until a test flushes them; none survive into the next test."""
    from audit.api_requests import buffer

    settings.AUDIT_API_AUTOFLUSH = False
    buffer.clear()
    yield
    buffer.clear()


@pytest.fixture(autouse=True)
def _observability_buffer(settings):
    """Request metrics wait in the process buffer until a test flushes them; none survive into the next test."""
    from analytics.observability.perf import buffer

    settings.OBSERVABILITY_AUTOFLUSH = False
    buffer.clear()
    yield
    buffer.clear()


@pytest.fixture(autouse=True)
def _analytics_buffer(settings):
    """Product events wait in the process buffer until a test flushes them: none are written in the middle of
    another test (query counts) or survive into the next one."""
    from analytics.tracking import buffer

    settings.ANALYTICS_AUTOFLUSH = False
    buffer.clear()
    yield
    buffer.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters live in the cache: every test starts with none.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Org:
    org: object
    owner: object
    admin: object
    member: object
    guest: object
    auditor: object
    billing: object
    public: object  # a public channel the owner and member belong to
    private: object  # a private channel only the owner belongs to


def _org(slug):
    org = OrganizationFactory(slug=slug, name=slug.title())
    people = {
        role: MembershipFactory(organization=org, role=role, user__email=f"{role}@{slug}.test").user
        for role in Membership.Role.values
    }
    public = ChannelFactory(organization=org, name="general", created_by=people["owner"])
    private = ChannelFactory(organization=org, name="secret", is_private=True, created_by=people["owner"])
    for user in (people["owner"], people["member"]):
        ChannelMemberFactory(channel=public, user=user)
    ChannelMemberFactory(channel=private, user=people["owner"])
    return Org(org=org, public=public, private=private, **people)


@pytest.fixture
def acme(db):
    return _org("acme")


@pytest.fixture
def globex(db):
    return _org("globex")


@pytest.fixture
def client_for():
    """An API client logged in as the given user (session auth, as a browser or script would be)."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def verified_client_for():
    """A client with a real session that has just passed its user's check: sensitive actions (minting API keys,
    security policy) need that (MFA step-up). Session-based, so its query counts differ from client_for's."""

    def make(user):
        from accounts.services.mfa import VERIFIED_AT_SESSION_KEY

        client = APIClient()
        client.force_login(user, backend="accounts.backends.EmailBackend")
        session = client.session
        session[VERIFIED_AT_SESSION_KEY] = time.time()
        session.save()
        return client

    return make


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def allow_audit_flush(transactional_db):
    """Transactional tests end with a flush of every table; the audit triggers allow it under a purge permit.

    The audit rows go first, here: the flush empties tables in no fixed order, and on SQLite it may empty the
    permit table before the audit table."""
    yield
    from django.db import connection

    from audit.models import AuditPurgePermit

    AuditPurgePermit.objects.create()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
