"""Fixtures of the integration tests: real HTTP servers on loopback (a webhook receiver that verifies our
signatures with the independent `standardwebhooks` library, a fake REST API for GitHub/GitLab/Jira), and the
GitHub payload examples from the npm package @octokit/webhooks-examples, fetched once into var/cache/."""

import base64
import hashlib
import io
import json
import socket
import tarfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings

OCTOKIT_PACKAGE = "@octokit/webhooks-examples"
OCTOKIT_VERSION = "7.6.1"  # pinned: bump deliberately, the registry's integrity hash is checked on every fetch
FIXTURES = Path(__file__).resolve().parents[2] / "plugins" / "integrations"


def pk_of(integration: str) -> int:
    """The id of acme's installation of an integration (API paths take ids)."""
    from plugins.integrations.models import Installation

    return Installation.objects.get(organization__slug="acme", integration=integration).pk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """A webhook receiver: verifies each request with standardwebhooks.Webhook(secret) and records it. Set
    `status` to make it answer an error, `secrets` to the secrets it accepts (any one of them)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.secrets: list[str] = []
        self.verified: list[str] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                from standardwebhooks.webhooks import Webhook, WebhookVerificationError

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = False
                for secret in receiver.secrets:
                    try:
                        Webhook(secret).verify(body, headers, json_parse=False)
                        ok = True
                        break
                    except WebhookVerificationError:
                        continue
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": headers, "body": body})
                    if ok:
                        receiver.verified.append(headers.get("webhook-id", ""))
                    else:
                        receiver.refused += 1
                status = receiver.status if ok or not receiver.secrets else 401
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"received": true}')

            def log_message(self, *args):
                pass

        self.handler = Handler
        self.server = None
        self.thread = None

    def start(self):
        """Listen (again, after stop(): the same port, like a receiver coming back after an outage)."""
        if self.thread is None:
            ThreadingHTTPServer.allow_reuse_address = True
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()

    def stop(self):
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread = None

    @property
    def unique_ids(self) -> set[str]:
        return set(self.verified)


@pytest.fixture
def allow_private(settings):
    """Our loopback servers are private addresses: the operator setting for on-premises installs lets them in."""
    settings.INTEGRATIONS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def receiver(allow_private):
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


class FakeApi:
    """A REST API on loopback that records calls and answers what the test set for a path suffix."""

    def __init__(self):
        self.calls: list[dict] = []
        self.answers: dict[str, tuple[int, dict]] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.calls.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "json": json.loads(body) if body else None})  # fmt: skip
                status, answer = next(
                    (value for suffix, value in api.answers.items() if self.path.endswith(suffix)), (404, {})
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api(allow_private):
    api = FakeApi()
    yield api
    api.stop()


# --- fixtures nobody here wrote ----------------------------------------------------------------------------------


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def octokit_examples() -> dict[str, list[dict]]:
    """{event name: [payload, ...]} of @octokit/webhooks-examples at the pinned version, fetched from
    registry.npmjs.org (no node needed) into var/cache and checked against the registry's sha512 integrity."""
    cache = Path(django_settings.VAR_DIR) / "cache" / f"octokit-webhooks-examples-{OCTOKIT_VERSION}.json"
    if not cache.exists():
        meta = json.loads(_fetch(f"https://registry.npmjs.org/{OCTOKIT_PACKAGE}/{OCTOKIT_VERSION}"))
        tarball = _fetch(meta["dist"]["tarball"])
        algorithm, expected = meta["dist"]["integrity"].split("-", 1)
        assert algorithm == "sha512"
        assert base64.b64encode(hashlib.sha512(tarball).digest()).decode() == expected, "integrity mismatch"
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            index = json.load(archive.extractfile("package/api.github.com/index.json"))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({entry["name"]: entry["examples"] for entry in index}))
    return json.loads(cache.read_text())


def written_fixtures(integration: str) -> dict[str, dict]:
    """{file stem: payload} of plugins/integrations/<integration>/fixtures/*.json (event__variant.json)."""
    folder = FIXTURES / integration / "fixtures"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
