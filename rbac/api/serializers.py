from rest_framework import serializers

from accounts.api.serializers import UserSummarySerializer
from chatapp.kernel.api import StrictSerializer
from rbac.models import Grant, Role, Team, TeamMember

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


class ResourcePermissionsSerializer(serializers.Serializer):
    resource_type = serializers.CharField()
    resource_id = serializers.IntegerField()
    permissions = serializers.ListField(child=serializers.CharField())


class MyPermissionsSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="The membership's base role.")
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Codes held org-wide.")
    teams = serializers.ListField(child=serializers.IntegerField(), help_text="Team ids, ancestors included.")
    resources = ResourcePermissionsSerializer(many=True, help_text="Extra codes held on single resources.")
