from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    """Session auth whose missing credentials answer 401 (with WWW-Authenticate), not DRF's 403."""

    def authenticate_header(self, request):
        return 'Session realm="chatapp"'
