"""Session activity: track each logged-in session and end it by its organizations' idle and absolute limits."""

import time

from django.contrib.auth import SESSION_KEY, logout

from accounts.services import sessions as session_services
from audit.context import client_ip

# What the middleware keeps in the session itself, so the common request costs no extra query or write.
TRACKED = "_chatapp_session"  # the session key the UserSession row was registered under
STARTED = "_chatapp_started"  # epoch seconds of login
SEEN = "_chatapp_seen"  # epoch seconds of the last recorded activity (recorded at most once a minute)
POLICY = "_chatapp_policy"  # [idle seconds | None, absolute seconds | None], refreshed with SEEN
WRITE_EVERY = 60


class SessionActivityMiddleware:
    """After AuthenticationMiddleware. Before the view: end a session past its idle or absolute limit (the
    request goes on anonymous, so the API answers 401), and record activity at most once a minute. After the
    view: register a session a login just created, forget one a logout or re-login ended.

    Idle time is measured from the last *recorded* activity, so a session may end up to a minute early.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        initial_key = session.session_key
        tracked = bool(initial_key) and session.get(SESSION_KEY) is not None and session.get(TRACKED) == initial_key
        if tracked:
            self._check(request, session)
        response = self.get_response(request)
        self._after(request, initial_key if tracked else None)
        return response

    def _check(self, request, session):
        now = time.time()
        idle, absolute = session.get(POLICY) or (None, None)
        started, seen = session.get(STARTED, now), session.get(SEEN, now)
        reason = "absolute" if absolute and now - started > absolute else "idle" if idle and now - seen > idle else ""
        if reason:
            user = request.user
            if not user.is_authenticated:
                return  # the user was deactivated: the session already counts as anonymous
            session_services.session_expire(session_key=session.session_key, user=user, reason=reason)
            logout(request)  # flushes the session: this request and the next are anonymous
            return
        if now - seen >= WRITE_EVERY:
            session[SEEN] = now
            session[POLICY] = session_services.session_policy_of(user=request.user)
            session_services.session_touch(session_key=session.session_key, ip=client_ip(request))

    def _after(self, request, tracked_key):
        session = getattr(request, "session", None)
        if session is None:
            return
        key, user_id = session.session_key, session.get(SESSION_KEY)
        if tracked_key and (key != tracked_key or user_id is None):
            session_services.session_forget(session_key=tracked_key)
        if user_id is not None and key and session.get(TRACKED) != key:
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated or str(user.pk) != str(user_id):
                return
            now = time.time()
            session_services.session_register(
                session_key=key, user=user, ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )  # fmt: skip
            session.update({TRACKED: key, STARTED: now, SEEN: now})
            session[POLICY] = session_services.session_policy_of(user=user)
