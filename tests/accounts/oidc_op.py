"""OpenID providers for the OIDC tests, on loopback.

- `mock_op()`: oidc-provider-mock (a real OP on Authlib) in its own process: the standard flow, end to end.
- `TinyOP`: our own small OP (and GitHub API) in a thread, for what a well-behaved OP never does: tokens with a
  wrong issuer or nonce, bad signatures, HS256 signed with the public key, `alg: none`, rotated keys. It also
  checks PKCE (S256) at its token endpoint, which the mock does not.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey, RSAKey

_MOCK_SCRIPT = """
import json, sys, werkzeug.serving
from oidc_provider_mock import User, app
users = [User(sub=u["sub"], claims=u["claims"]) for u in json.loads(sys.argv[1])]
server = werkzeug.serving.make_server("127.0.0.1", 0, app(require_nonce=True, user_claims=users))
print(server.server_port, flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def mock_op(users: list[dict]):
    """oidc-provider-mock in a subprocess; yields its base URL (also its issuer)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _MOCK_SCRIPT, json.dumps(users)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(5)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class TinyOP:
    """A minimal OP whose next ID token the test shapes through the attributes below."""

    def __init__(self):
        self.rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
        self.ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
        self.published = [self.rsa.as_dict(private=False), self.ec.as_dict(private=False)]
        self.client_id, self.client_secret = "chatapp", "s3cret-value"
        self.claims: dict = {}  # claims of the next ID token (on top of iss/aud/sub/nonce/iat/exp)
        self.alg, self.kid, self.sign_with = "RS256", "rsa-1", None  # sign_with: another key to sign with
        self.token_override = None  # callable(claims) -> the literal id_token to return
        self.discovery_issuer = None  # what discovery claims the issuer is (default: the real one)
        self.userinfo: dict | None = None
        self.github: dict = {}
        self.jwks_hits = self.token_calls = 0
        self.last_token_request: dict = {}
        self.last_access_token = ""
        self._codes: dict = {}
        self._server = make_server("127.0.0.1", 0, self, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- tokens ---

    def id_token(self, nonce: str, sub: str = "user-1") -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": sub, "nonce": nonce, "iat": now,
                  "exp": now + 300, **self.claims}  # fmt: skip
        claims = {k: v for k, v in claims.items() if v is not None}
        if self.token_override:
            return self.token_override(claims)
        return self.sign(claims, alg=self.alg, kid=self.kid, key=self.sign_with)

    def sign(self, claims: dict, *, alg="RS256", kid="rsa-1", key=None) -> str:
        header = {"alg": alg, **({"kid": kid} if kid else {})}
        key = key or (self.rsa if alg == "RS256" else self.ec)
        return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=[alg])

    def unsigned(self, claims: dict, *, alg="none", secret: bytes = b"") -> str:
        """`alg: none` (no secret) or an HMAC token keyed with `secret` (e.g. our public key's PEM)."""
        signing_input = f"{_b64(json.dumps({'alg': alg, 'kid': 'rsa-1'}).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
        return f"{signing_input}.{_b64(signature)}"

    def public_pem(self) -> bytes:
        return self.rsa.get_op_key("verify").public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # --- WSGI ---

    def __call__(self, environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        form = {}
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        routes = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/login/oauth/authorize": self._authorize,
            "/token": self._token,
            "/login/oauth/access_token": self._token,
            "/userinfo": self._userinfo,
        }
        handler = routes.get(path) or (self._github_api if path.startswith("/api/v3/") else None)
        if handler is None:
            status, headers, body = "404 Not Found", [], b"{}"
        else:
            status, headers, body = handler(environ=environ, path=path, query=query, form=form)
        start_response(status, [("Content-Type", "application/json"), *headers])
        return [body]

    def _json(self, value, status="200 OK"):
        return status, [], json.dumps(value).encode()

    def _discovery(self, **_):
        return self._json({
            "issuer": self.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        })  # fmt: skip

    def _jwks(self, **_):
        self.jwks_hits += 1
        return self._json({"keys": self.published})

    def _authorize(self, query, **_):
        # consent is implicit: remember what the client asked for and send the browser back with a code
        code = secrets.token_urlsafe(16)
        self._codes[code] = query
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return "302 Found", [("Location", location)], b""

    def _client_ok(self, environ, form) -> bool:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secret == self.client_secret

    def _token(self, environ, form, **_):
        self.token_calls += 1
        self.last_token_request = form
        request = self._codes.pop(form.get("code", ""), None)
        if request is None or not self._client_ok(environ, form):
            return self._json({"error": "invalid_grant"}, "400 Bad Request")
        challenge = _b64(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if request.get("code_challenge_method") != "S256" or challenge != request.get("code_challenge"):
            return self._json({"error": "invalid_grant", "error_description": "PKCE"}, "400 Bad Request")
        if form.get("redirect_uri") != request.get("redirect_uri"):
            return self._json({"error": "invalid_grant"}, "400 Bad Request")
        self.last_access_token = "at-" + secrets.token_urlsafe(8)
        answer = {"access_token": self.last_access_token, "token_type": "Bearer"}
        if "nonce" in request:  # an OIDC login (GitHub's OAuth has none)
            answer["id_token"] = self.id_token(request["nonce"])
        return self._json(answer)

    def _userinfo(self, environ, **_):
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.last_access_token}":
            return self._json({"error": "invalid_token"}, "401 Unauthorized")
        return self._json(self.userinfo or {"sub": "user-1"})

    def _github_api(self, environ, path, **_):
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.last_access_token}":
            return self._json({"message": "Bad credentials"}, "401 Unauthorized")
        key = path.removeprefix("/api/v3")
        if key not in self.github:
            return self._json({"message": "Not Found"}, "404 Not Found")
        value = self.github[key]
        if isinstance(value, list):  # GitHub's pagination: per_page (default 30, at most 100) and page (from 1)
            query = parse_qs(environ.get("QUERY_STRING", ""))
            per_page = min(int(query.get("per_page", ["30"])[0]), 100)
            page = int(query.get("page", ["1"])[0])
            value = value[(page - 1) * per_page : page * per_page]
        return self._json(value)
