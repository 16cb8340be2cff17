"""Your data-subject rights: download your data, request (or cancel) the erasure of your account."""

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.api_keys import CREDENTIAL_PERMISSIONS
from accounts.models import PrivacyRequest
from accounts.services import privacy as services
from accounts.stepup import require_recent_verification
from chatapp.kernel.api import StrictSerializer

FORMATS = ("json", "csv")


class ErasureRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrivacyRequest
        fields = ["id", "kind", "regulation", "status", "received_at", "execute_after", "due_at", "completed_at"]
        read_only_fields = fields


class ErasureRequestInputSerializer(StrictSerializer):
    regulation = serializers.ChoiceField(choices=PrivacyRequest.Regulation.choices, default="gdpr")


def _pending_erasure(user) -> PrivacyRequest | None:
    return PrivacyRequest.objects.filter(
        subject=user, kind=PrivacyRequest.Kind.ERASURE, status__in=PrivacyRequest.OPEN
    ).first()


class MyDataExportView(APIView):
    permission_classes = CREDENTIAL_PERMISSIONS

    def perform_content_negotiation(self, request, force=False):
        # `format` names the file's format here, not one of DRF's renderers (which answers 404 to ?format=csv);
        # errors still render as JSON problem details.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download everything held about you (GDPR Art. 15 and 20): JSON, or a zip of CSV files",
        parameters=[OpenApiParameter("format", str, enum=list(FORMATS), default="json")],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "application/zip"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        fmt = request.query_params.get("format", "json")
        if fmt not in FORMATS:
            raise ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
        # All of a person's data in one file: a stolen session must not be enough to take it.
        require_recent_verification(request)
        user = request.user
        services.subject_data_exported(user=user, fmt=fmt)
        if fmt == "json":
            response = StreamingHttpResponse(services.subject_data_export_json(user), content_type="application/json")
            response["Content-Disposition"] = 'attachment; filename="my-chatapp-data.json"'
            return response
        return FileResponse(
            services.subject_data_export_zip(user), as_attachment=True, filename="my-chatapp-data.zip",
            content_type="application/zip",
        )  # fmt: skip


class MyErasureRequestView(APIView):
    permission_classes = CREDENTIAL_PERMISSIONS

    @extend_schema(summary="Your pending erasure request, if any", responses=ErasureRequestSerializer)
    def get(self, request):
        pending = _pending_erasure(request.user)
        if pending is None:
            raise NotFound("No erasure of your account is pending.")
        return Response(ErasureRequestSerializer(pending).data)

    @extend_schema(
        summary="Ask for your account's personal data to be erased (runs after a grace period; needs step-up)",
        request=ErasureRequestInputSerializer,
        responses={201: ErasureRequestSerializer},
    )
    def post(self, request):
        require_recent_verification(request)
        serializer = ErasureRequestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = services.privacy_request_create(
            subject=request.user, kind=PrivacyRequest.Kind.ERASURE, regulation=data["regulation"], actor=request.user
        )
        return Response(ErasureRequestSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Cancel your pending erasure request (during its grace period)", responses={204: None})
    def delete(self, request):
        pending = _pending_erasure(request.user)
        if pending is None:
            raise NotFound("No erasure of your account is pending.")
        services.privacy_request_cancel(actor=request.user, request=pending)
        return Response(status=status.HTTP_204_NO_CONTENT)
