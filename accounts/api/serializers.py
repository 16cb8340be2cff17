from rest_framework import serializers

from accounts.models import Membership, Organization, User
from chatapp.kernel.api import StrictSerializer


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]
        read_only_fields = fields


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "created"]
        read_only_fields = fields


class MyMembershipSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["organization", "role", "joined"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    memberships = MyMembershipSerializer(many=True, read_only=True, source="active_memberships")

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "date_joined", "memberships"]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "is_active", "joined"]
        read_only_fields = fields


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=1024, trim_whitespace=False, style={"input_type": "password"})
