"""DRF permission class backed by rbac: one permission code per HTTP method."""

from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission

from rbac.registry import Permission
from rbac.resources import resource_kind, resource_type_of
from rbac.services import has_perm, remember_membership

_SAFE_ALIASES = {"HEAD": "GET", "OPTIONS": "GET"}


class HasPerm(BasePermission):
    """Requires, per HTTP method, one permission code in the view's organization.

        permission_classes = [IsAuthenticated, HasPerm.of(GET=CHANNELS_VIEW, POST=CHANNELS_CREATE, DELETE=None)]

    or, without arguments, reads `view.required_perms = {"GET": ..., "POST": ...}`. A method that is not listed
    is refused (deny by default); `None` means "no code at this layer" (the service checks, e.g. because the
    rule depends on the object). On a detail route of a grantable resource (a channel) the check waits for the
    object, so a grant on that one object counts; elsewhere it is org-wide. Works on OrgScopedViewSet views:
    a caller who is not a member gets the same 404 as for an organization that does not exist.
    """

    perms: dict[str, Permission | None] | None = None

    @classmethod
    def of(cls, **by_method: Permission | None) -> type["HasPerm"]:
        perms = {method.upper(): perm for method, perm in by_method.items()}
        return type("HasPerm", (cls,), {"perms": perms})

    def _required(self, request, view) -> tuple[bool, Permission | None]:
        perms = self.perms if self.perms is not None else getattr(view, "required_perms", None) or {}
        method = _SAFE_ALIASES.get(request.method, request.method)
        if method not in perms:
            return False, None
        return True, perms[method]

    @staticmethod
    def _org(view):
        if getattr(view, "organization", None) is None:
            # DRF checks permissions before OrgScopedViewSet.initial has resolved the organization.
            from accounts.selectors import membership_for_slug

            membership = membership_for_slug(user=view.request.user, org_slug=view.kwargs.get("org_slug", ""))
            if membership is None:
                raise NotFound
            remember_membership(membership)
            view.membership, view.organization = membership, membership.organization
        return view.organization

    @staticmethod
    def _per_object(view) -> bool:
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
        model = getattr(getattr(view, "queryset", None), "model", None)
        return lookup in view.kwargs and model is not None and resource_kind(resource_type_of(model)) is not None

    def _deny(self, perm: Permission):
        raise PermissionDenied(f"You need the '{perm.key}' permission to do this.")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        listed, perm = self._required(request, view)
        if not listed:
            return False
        org = self._org(view)
        if perm is None or self._per_object(view):
            return True
        if not has_perm(user=request.user, org=org, perm=perm):
            self._deny(perm)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        listed, perm = self._required(request, view)
        if not listed:
            return False
        if perm is not None and not has_perm(user=request.user, org=self._org(view), perm=perm, obj=obj):
            self._deny(perm)
        return True
