"""Identity-group mappings over the API: sso.manage to read, step-up to write, org-scoped, audited."""

import pytest

from accounts.models import IdentityProvider
from audit.models import AuditEvent
from rbac.models import IdentityGroupMapping, Team
from tests.rbac.conftest import fresh

URL = "/api/v1/orgs/{org}/rbac/group-mappings/"


@pytest.fixture
def okta(acme):
    return IdentityProvider.objects.create(
        organization=acme.org, kind="oidc", slug="okta", name="Okta", email_domains=["acme.test"], config={}
    )


@pytest.fixture
def engineering(acme):
    return Team.objects.create(organization=acme.org, name="Engineering")


def test_owner_maps_a_group_to_a_team_and_role_and_it_is_audited(acme, okta, engineering, builtin, verified_client_for):
    role = builtin(acme.org, "admin")
    response = verified_client_for(acme.owner).post(
        URL.format(org="acme"),
        {"group_name": "eng-admins", "provider": "okta", "team_id": engineering.pk, "role_id": role.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "okta" and body["group_name"] == "eng-admins"
    assert body["team"] == {"id": engineering.pk, "name": "Engineering"}
    assert body["role"]["id"] == role.pk
    assert AuditEvent.objects.filter(organization=acme.org, event_name="rbac.mapping.created").count() == 1

    listed = verified_client_for(acme.owner).get(URL.format(org="acme")).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["group_name"] for row in rows] == ["eng-admins"]


def test_writes_need_step_up(acme, engineering, client_for):
    response = client_for(acme.owner).post(
        URL.format(org="acme"), {"group_name": "eng", "team_id": engineering.pk}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("step-up-required")
    assert not IdentityGroupMapping.objects.exists()


def test_bad_input_is_a_clear_400_and_nothing_written(acme, globex, verified_client_for):
    client = verified_client_for(acme.owner)
    other_team = Team.objects.create(organization=globex.org, name="Theirs")
    cases = [
        ({"group_name": "eng"}, "non_field_errors"),
        ({"group_name": "eng", "team_id": other_team.pk}, "team_id"),  # another org's team: not found here
        ({"group_name": "eng", "provider": "nope", "team_id": 1}, "provider"),
        ({"group_name": "", "role_id": 1}, "group_name"),
        ({"group_name": "eng", "role_id": "x"}, "role_id"),
    ]
    for payload, field in cases:
        response = client.post(URL.format(org="acme"), payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in str(response.json()), (payload, response.json())
    assert not IdentityGroupMapping.objects.exists()


def test_duplicate_group_is_a_conflict(acme, engineering, verified_client_for):
    client = verified_client_for(acme.owner)
    payload = {"group_name": "Eng", "team_id": engineering.pk}
    assert client.post(URL.format(org="acme"), payload, format="json").status_code == 201
    again = client.post(URL.format(org="acme"), {"group_name": "eng", "team_id": engineering.pk}, format="json")
    assert again.status_code == 409
    assert IdentityGroupMapping.objects.count() == 1


def test_members_cannot_read_or_write(acme, engineering, client_for, verified_client_for):
    assert client_for(acme.member).get(URL.format(org="acme")).status_code == 403
    response = verified_client_for(acme.member).post(
        URL.format(org="acme"), {"group_name": "eng", "team_id": engineering.pk}, format="json"
    )
    assert response.status_code == 403
    assert not IdentityGroupMapping.objects.exists()


def test_delete_needs_step_up_and_is_audited(acme, engineering, client_for, verified_client_for):
    mapping = IdentityGroupMapping.objects.create(organization=acme.org, group_name="eng", team=engineering)
    detail = URL.format(org="acme") + f"{mapping.pk}/"
    assert client_for(acme.owner).delete(detail).status_code == 403
    assert verified_client_for(fresh(acme.owner)).delete(detail).status_code == 204
    assert not IdentityGroupMapping.objects.exists()
    assert AuditEvent.objects.filter(organization=acme.org, event_name="rbac.mapping.deleted").count() == 1


def test_another_organizations_mapping_is_a_404(acme, globex, verified_client_for):
    team = Team.objects.create(organization=globex.org, name="Theirs")
    theirs = IdentityGroupMapping.objects.create(organization=globex.org, group_name="g", team=team)
    client = verified_client_for(acme.owner)
    assert client.get(URL.format(org="acme") + f"{theirs.pk}/").status_code == 404
    assert client.delete(URL.format(org="acme") + f"{theirs.pk}/").status_code == 404
    assert client.get(URL.format(org="globex")).status_code == 404
    assert IdentityGroupMapping.objects.filter(pk=theirs.pk).exists()


def test_list_query_count_does_not_grow(acme, django_assert_max_num_queries, verified_client_for):
    teams = [Team.objects.create(organization=acme.org, name=f"T{i}") for i in range(10)]
    for i, team in enumerate(teams):
        IdentityGroupMapping.objects.create(organization=acme.org, group_name=f"g{i}", team=team)
    client = verified_client_for(acme.owner)
    client.get(URL.format(org="acme"))  # warm the session
    with django_assert_max_num_queries(12):
        response = client.get(URL.format(org="acme"))
    assert response.status_code == 200
