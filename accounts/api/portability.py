"""Organization exports: full archives (for moving the organization) and anonymized datasets (for analytics).

    GET|POST /api/v1/orgs/{org}/exports             (org.export; POST needs step-up)
    GET      /api/v1/orgs/{org}/exports/{id}        status and progress: rows_done / rows_total, current_model
    GET      /api/v1/orgs/{org}/exports/{id}/download   the tar.gz while it has not expired (step-up)

Imports are not here: they create accounts and fill an organization wholesale, so they belong to the platform
operator (`manage.py import_org`), not to an organization's admins.
"""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import OrgExport
from accounts.permissions import ORG_EXPORT
from accounts.services import portability
from accounts.stepup import require_recent_verification
from chatapp.kernel.api import ORG_SLUG, OrgScopedViewSet, StrictSerializer
from rbac.drf import HasPerm


class OrgExportSerializer(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True, help_text="rows_done / rows_total, 0 to 1.")
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, allow_null=True, default=None)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = OrgExport
        fields = [
            "id", "kind", "format", "include_audit", "full_migration", "status", "requested_by", "created",
            "started_at", "finished_at", "expires_at", "current_model", "rows_done", "rows_total", "progress",
            "counts", "size", "sha256", "error", "download_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, obj) -> str | None:
        if obj.status != OrgExport.Status.DONE:
            return None
        return f"/api/v1/orgs/{obj.organization.slug}/exports/{obj.pk}/download"


class OrgExportCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=OrgExport.Kind.choices, default=OrgExport.Kind.FULL)
    format = serializers.ChoiceField(
        choices=OrgExport.Format.choices, default=OrgExport.Format.JSONL,
        help_text="Anonymized datasets: jsonl or csv. Full exports are always JSON Lines.",
    )  # fmt: skip
    include_audit = serializers.BooleanField(default=False, help_text="Add the audit trail's events.")


@extend_schema_view(
    list=extend_schema(summary="List the organization's exports", parameters=[ORG_SLUG]),
    retrieve=extend_schema(summary="Show an export and its progress", parameters=[ORG_SLUG]),
    create=extend_schema(
        summary="Start an export (full archive or anonymized dataset); a background job writes it",
        request=OrgExportCreateSerializer,
        responses={202: OrgExportSerializer},
        parameters=[ORG_SLUG],
    ),
)
class OrgExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    permission_classes = [IsAuthenticated, HasPerm.of(GET=ORG_EXPORT, POST=ORG_EXPORT)]
    queryset = OrgExport.objects.all()
    serializer_class = OrgExportSerializer

    def scoped_queryset(self):
        return OrgExport.objects.select_related("organization", "requested_by")

    def create(self, request, *args, **kwargs):
        data = OrgExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The whole organization in one file: a stolen session must not be enough to take it.
        require_recent_verification(request)
        values = data.validated_data
        job = portability.org_export_request(
            actor=request.user, org=self.organization, kind=values["kind"], fmt=values["format"],
            include_audit=values["include_audit"],
        )  # fmt: skip
        job = self.scoped_queryset().get(pk=job.pk)
        return Response(OrgExportSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download a finished export (tar.gz)",
        parameters=[ORG_SLUG],
        responses={(200, "application/gzip"): OpenApiTypes.BINARY},
    )
    def download(self, request, *args, **kwargs):
        job = self.get_object()
        require_recent_verification(request)
        path = portability.org_export_download(actor=request.user, org=self.organization, job=job)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type="application/gzip")


def urlpatterns(org: str) -> list:
    """The routes, included by accounts/api/urls.py in one line."""
    from django.urls import path

    return [
        path(f"{org}exports", OrgExportViewSet.as_view({"get": "list", "post": "create"}), name="org-export-list"),
        path(f"{org}exports/<int:pk>", OrgExportViewSet.as_view({"get": "retrieve"}), name="org-export-detail"),
        path(
            f"{org}exports/<int:pk>/download",
            OrgExportViewSet.as_view({"get": "download"}),
            name="org-export-download",
        ),
    ]
