"""Passwords are hashed with Argon2id at OWASP's cost; hashes made with Django's heavier default still verify and
are re-hashed at the next login."""

import pytest
from argon2 import PasswordHasher
from django.contrib.auth.hashers import check_password, make_password

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
REAL = ["accounts.hashers.Argon2idHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def test_new_hashes_are_argon2id_at_the_configured_cost(settings):
    settings.PASSWORD_HASHERS = REAL
    encoded = make_password("correct horse battery")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password("correct horse battery", encoded)
    assert not check_password("wrong horse battery", encoded)
    settings.ARGON2_MEMORY_KIB = 65536
    assert "m=65536,t=2,p=1" in make_password("x" * 16)  # operators can raise it on larger machines


def test_a_hash_at_djangos_default_cost_verifies_and_is_upgraded_at_login(acme, client, settings):
    settings.PASSWORD_HASHERS = REAL
    heavy = "argon2" + PasswordHasher(time_cost=2, memory_cost=102400, parallelism=8).hash(PASSWORD)
    User.objects.filter(pk=acme.member.pk).update(password=heavy)
    response = client.post("/api/v1/auth/session", {"email": acme.member.email, "password": PASSWORD},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    rehashed = User.objects.get(pk=acme.member.pk).password
    assert rehashed != heavy and "$m=19456,t=2,p=1$" in rehashed
