"""Permission evaluation.

A user's effective permissions in an organization are the union of
  - their active membership's base role (a built-in role key, rbac/roles.py),
  - every org-wide grant to them directly or to a team they belong to or to any ancestor of such a team,
  - for one object, the grants on that object (same subjects), limited to codes declared for its resource type.
Expired grants never count. No membership (or an inactive one): nothing at all, whatever grants remain.

What a user's checks need is loaded at most once per request and memoised on the user object (as
`membership_of` does): the membership (1 query, 0 in the API, which seeds it); a check the base role already
answers yes to stops there. Otherwise one query loads the org-wide grants with their roles, the organization's
roles with their codes, and the teams whose grants reach the user (a recursive CTE up the team tree) -- not the
resource grants: a user may hold thousands. That answers every check without an object, and lets `visible`
filter a list with one semi-join on the grant table (those roles, those teams) inside the list query. The
resource grants themselves are loaded (one query, all of them) only when a check names an object; if that is
the first thing asked, the single load brings everything at once. After that `has_perm` costs no query,
whatever the number of roles, teams, grants or objects checked.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db.models import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Exists,
    F,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import Membership, Organization, User
from rbac.registry import Permission, permissions
from rbac.resources import resource_kind, resource_type_of
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS

_MEMBERSHIP_MEMO = "_membership_cache"
_ACCESS_MEMO = "_rbac_access_cache"
_CEILING_MEMO = "_rbac_credential_ceiling"


def limit_to(user: User, *, org_id: int, codes) -> None:
    """Cap what `user` may do for the rest of this request: only `codes`, only in organization `org_id`.

    Set by API key authentication on the request's (fresh) user object, so a key never does more than its
    scopes, intersected with whatever its owner holds now, and nothing outside its organization.
    """
    user.__dict__[_CEILING_MEMO] = (org_id, frozenset(codes))


def _within_ceiling(user: User, org: Organization, code: str) -> bool:
    ceiling = user.__dict__.get(_CEILING_MEMO)
    return ceiling is None or (ceiling[0] == org.pk and code in ceiling[1])


def _cap(user: User, org: Organization, codes: frozenset[str]) -> frozenset[str]:
    ceiling = user.__dict__.get(_CEILING_MEMO)
    if ceiling is None:
        return codes
    return codes & ceiling[1] if ceiling[0] == org.pk else frozenset()


def membership_of(*, user: User, org: Organization) -> Membership | None:
    """The user's active membership, memoised on the user object for the request (one query at most)."""
    cache = user.__dict__.setdefault(_MEMBERSHIP_MEMO, {})
    if org.pk not in cache:
        cache[org.pk] = Membership.objects.filter(user=user, organization=org, is_active=True).first()
    return cache[org.pk]


def remember_membership(membership: Membership) -> None:
    """Seed the memo with a membership the caller already loaded (the API base view does, once per request).

    A different membership object means a new request: grants memoised for an earlier one are dropped (tests
    reuse one user object across requests; production loads a fresh user per request anyway).
    """
    user, org_id = membership.user, membership.organization_id
    access = user.__dict__.get(_ACCESS_MEMO, {}).get(org_id)
    if access is not None and access.membership is not membership:
        del user.__dict__[_ACCESS_MEMO][org_id]
    user.__dict__.setdefault(_MEMBERSHIP_MEMO, {})[org_id] = membership


def forget_access(user: User, org: Organization | None = None) -> None:
    """Drop the memoised grants (services call it for the users whose access they changed)."""
    memo = user.__dict__.get(_ACCESS_MEMO)
    if memo is None:
        return
    if org is None:
        memo.clear()
    else:
        memo.pop(org.pk, None)


@dataclass(frozen=True)
class _Held:
    """One grant as evaluation needs it: the codes it gives, its scope and its expiry."""

    role_id: int
    codes: frozenset[str]
    expires_at: datetime | None
    # Where it comes from, for explanations (rbac.selectors.permission_explain); evaluation ignores them.
    grant_id: int | None = None
    team_id: int | None = None

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass
class _Access:
    """What one user holds in one organization, as loaded once per request."""

    membership: Membership
    base: frozenset[str]
    user: User
    org: Organization
    org_wide: list[_Held] = field(default_factory=list)
    # Every role of the organization with its codes (tens of rows), so list filtering can name the roles that
    # give a code on a resource type without loading the user's resource grants.
    role_codes: dict[int, frozenset[str]] = field(default_factory=dict)
    # The teams whose grants reach the user (theirs and those teams' ancestors), resolved by the same query, so
    # the list subquery names them and the planner can use the team index.
    team_ids: set[int] = field(default_factory=set)
    # The resource grants themselves, loaded on first use (see `on_resource`).
    loaded_resources: dict[tuple[str, int], list[_Held]] | None = None

    @property
    def on_resource(self) -> dict[tuple[str, int], list[_Held]]:
        """Every grant on a single resource, by (resource_type, id): one query the first time it is asked."""
        if self.loaded_resources is None:
            self.loaded_resources = _resource_grants(user=self.user, org=self.org)
        return self.loaded_resources

    def org_codes(self, now: datetime) -> frozenset[str]:
        codes = set(self.base)
        for held in self.org_wide:
            if held.live(now):
                codes |= held.codes
        return frozenset(codes)

    def may_hold_on(self, resource_type: str, code: str) -> bool:
        """Whether any role could give `code` on this type (False: no need to load the resource grants)."""
        return bool(self.resource_role_ids(resource_type, code))

    def resource_codes(self, resource_type: str, resource_id: int, now: datetime) -> frozenset[str]:
        codes: set[str] = set()
        for held in self.on_resource.get((resource_type, resource_id), ()):
            if held.live(now):
                codes |= held.codes
        return frozenset(codes)

    def resource_role_ids(self, resource_type: str, code: str) -> set[int]:
        """The organization's roles that give `code` when granted on a resource of this type."""
        if code not in permissions or permissions[code].resource != resource_kind(resource_type):
            return set()
        return {role_id for role_id, codes in self.role_codes.items() if code in codes}


def _role_codes(is_built_in: bool, base_role: str, stored) -> frozenset[str]:
    base = BUILT_IN_ROLE_PERMISSIONS.get(base_role, frozenset()) if base_role else frozenset()
    return base if is_built_in else base | frozenset(stored or ())


def _for_resource(codes: frozenset[str], resource_type: str) -> frozenset[str]:
    kind = resource_kind(resource_type)
    return frozenset(code for code in codes if code in permissions and permissions[code].resource == kind)


# Nesting is bounded (team services refuse deeper trees), which also bounds the walk up the tree below.
MAX_TEAM_DEPTH = 6


def _through_teams(*, user: User, org: Organization, column: str = "team_id") -> Q:
    """`column` is one of the teams whose grants reach the user: a team they belong to, or an ancestor of one.

    One recursive CTE walking up from the user's teams (at most MAX_TEAM_DEPTH levels; UNION also stops a
    corrupt cycle). It replaced six ORM subqueries, one per level, whose compilation and planning cost more
    than the grants query itself (bench/rbac_bench.py)."""
    # A constant statement with parameters only (nothing user-supplied is formatted in).
    return Q(**{f"{column}__in": RawSQL(_REACHED_TEAMS_SQL, (user.pk, org.pk, MAX_TEAM_DEPTH))})  # noqa: S611


# rbac_teammember / rbac_team: the tables of rbac.models.TeamMember and Team (every nested-team test runs this).
_REACHED_TEAMS_SQL = (
    "WITH RECURSIVE reach(id, depth) AS ("
    " SELECT team_id, 1 FROM rbac_teammember WHERE user_id = %s AND organization_id = %s"
    " UNION SELECT t.parent_id, reach.depth + 1 FROM rbac_team t JOIN reach ON t.id = reach.id"
    " WHERE t.parent_id IS NOT NULL AND reach.depth < %s"
    ") SELECT id FROM reach"
)


def team_tree(*, user: User, org: Organization) -> tuple[dict[int, int | None], dict[int, str], list[int]]:
    """The organization's team tree in one query: parent of each team, names, and the teams the user is in."""
    from rbac.models import Team, TeamMember

    rows = Team.objects.filter(organization=org).values_list(
        "id", "parent_id", "name", Exists(TeamMember.objects.filter(team=OuterRef("pk"), user=user))
    )
    parent_of: dict[int, int | None] = {}
    names: dict[int, str] = {}
    mine: list[int] = []
    for team_id, parent_id, name, is_member in rows:
        parent_of[team_id] = parent_id
        names[team_id] = name
        if is_member:
            mine.append(team_id)
    return parent_of, names, mine


def _team_ids(*, user: User, org: Organization) -> tuple[int, ...]:
    """The teams the user belongs to and all their ancestors (one query over the organization's team tree)."""
    parent_of, _, mine = team_tree(user=user, org=org)
    found: set[int] = set()
    for team_id in mine:
        while team_id is not None and team_id not in found:  # `found` also stops a corrupt cycle
            found.add(team_id)
            team_id = parent_of.get(team_id)
    return tuple(sorted(found))


def _subjects(*, user: User, org: Organization) -> Q:
    """Grants to the user directly or to one of the teams whose grants reach them (resolved in SQL)."""
    return Q(user=user) | _through_teams(user=user, org=org)


_GRANT_COLUMNS = (
    "id",
    "team_id",
    "role_id",
    "role__is_built_in",
    "role__base_role",
    "role__permissions",
    "resource_type",
    "resource_id",
    "expires_at",
)


def _grant_rows(*, user: User, org: Organization, resources: bool):
    """One query: the user's org-wide grants (with `resources`, every grant of theirs), columns as _GRANT_COLUMNS;
    then one row per role of the organization (grant id NULL, role columns set); then one row per team whose
    grants reach the user (grant id and role NULL, team id set).

    Resource grants are left out by default: a user may hold thousands, and only list filtering and per-object
    checks need them, the first in SQL (`granted_resources`), the second through `_Access.on_resource`."""
    from rbac.models import Grant, Role, Team

    grants = Grant.objects.filter(organization=org).filter(_subjects(user=user, org=org)).order_by()
    if not resources:
        grants = grants.filter(resource_id__isnull=True)  # the partial index rbac_grant_org_wide
    nulls = {
        "no_id": Cast(Value(None), BigIntegerField()),
        "no_flag": Cast(Value(None), BooleanField()),
        "no_text": Cast(Value(None), CharField()),
        "no_codes": Cast(Value(None), Role._meta.get_field("permissions")),
        "no_time": Cast(Value(None), DateTimeField()),
    }
    roles = (
        Role.objects.filter(organization=org)
        .order_by()
        .annotate(**nulls)
        .values_list("no_id", "no_id", "id", "is_built_in", "base_role", "permissions", "no_text", "no_id", "no_time")
    )
    teams = (
        Team.objects.filter(_through_teams(user=user, org=org, column="id"))
        .order_by()
        .annotate(**nulls)
        .values_list("no_id", "id", "no_id", "no_flag", "no_text", "no_codes", "no_text", "no_id", "no_time")
    )
    return grants.values_list(*_GRANT_COLUMNS).union(roles, teams, all=True)


def _codes_of(cache: dict, role_id: int, is_built_in: bool, base_role: str, stored, resource_type: str):
    key = (role_id, resource_type)
    if key not in cache:
        codes = _role_codes(is_built_in, base_role, stored)
        cache[key] = _for_resource(codes, resource_type) if resource_type else codes
    return cache[key]


def _load(*, user: User, org: Organization, membership: Membership, resources: bool) -> _Access:
    access = _Access(
        membership=membership, base=BUILT_IN_ROLE_PERMISSIONS.get(membership.role, frozenset()), user=user, org=org
    )
    codes_of_role: dict[tuple[int, str], frozenset[str]] = {}
    on_resource = defaultdict(list)
    for (
        grant_id,
        team_id,
        role_id,
        is_built_in,
        base_role,
        stored,
        resource_type,
        resource_id,
        expires_at,
    ) in _grant_rows(user=user, org=org, resources=resources):
        if grant_id is None and role_id is None:  # a team row
            access.team_ids.add(team_id)
            continue
        if grant_id is None:  # a role row
            access.role_codes[role_id] = _role_codes(is_built_in, base_role, stored)
            continue
        codes = _codes_of(codes_of_role, role_id, is_built_in, base_role, stored, resource_type)
        held = _Held(role_id=role_id, codes=codes, expires_at=expires_at, grant_id=grant_id, team_id=team_id)
        if resource_id is None:
            access.org_wide.append(held)
        else:
            on_resource[(resource_type, resource_id)].append(held)
    if resources:
        access.loaded_resources = dict(on_resource)
    return access


def _resource_grants(*, user: User, org: Organization) -> dict[tuple[str, int], list[_Held]]:
    from rbac.models import Grant

    rows = (
        Grant.objects.filter(organization=org, resource_id__isnull=False)
        .filter(_subjects(user=user, org=org))
        .order_by()
        .values_list(*_GRANT_COLUMNS)
    )
    codes_of_role: dict[tuple[int, str], frozenset[str]] = {}
    on_resource = defaultdict(list)
    for grant_id, team_id, role_id, is_built_in, base_role, stored, resource_type, resource_id, expires_at in rows:
        codes = _codes_of(codes_of_role, role_id, is_built_in, base_role, stored, resource_type)
        on_resource[(resource_type, resource_id)].append(
            _Held(role_id=role_id, codes=codes, expires_at=expires_at, grant_id=grant_id, team_id=team_id)
        )
    return dict(on_resource)


def _access(*, user: User, org: Organization, resources: bool = False) -> _Access | None:
    """The memoised access; `resources`: the caller will need the resource grants, so a first load brings them
    in the same query."""
    membership = membership_of(user=user, org=org)
    if membership is None:
        return None
    memo = user.__dict__.setdefault(_ACCESS_MEMO, {})
    if org.pk not in memo:
        memo[org.pk] = _load(user=user, org=org, membership=membership, resources=resources)
    return memo[org.pk]


def _key(perm: Permission | str) -> str:
    return perm if isinstance(perm, str) else perm.key


def _resource_of(obj, org: Organization) -> tuple[str, int] | None:
    """(resource_type, id) of an object of this organization; None for anything else (no grant applies)."""
    if obj is None or getattr(obj, "organization_id", None) != org.pk or obj.pk is None:
        return None
    return resource_type_of(obj), obj.pk


def permissions_of(
    *,
    user: User,
    org: Organization,
    obj=None,
    resource: tuple[str, int] | None = None,
    now: datetime | None = None,
) -> frozenset[str]:
    """Every code the user holds in the organization, plus those on `obj` (or on `resource`, a
    (resource_type, id) pair of this organization) if given. Superusers hold every code."""
    if user.is_superuser:
        return _cap(user, org, frozenset(permission.key for permission in permissions))
    resource = resource or _resource_of(obj, org)
    access = _access(user=user, org=org, resources=resource is not None)
    if access is None:
        return frozenset()
    now = now or timezone.now()
    codes = access.org_codes(now)
    if resource is not None:
        codes |= access.resource_codes(*resource, now)
    return _cap(user, org, codes)


def resource_grants_of(
    *, user: User, org: Organization, now: datetime | None = None
) -> dict[tuple[str, int], frozenset[str]]:
    """The codes the user holds through live grants on single resources, by (resource_type, id)."""
    if user.is_superuser:
        return {}
    access = _access(user=user, org=org, resources=True)
    if access is None:
        return {}
    now = now or timezone.now()
    found = {key: _cap(user, org, access.resource_codes(*key, now)) for key in access.on_resource}
    return {key: codes for key, codes in found.items() if codes}


def has_perm(*, user: User, org: Organization, perm: Permission | str, obj=None, now: datetime | None = None) -> bool:
    """Whether the user may use `perm` in the organization, or on `obj` (a resource of that organization)."""
    code = _key(perm)
    if not _within_ceiling(user, org, code):
        return False  # an API key's scopes (limit_to) cap everything below, superusers included
    # Platform superusers operate the instance from the Django admin and pass every check there; the API
    # still requires a membership to reach an organization at all.
    if user.is_superuser:
        return True
    membership = membership_of(user=user, org=org)
    if membership is None:
        return False
    if code in BUILT_IN_ROLE_PERMISSIONS.get(membership.role, ()):
        return True  # the common case costs no query: grants only ever add to the base role
    resource = _resource_of(obj, org)
    access = _access(user=user, org=org, resources=resource is not None)
    now = now or timezone.now()
    if code in access.org_codes(now):
        return True
    # No role of the organization gives the code on this resource type: answered without the resource grants.
    return (
        resource is not None and access.may_hold_on(resource[0], code) and code in access.resource_codes(*resource, now)
    )


def require_perm(
    *, user: User, org: Organization, perm: Permission | str, obj=None, now: datetime | None = None
) -> None:
    """Raise PermissionDenied (403 in the API) naming the missing permission."""
    if not has_perm(user=user, org=org, perm=perm, obj=obj, now=now):
        raise PermissionDenied(f"You need the '{_key(perm)}' permission to do this.")


class IdIn(Lookup):
    """`field IN (subquery)`; on PostgreSQL `field = ANY(ARRAY(subquery))`, which the planner uses as an index
    condition on the primary key: the page is then fetched from the granted ids (a few thousand index probes)
    instead of walking the newest rows and probing a hashed subquery, which at 1,000,000 channels with the grants
    on older ones walked 900,000 rows (1.1 s, bench/rbac_bench.py). Use it as `queryset.filter(IdIn(F("pk"), qs))`.
    """

    lookup_name = "rbac_id_in"
    prepare_rhs = False

    def _sides(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(Subquery(self.rhs))
        return lhs, rhs, (*lhs_params, *rhs_params)

    def as_sql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} IN {rhs}", params

    def as_postgresql(self, compiler, connection):
        lhs, rhs, params = self._sides(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", params


def visible(*, user: User, org: Organization, perm: Permission | str, queryset: QuerySet, now=None) -> QuerySet:
    """The rows of `queryset` (a grantable resource's model) on which the user holds `perm`.

    Org-wide holders get the organization's rows unfiltered; others get the rows they hold a live resource grant
    on, as `id IN (SELECT resource_id FROM rbac_grant ...)` inside the list query (see `granted_resources`).
    Never django-guardian's get_objects_for_user (it casts ids to text and scans; see PITFALLS).
    """
    queryset = queryset.filter(organization=org)
    granted = granted_resources(user=user, org=org, perm=perm, model=queryset.model, now=now)
    return queryset if granted is None else queryset.filter(IdIn(F("pk"), granted))


def granted_resources(*, user: User, org: Organization, perm: Permission | str, model, now=None) -> QuerySet | None:
    """A subquery of the ids of `model`'s rows on which the user holds `perm` through live resource grants, for
    `filter(pk__in=...)`; None when they hold it org-wide (every row).

    The ids stay in SQL: a semi-join on the grant table (by organization, resource type, the roles that give
    `perm` there, the user or their teams and those teams' ancestors, expiry), so the list query does not grow
    with the number of grants and the grants are not loaded into Python. bench/rbac_bench.py: 5,000 grants as
    `id IN (<5,000 parameters>)` cost ~200 ms a page, most of it loading the grants and planning the list.
    """
    from rbac.models import Grant

    code = _key(perm)
    if not _within_ceiling(user, org, code):
        return Grant.objects.none().order_by().values("resource_id")  # outside an API key's scopes: no row
    if user.is_superuser:
        return None
    membership = membership_of(user=user, org=org)
    if membership is None:
        return Grant.objects.none().order_by().values("resource_id")
    if code in BUILT_IN_ROLE_PERMISSIONS.get(membership.role, ()):
        return None
    access = _access(user=user, org=org)
    now = now or timezone.now()
    if code in access.org_codes(now):
        return None
    resource_type = resource_type_of(model)
    roles = access.resource_role_ids(resource_type, code)
    if not roles:
        return Grant.objects.none().order_by().values("resource_id")
    holders = Q(user=user) | Q(team_id__in=sorted(access.team_ids)) if access.team_ids else Q(user=user)
    return (
        Grant.objects.filter(organization=org, resource_type=resource_type, role_id__in=sorted(roles))
        .filter(holders)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()
        .values("resource_id")
    )


def granted_ids(*, user: User, org: Organization, perm: Permission | str, model, now=None) -> list[int] | None:
    """The ids of `model`'s rows on which the user holds `perm` through resource grants, or None when they hold
    it org-wide (every row). To filter a list, use `visible` or `granted_resources` instead: they keep the ids in
    SQL rather than passing thousands of them as parameters."""
    granted = granted_resources(user=user, org=org, perm=perm, model=model, now=now)
    return None if granted is None else sorted(set(granted.values_list("resource_id", flat=True)))


def team_ids_of(*, user: User, org: Organization) -> tuple[int, ...]:
    """The ids of the teams whose grants reach the user: theirs and those teams' ancestors."""
    if membership_of(user=user, org=org) is None:
        return ()
    return _team_ids(user=user, org=org)


def loaded_access(*, user: User, org: Organization) -> _Access | None:
    """What the engine holds for the user (loaded once, memoised), resource grants included: for explanations,
    never a second evaluation. Called first, it loads everything in one query."""
    access = _access(user=user, org=org, resources=True)
    if access is not None:
        access.on_resource  # noqa: B018 -- loads the resource grants if an earlier check left them out
    return access
