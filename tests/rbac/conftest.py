import pytest

from rbac.services import forget_access
from rbac.services.roles import built_in_role


@pytest.fixture
def role_factory():
    """A custom role in an organization, created directly (services are tested on their own)."""
    from rbac.models import Role

    def make(org, name="Custom", permissions=(), base_role=""):
        return Role.objects.create(organization=org, name=name, permissions=sorted(permissions), base_role=base_role)

    return make


@pytest.fixture
def grant():
    """Grant a role directly in the database (bypassing services, to set up a scenario)."""
    from rbac.models import Grant

    def make(role, *, user=None, team=None, resource=None, expires_at=None):
        row = Grant.objects.create(
            organization=role.organization,
            role=role,
            user=user,
            team=team,
            resource_type=resource._meta.label_lower if resource is not None else "",
            resource_id=resource.pk if resource is not None else None,
            expires_at=expires_at,
        )
        for person in (user,):
            if person is not None:
                forget_access(person)
        return row

    return make


@pytest.fixture
def builtin():
    def get(org, key):
        return built_in_role(org=org, key=key)

    return get


def fresh(user):
    """The same user as a new object: no memoised membership or grants (a new request)."""
    return type(user).objects.get(pk=user.pk)
