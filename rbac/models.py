"""Roles, teams, grants and identity-group mappings. Data and invariants only; every write is in services.py."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from chatapp.kernel.models import TenantModel
from rbac.roles import BUILT_IN_ROLE_PERMISSIONS


class Role(TenantModel):
    """A named set of permission codes in one organization.

    Built-in roles (`is_built_in`, `base_role` = their key) take their codes from rbac/roles.py, never from the
    row. A custom role holds its own codes in `permissions` (a JSON list) and may extend a built-in role: its
    effective set is then the built-in set (as the code defines it today) plus its own codes.

    Codes are a JSON list rather than a RolePermission table because a role's set is small (tens of codes), is
    always read whole, and is evaluated in Python from the single query that loads a user's grants; list
    filtering never needs "which roles hold code X" in SQL (the engine resolves that from the grants it already
    loaded). Codes are validated against the registry on every write and by the `rbac.W002` database check.
    """

    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    is_built_in = models.BooleanField(default=False, editable=False)
    base_role = models.CharField(
        max_length=16,
        blank=True,
        choices=[(key, key.title()) for key in BUILT_IN_ROLE_PERMISSIONS],
        help_text="For a built-in role, its key; for a custom role, the built-in role it extends (optional).",
    )
    permissions = models.JSONField(default=list, blank=True, help_text="Permission codes, sorted.")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-is_built_in", "name"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("name"),
                name="rbac_role_name_ci_unique_per_org",
                violation_error_message="A role with this name already exists in this organization.",
            ),
            models.UniqueConstraint(
                fields=["organization", "base_role"], condition=Q(is_built_in=True), name="rbac_role_built_in_once"
            ),
            models.CheckConstraint(
                condition=Q(is_built_in=False) | ~Q(base_role=""), name="rbac_role_built_in_has_key"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def codes(self) -> frozenset[str]:
        """The role's effective permission codes."""
        base = BUILT_IN_ROLE_PERMISSIONS.get(self.base_role, frozenset()) if self.base_role else frozenset()
        return base if self.is_built_in else base | frozenset(self.permissions or ())


class Team(TenantModel):
    """A group of members that roles can be granted to. A child team inherits every grant of its ancestors."""

    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    # Deleting a team makes its children top-level teams instead of deleting them (and their grants) silently.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    created = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMember", related_name="+", blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("name"),
                name="rbac_team_name_ci_unique_per_org",
                violation_error_message="A team with this name already exists in this organization.",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="rbac_team_not_own_parent"),
        ]

    def __str__(self):
        return self.name


class TeamMember(TenantModel):
    """A user in a team. Maintainers may add and remove the team's members."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_maintainer = models.BooleanField(default=False)
    added = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="rbac_team_member_unique")]
        indexes = [models.Index(fields=["user", "team"], name="rbac_team_member_user")]

    def __str__(self):
        return f"{self.user} in {self.team}"


class Grant(TenantModel):
    """A role given to exactly one subject (a user or a team), org-wide or on one resource, possibly until a time.

    The resource is (resource_type, resource_id): the model's label ("chat.channel") and its integer primary
    key, so list filtering is a subquery on integer columns. An expired grant never counts, even before the
    `rbac.grants_expire` task deletes it.
    """

    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    resource_type = models.CharField(max_length=60, blank=True, default="")
    resource_id = models.PositiveBigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, team__isnull=True) | Q(user__isnull=True, team__isnull=False),
                name="rbac_grant_exactly_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(resource_type="", resource_id__isnull=True)
                | (~Q(resource_type="") & Q(resource_id__isnull=False)),
                name="rbac_grant_resource_complete",
            ),
            # NULLs are distinct in unique indexes, so each (subject kind x scope) gets its own partial constraint.
            models.UniqueConstraint(
                fields=["role", "user"],
                condition=Q(user__isnull=False, resource_id__isnull=True),
                name="rbac_grant_unique_user_org_wide",
            ),
            models.UniqueConstraint(
                fields=["role", "team"],
                condition=Q(team__isnull=False, resource_id__isnull=True),
                name="rbac_grant_unique_team_org_wide",
            ),
            models.UniqueConstraint(
                fields=["role", "user", "resource_type", "resource_id"],
                condition=Q(user__isnull=False, resource_id__isnull=False),
                name="rbac_grant_unique_user_resource",
            ),
            models.UniqueConstraint(
                fields=["role", "team", "resource_type", "resource_id"],
                condition=Q(team__isnull=False, resource_id__isnull=False),
                name="rbac_grant_unique_team_resource",
            ),
        ]
        indexes = [
            # visible(): EXISTS (grant on this resource for this user or one of these teams)
            models.Index(fields=["resource_type", "resource_id", "role"], name="rbac_grant_resource"),
            models.Index(fields=["organization", "user"], name="rbac_grant_org_user"),
            # The per-request load reads only org-wide grants (resource grants stay in SQL: see access.py).
            models.Index(fields=["organization"], name="rbac_grant_org_wide", condition=Q(resource_id__isnull=True)),
            models.Index(fields=["expires_at"], name="rbac_grant_expires", condition=Q(expires_at__isnull=False)),
        ]

    def __str__(self):
        subject = self.user or self.team
        scope = f"{self.resource_type}#{self.resource_id}" if self.resource_id is not None else "organization"
        return f"{self.role} to {subject} on {scope}"

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class IdentityGroupMapping(TenantModel):
    """An identity provider's group name mapped to a team and/or a role, applied at SSO login and directory sync.

    `provider` is the key of the organization's SSO connection (empty: any provider). The SSO work reads these
    rows; until then they are data only.
    """

    provider = models.CharField(max_length=100, blank=True, default="")
    group_name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["provider", "group_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False) | Q(role__isnull=False), name="rbac_mapping_has_target"
            ),
            models.UniqueConstraint(
                "organization", "provider", Lower("group_name"), name="rbac_mapping_group_unique_per_provider"
            ),
        ]

    def __str__(self):
        return f"{self.provider or '*'}:{self.group_name}"


class AccessReview(TenantModel):
    """An access-review campaign: reviewers certify, item by item, who holds what in a scope, by a due date.

    Created as a draft with its items snapshotted (rbac.services.reviews.review_create), opened for decisions,
    closed at the due date (undecided items then get `default_action`) or earlier by hand.
    """

    class Scope(models.TextChoices):
        ORGANIZATION = "organization", "Whole organization"
        ROLE = "role", "One role"
        TEAM = "team", "One team"
        RESOURCE_TYPE = "resource_type", "One resource type"

    class Reviewers(models.TextChoices):
        OWNERS = "owners", "The organization's owners"
        TEAM_MAINTAINERS = "team_maintainers", "The team's maintainers"
        USERS = "users", "Named users"

    class DefaultAction(models.TextChoices):
        REVOKE = "revoke", "Revoke"
        KEEP = "keep", "Keep"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ORGANIZATION)
    scope_role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scope_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    scope_resource_type = models.CharField(max_length=60, blank=True, default="")
    reviewer_kind = models.CharField(max_length=20, choices=Reviewers.choices, default=Reviewers.OWNERS)
    reviewer_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    due_at = models.DateTimeField()
    default_action = models.CharField(max_length=8, choices=DefaultAction.choices, default=DefaultAction.KEEP)
    inactive_days = models.PositiveSmallIntegerField(
        default=90, help_text="Flag people with no login and no message in this many days."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["status", "due_at"], name="rbac_review_status_due")]

    def __str__(self):
        return self.name


class AccessReviewItem(TenantModel):
    """One thing a reviewer certifies: a base-role membership, a grant, or a team membership (user x role x scope).

    The descriptive columns are a snapshot taken when the campaign was created, so the record stays readable
    after the grant is revoked (the foreign keys then become NULL).
    """

    class Kind(models.TextChoices):
        BASE_ROLE = "base_role", "Base role"
        GRANT = "grant", "Grant"
        TEAM_MEMBER = "team_member", "Team membership"

    class Decision(models.TextChoices):
        KEEP = "keep", "Keep"
        REVOKE = "revoke", "Revoke"
        CHANGE = "change", "Change role"

    class Outcome(models.TextChoices):
        PENDING = "", "Nothing to apply yet"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The subject: a user (base role, direct grant, team membership) or a team (team grant).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team_name = models.CharField(max_length=80, blank=True)
    # What is reviewed (NULL once it is gone).
    membership = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    grant = models.ForeignKey(Grant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    team_member = models.ForeignKey(TeamMember, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    role_name = models.CharField(max_length=80, blank=True, help_text="The role (or base role) held.")
    resource_type = models.CharField(max_length=60, blank=True, default="")
    resource_id = models.PositiveBigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_login = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True, help_text="The user's latest message.")
    inactive = models.BooleanField(default=False)
    decision = models.CharField(max_length=8, choices=Decision.choices, blank=True, default="")
    new_role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.CharField(max_length=1000, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True, default="")
    outcome_detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["review", "decision"], name="rbac_review_item_decision")]

    def __str__(self):
        subject = self.user or self.team_name
        scope = f" on {self.resource_type}#{self.resource_id}" if self.resource_id is not None else ""
        return f"{subject}: {self.role_name}{scope}"

    @property
    def scope_label(self) -> str:
        if self.kind == self.Kind.TEAM_MEMBER:
            return f"team {self.team_name}"
        return f"{self.resource_type}:{self.resource_id}" if self.resource_id is not None else "organization"
