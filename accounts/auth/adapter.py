"""allauth adapter: our login stage, invitation-only sign-up, and sign-ups and logins through our services."""

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings

from accounts.auth.stages import MfaStage
from accounts.services.invitations import INVITATION_SESSION_KEY
from accounts.services.login import login_failed, login_succeeded

_STAGE_PATH = f"{MfaStage.__module__}.{MfaStage.__qualname__}"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_stages(self) -> list[str]:
        return [*super().get_login_stages(), _STAGE_PATH]

    def is_open_for_signup(self, request) -> bool:
        # Companies add their people: sign-up is by invitation unless the instance opens it.
        return settings.ACCOUNT_OPEN_SIGNUP or bool(request.session.get(INVITATION_SESSION_KEY))

    def save_user(self, request, user, form, commit=True):
        from accounts.services import user_create

        data = form.cleaned_data
        return user_create(email=data["email"], password=data["password1"])

    def set_password(self, user, password):
        from accounts.services import password_change

        password_change(user=user, password=password)

    def confirm_email(self, request, email_address):
        from accounts.services import email_verified

        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            email_verified(user=email_address.user, email=email_address.email)
        return confirmed

    def authenticate(self, request, **credentials):
        from accounts.services.sso import SsoRequired, password_login_check

        # Checked before the password: an address whose organization enforces SSO never gets a password
        # verdict here (nor a lockout count), just the way to its identity provider.
        try:
            password_login_check(request, email=credentials.get("email", ""))
        except SsoRequired as refused:
            raise forms.ValidationError(str(refused.detail), code="sso_required") from None
        return super().authenticate(request, **credentials)

    def authentication_failed(self, request, **credentials):
        login_failed(request, email=credentials.get("email", ""))

    def post_login(self, request, user, **kwargs):
        from allauth.account.internal.flows.login import get_authentication_records

        from accounts.services.mfa import mark_verified

        response = super().post_login(request, user, **kwargs)
        # Every stage (password, and the second factor when one is due) has passed: the step-up clock starts.
        mark_verified(request)
        methods = [record["method"] for record in get_authentication_records(request, user)]
        login_succeeded(request, user=user, methods=methods or ["password"])
        return response
