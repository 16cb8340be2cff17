from rest_framework import serializers

from accounts.api.serializers import UserSummarySerializer
from chatapp.kernel.api import StrictSerializer
from rbac.models import AccessReview, AccessReviewItem, Grant, IdentityGroupMapping, Role, Team, TeamMember

# The model field's choices (one enum in the OpenAPI schema); blank means "extends no built-in role".
BASE_ROLES = Role._meta.get_field("base_role").choices


class PermissionSerializer(serializers.Serializer):
    key = serializers.CharField()
    description = serializers.CharField()
    resource = serializers.CharField()


class RoleSerializer(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField(help_text="Effective codes (a base role's included).")
    own_permissions = serializers.ListField(source="permissions", child=serializers.CharField())

    class Meta:
        model = Role
        fields = ["id", "name", "description", "is_built_in", "base_role", "permissions", "own_permissions", "created"]
        read_only_fields = fields

    def get_permissions(self, role) -> list[str]:
        return sorted(role.codes)


class RoleCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    base_role = serializers.ChoiceField(choices=BASE_ROLES, allow_blank=True, required=False, default="")
    permissions = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)


class RoleUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80, required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    base_role = serializers.ChoiceField(choices=BASE_ROLES, allow_blank=True, required=False)
    permissions = serializers.ListField(child=serializers.CharField(max_length=100), required=False)


class TeamSerializer(serializers.ModelSerializer):
    parent_id = serializers.IntegerField(read_only=True, allow_null=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "description", "parent_id", "member_count", "created"]
        read_only_fields = fields


class TeamCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    parent_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class TeamUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80, required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    parent_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class TeamMemberSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = TeamMember
        fields = ["id", "user", "is_maintainer", "added"]
        read_only_fields = fields


class TeamMemberAddSerializer(StrictSerializer):
    user_id = serializers.IntegerField(min_value=1)
    is_maintainer = serializers.BooleanField(
        required=False, help_text="Omitted: false for a new member, unchanged for an existing one."
    )


class TeamMemberUpdateSerializer(StrictSerializer):
    is_maintainer = serializers.BooleanField()


class GrantSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    user = UserSummarySerializer(read_only=True, allow_null=True)
    team = serializers.SerializerMethodField()
    resource_type = serializers.SerializerMethodField()
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Grant
        fields = [
            "id",
            "role",
            "user",
            "team",
            "resource_type",
            "resource_id",
            "expires_at",
            "created_by_id",
            "created",
        ]
        read_only_fields = fields

    def get_role(self, grant) -> dict:
        return {"id": grant.role_id, "name": grant.role.name}

    def get_team(self, grant) -> dict | None:
        return {"id": grant.team_id, "name": grant.team.name} if grant.team_id else None

    def get_resource_type(self, grant) -> str | None:
        return grant.resource_type or None


class GrantCreateSerializer(StrictSerializer):
    role_id = serializers.IntegerField(min_value=1)
    user_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    team_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    resource_type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    resource_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, data):
        if (data["user_id"] is None) == (data["team_id"] is None):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of user_id and team_id."]})
        if bool(data["resource_type"]) != (data["resource_id"] is not None):
            raise serializers.ValidationError(
                {"resource_id": ["Give both resource_type and resource_id, or neither (org-wide)."]}
            )
        return data


class GroupMappingSerializer(serializers.ModelSerializer):
    provider = serializers.SerializerMethodField(help_text="The identity provider's slug; null for every provider.")
    team = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta:
        model = IdentityGroupMapping
        fields = ["id", "provider", "group_name", "team", "role", "created"]
        read_only_fields = fields

    def get_provider(self, mapping) -> str | None:
        return mapping.provider or None

    def get_team(self, mapping) -> dict | None:
        return {"id": mapping.team_id, "name": mapping.team.name} if mapping.team_id else None

    def get_role(self, mapping) -> dict | None:
        return {"id": mapping.role_id, "name": mapping.role.name} if mapping.role_id else None


class GroupMappingCreateSerializer(StrictSerializer):
    group_name = serializers.CharField(max_length=200, help_text="The group as the IdP sends it (case-insensitive).")
    provider = serializers.SlugField(
        max_length=50,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Slug of one of the organization's identity providers; empty for every provider.",
    )
    team_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    role_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)

    def validate(self, data):
        if data["team_id"] is None and data["role_id"] is None:
            raise serializers.ValidationError({"non_field_errors": ["Map the group to a team, a role or both."]})
        data["provider"] = data["provider"] or ""
        return data


class ResourcePermissionsSerializer(serializers.Serializer):
    resource_type = serializers.CharField()
    resource_id = serializers.IntegerField()
    permissions = serializers.ListField(child=serializers.CharField())


class MyPermissionsSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="The membership's base role.")
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Codes held org-wide.")
    teams = serializers.ListField(child=serializers.IntegerField(), help_text="Team ids, ancestors included.")
    resources = ResourcePermissionsSerializer(many=True, help_text="Extra codes held on single resources.")


# --- Explain ---------------------------------------------------------------------------------------------------


class ExplainTeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ExplainRoleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ExplainSourceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["base_role", "org_grant", "resource_grant"])
    counts = serializers.BooleanField(help_text="Whether this source gives the permission in the asked scope now.")
    gives = serializers.BooleanField(required=False, help_text="Base role only: whether its set holds the code.")
    role = serializers.JSONField(help_text="The base role key, or {id, name} of a granted role.")
    grant_id = serializers.IntegerField(required=False)
    resource_type = serializers.CharField(required=False, allow_null=True)
    resource_id = serializers.IntegerField(required=False, allow_null=True)
    via = serializers.ChoiceField(choices=["direct", "team"], required=False)
    teams = ExplainTeamSerializer(
        many=True, required=False, help_text="Team the user is in first, then each parent up to the granted team."
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    live = serializers.BooleanField(required=False, help_text="False once the grant has expired.")


class ExplainSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    user = UserSummarySerializer()
    permission = serializers.CharField()
    object = serializers.CharField(allow_null=True)
    summary = serializers.CharField()
    sources = ExplainSourceSerializer(many=True)


# --- What-if ---------------------------------------------------------------------------------------------------

WHAT_IF_CHANGES = ["role_update", "grant_create", "grant_revoke", "team_member_add", "team_member_remove"]


class WhatIfSerializer(StrictSerializer):
    """One proposed change; which fields apply depends on `change`."""

    change = serializers.ChoiceField(choices=WHAT_IF_CHANGES)
    role_id = serializers.IntegerField(min_value=1, required=False, help_text="role_update, grant_create")
    permissions = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text="role_update: the new own codes"
    )
    base_role = serializers.ChoiceField(choices=BASE_ROLES, allow_blank=True, required=False, help_text="role_update")
    user_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="grant_create, team_member_*"
    )
    team_id = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="grant_create, team_member_*"
    )
    resource_type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    resource_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    grant_id = serializers.IntegerField(min_value=1, required=False, help_text="grant_revoke")

    REQUIRED = {
        "role_update": ["role_id"],
        "grant_create": ["role_id"],
        "grant_revoke": ["grant_id"],
        "team_member_add": ["team_id", "user_id"],
        "team_member_remove": ["team_id", "user_id"],
    }

    def validate(self, data):
        missing = [name for name in self.REQUIRED[data["change"]] if data.get(name) is None]
        if missing:
            raise serializers.ValidationError({name: [f"Required for {data['change']}."] for name in missing})
        return data


class WhatIfResourceSerializer(serializers.Serializer):
    resource_type = serializers.CharField()
    resource_id = serializers.IntegerField()
    gained = serializers.ListField(child=serializers.CharField())
    lost = serializers.ListField(child=serializers.CharField())


class WhatIfUserSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    gained = serializers.ListField(child=serializers.CharField(), help_text="Codes gained org-wide.")
    lost = serializers.ListField(child=serializers.CharField(), help_text="Codes lost org-wide.")
    resources = WhatIfResourceSerializer(many=True, help_text="Codes gained or lost on single resources.")


class WhatIfResultSerializer(serializers.Serializer):
    change = serializers.CharField()
    users_checked = serializers.IntegerField()
    changes = WhatIfUserSerializer(many=True)


# --- Access reviews --------------------------------------------------------------------------------------------


class AccessReviewSerializer(serializers.ModelSerializer):
    scope_role_id = serializers.IntegerField(read_only=True, allow_null=True)
    scope_team_id = serializers.IntegerField(read_only=True, allow_null=True)
    reviewer_ids = serializers.SerializerMethodField()
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    # A plain string in the schema: an enum named after "status" collides with other apps' status enums.
    status = serializers.CharField(read_only=True, help_text="draft, open or closed.")
    item_count = serializers.IntegerField(read_only=True)
    undecided_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AccessReview
        fields = [
            "id", "name", "description", "scope", "scope_role_id", "scope_team_id", "scope_resource_type",
            "reviewer_kind", "reviewer_ids", "due_at", "default_action", "inactive_days", "status",
            "created_by_id", "created", "opened_at", "closed_at", "item_count", "undecided_count",
        ]  # fmt: skip
        read_only_fields = fields

    def get_reviewer_ids(self, review) -> list[int]:
        return sorted(user.pk for user in review.reviewer_users.all())


class AccessReviewCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    scope = serializers.ChoiceField(choices=AccessReview.Scope.choices, default=AccessReview.Scope.ORGANIZATION)
    role_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    team_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    resource_type = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    reviewer_kind = serializers.ChoiceField(choices=AccessReview.Reviewers.choices, default="owners")
    reviewer_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    due_at = serializers.DateTimeField()
    default_action = serializers.ChoiceField(choices=AccessReview.DefaultAction.choices, default="keep")
    inactive_days = serializers.IntegerField(min_value=1, max_value=3650, default=90)


class AccessReviewUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    due_at = serializers.DateTimeField(required=False)
    default_action = serializers.ChoiceField(choices=AccessReview.DefaultAction.choices, required=False)
    reviewer_kind = serializers.ChoiceField(choices=AccessReview.Reviewers.choices, required=False)
    reviewer_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class AccessReviewItemSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True, allow_null=True)
    team_id = serializers.IntegerField(read_only=True, allow_null=True)
    grant_id = serializers.IntegerField(read_only=True, allow_null=True)
    new_role_id = serializers.IntegerField(read_only=True, allow_null=True)
    decided_by = UserSummarySerializer(read_only=True, allow_null=True)
    scope = serializers.CharField(source="scope_label", read_only=True)

    class Meta:
        model = AccessReviewItem
        fields = [
            "id", "kind", "user", "team_id", "team_name", "grant_id", "role_name", "scope", "resource_type",
            "resource_id", "expires_at", "last_login", "last_activity", "inactive", "decision", "new_role_id",
            "comment", "decided_by", "decided_at", "outcome", "outcome_detail",
        ]  # fmt: skip
        read_only_fields = fields


class AccessReviewDecideSerializer(StrictSerializer):
    item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=500)
    decision = serializers.ChoiceField(choices=AccessReviewItem.Decision.choices)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    new_role_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class ReviewSummaryCountsSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    decided = serializers.IntegerField()
    undecided = serializers.IntegerField()
    inactive = serializers.IntegerField()
    by_decision = serializers.DictField(child=serializers.IntegerField())
    by_outcome = serializers.DictField(child=serializers.IntegerField())


class ReviewSummaryReviewerSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    email = serializers.CharField()
    decided = serializers.IntegerField()
    keep = serializers.IntegerField()
    revoke = serializers.IntegerField()
    change = serializers.IntegerField()


class ReviewSummaryItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)
    user_email = serializers.CharField()
    team = serializers.CharField()
    role = serializers.CharField()
    scope = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_login = serializers.DateTimeField(allow_null=True)
    last_activity = serializers.DateTimeField(allow_null=True)
    inactive = serializers.BooleanField()
    decision = serializers.CharField()
    new_role = serializers.CharField()
    comment = serializers.CharField()
    decided_by = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField()
    outcome_detail = serializers.CharField()


class ReviewSummaryHeaderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    scope = serializers.CharField()
    due_at = serializers.DateTimeField()
    default_action = serializers.CharField()


class ReviewSummarySerializer(serializers.Serializer):
    review = ReviewSummaryHeaderSerializer()
    counts = ReviewSummaryCountsSerializer()
    reviewers = ReviewSummaryReviewerSerializer(many=True)
    items = ReviewSummaryItemSerializer(many=True)
