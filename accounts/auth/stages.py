"""The login stage that asks for a second factor, or for enrolment once an organization's grace has ended."""

import allauth.account.internal  # noqa: F401  (first: importing allauth.account.stages alone is circular)
from allauth.account.stages import LoginStage
from django.shortcuts import redirect

from accounts.services.mfa import mfa_requirement

MFA_STAGE = "chatapp_mfa"


class MfaStage(LoginStage):
    key = MFA_STAGE
    urlname = "mfa_authenticate"

    def handle(self):
        requirement = mfa_requirement(self.login.user)
        if requirement.action == "verify":
            return redirect("mfa_authenticate"), True
        if requirement.action == "enrol":
            return redirect("mfa_enrol_at_login"), True
        return None, True
