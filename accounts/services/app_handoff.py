"""Handing a browser SSO sign-in over to a mobile or desktop app (RFC 8252's pattern: system browser + PKCE).

An app cannot see the cookies of the system browser where the person signed in with their IdP. So the app opens
`/accounts/sso/app/` with a registered redirect URI (its custom scheme or claimed https URL), a `state` and a
PKCE S256 `code_challenge`; after the sign-in, and the person's confirmation on a page of ours (so a link from
somebody else cannot hand a signed-in browser's account to an app by itself), the browser is sent back to the
app with a one-time code, which the app
exchanges, with its `code_verifier`, for a session of its own at `POST /api/v1/auth/sso-handoff`. The code is
useless to anyone who intercepts the redirect (another app registering the same scheme) without the verifier,
lives `HANDOFF_CODE_SECONDS`, and is consumed by the first exchange.
"""

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.models import User

HANDOFF_CODE_SECONDS = 60
PENDING_SECONDS = 600  # time a person may spend signing in at the IdP
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest, unpadded
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 section 4.1


class HandoffError(Exception):
    """A hand-off refused; the message is safe to show to the person or the app."""


@dataclass(frozen=True)
class PendingHandoff:
    redirect_uri: str
    code_challenge: str
    state: str
    started: float

    def as_session(self) -> dict:
        return self.__dict__.copy()


def handoff_start(*, redirect_uri: str, code_challenge: str, code_challenge_method: str, state: str) -> PendingHandoff:
    """Check an app's request to start a hand-off (kept in the browser's session until the sign-in ends)."""
    if redirect_uri not in settings.SSO_APP_REDIRECT_URIS:
        raise HandoffError("This app's redirect URI is not registered with chatapp. Ask your administrator.")
    if code_challenge_method != "S256" or not _CHALLENGE.match(code_challenge or ""):
        raise HandoffError("The app must send a PKCE code_challenge with code_challenge_method=S256.")
    if len(state or "") > 200:
        raise HandoffError("The app's state is too long.")
    return PendingHandoff(redirect_uri, code_challenge, state or "", time.time())


def handoff_code(*, user: User, pending: dict) -> str:
    """A one-time code for the signed-in `user`, bound to the app's PKCE challenge."""
    if time.time() - pending["started"] > PENDING_SECONDS:
        raise HandoffError("The sign-in took too long. Start again from the app.")
    code = secrets.token_urlsafe(32)
    # The issue time is kept too: the cache's own expiry is a floor (Redis counts in its own clock), not the rule.
    entry = {"user": user.pk, "challenge": pending["code_challenge"], "issued": time.time()}
    cache.set(_key(code), entry, HANDOFF_CODE_SECONDS)
    return code


def handoff_redeem(*, code: str, code_verifier: str) -> User:
    """The user a code was minted for, once; raises HandoffError for an unknown, used or expired code, a wrong
    verifier, or a user deactivated since."""
    if not _VERIFIER.match(code_verifier or "") or not code or len(code) > 100:
        raise HandoffError("The code or code_verifier is malformed.")
    key = _key(code)
    entry = cache.get(key)
    # delete() answers whether this call removed it: of two racing exchanges only one wins.
    if entry is None or not cache.delete(key) or time.time() - entry["issued"] > HANDOFF_CODE_SECONDS:
        raise HandoffError("The code is unknown, expired or already used. Sign in again.")
    digest = hashlib.sha256(code_verifier.encode()).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not hmac.compare_digest(computed, entry["challenge"]):
        raise HandoffError("The code_verifier does not match the code's challenge.")
    user = User.objects.filter(pk=entry["user"], is_active=True).first()
    if user is None:
        raise HandoffError("This account is deactivated.")
    return user


def _key(code: str) -> str:
    return "sso-handoff:" + hashlib.sha256(code.encode()).hexdigest()
