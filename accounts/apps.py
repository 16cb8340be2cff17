from importlib import import_module

from django.apps import AppConfig

# The protocol modules register their identity-provider kind at import (accounts.sso.kinds). Each lands on
# its own branch; a module not yet present is simply not offered.
SSO_KIND_MODULES = ("accounts.sso.saml", "accounts.sso.oidc", "accounts.sso.ldap")


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and organizations"

    def ready(self):
        for module in SSO_KIND_MODULES:
            try:
                import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise  # a missing dependency of a present module is a real error
