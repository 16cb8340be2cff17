from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    """Session auth whose missing credentials answer 401 (with WWW-Authenticate), not DRF's 403."""

    def authenticate_header(self, request):
        return 'Session realm="chatapp"'


class NoCredentials(authentication.BaseAuthentication):
    """Authenticates nobody, but makes a missing login answer 401 with a challenge (DRF says 403 without one).

    For endpoints used before a login exists (the second step of a login, for example)."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request):
        return 'Session realm="chatapp"'
