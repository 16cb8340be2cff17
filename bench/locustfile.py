"""Load test shaped like real use of chatapp (make loadtest; bin/loadtest starts the server and reports).

People (ChatUser, 9 in 10): log in once, then mostly read — list their channels, page through a channel's
messages — and now and then post, search, or log out and back in. Integrations (ApiKeyClient, 1 in 10): read
channels and messages with an API key. Think time 1-5 s, as people reading a chat do; 1,000 users then make
about 300 requests a second.

Environment: LOADTEST_ORG (acme), LOADTEST_PASSWORD (the demo password), LOADTEST_EMAILS (comma-separated
accounts to spread the users over; default the demo org's owner, admin and members), LOADTEST_API_KEY.
"""

import itertools
import os
import random
import threading

from locust import FastHttpUser, between, task

ORG = os.environ.get("LOADTEST_ORG", "acme")
PASSWORD = os.environ.get("LOADTEST_PASSWORD", "chatapp-demo-2026")
EMAILS = os.environ.get(
    "LOADTEST_EMAILS",
    ",".join(["owner@acme.example", "admin@acme.example"] + [f"member{i}@acme.example" for i in range(1, 9)]),
).split(",")
WORDS = ["release", "deploy", "budget", "review", "lunch", "meeting", "ticket", "design", "customer", "plan"]
_accounts = itertools.cycle(EMAILS)
_accounts_lock = threading.Lock()


class ChatUser(FastHttpUser):
    weight = 9
    wait_time = between(1, 5)

    def on_start(self):
        with _accounts_lock:
            self.email = next(_accounts)
        self.login()

    def login(self):
        self.cookies = {}
        with self.client.post(
            "/api/v1/auth/session", json={"email": self.email, "password": PASSWORD}, name="login",
            headers={"X-Forwarded-Proto": "https"}, catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 200:
                response.failure(f"login answered {response.status_code}")
                self.channels = []
                return
        # The production profile marks cookies Secure and a TLS proxy would sit in front: the cookies are sent
        # by hand over plain HTTP, with the header the proxy adds (as bin/smoke --forwarded-https does).
        self.cookies = {c.name: c.value for c in self.client.cookiejar}
        self.client.cookiejar.clear()
        url = f"/api/v1/orgs/{ORG}/channels/?is_member=true"
        answer = self.client.get(url, headers=self.headers(), name="channels")
        self.channels = [c["id"] for c in answer.json().get("results", [])] if answer.status_code == 200 else []

    def headers(self):
        return {
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items()),
            "X-CSRFToken": self.cookies.get("csrftoken", ""),
            "Referer": self.host.replace("http://", "https://") + "/",
        }

    @task(5)
    def list_channels(self):
        self.client.get(f"/api/v1/orgs/{ORG}/channels/?is_member=true", headers=self.headers(), name="channels")

    @task(10)
    def read_messages(self):
        if self.channels:
            channel = random.choice(self.channels)
            self.client.get(
                f"/api/v1/orgs/{ORG}/channels/{channel}/messages/?page_size=50", headers=self.headers(),
                name="messages",
            )  # fmt: skip

    @task(2)
    def post_message(self):
        if self.channels:
            channel = random.choice(self.channels)
            body = " ".join(random.choices(WORDS, k=random.randint(3, 15)))
            self.client.post(
                f"/api/v1/orgs/{ORG}/channels/{channel}/messages/", json={"body": body}, headers=self.headers(),
                name="post message",
            )  # fmt: skip

    @task(1)
    def search(self):
        self.client.get(
            f"/api/v1/orgs/{ORG}/messages/search?q={random.choice(WORDS)}", headers=self.headers(), name="search"
        )

    @task(1)
    def me(self):
        self.client.get("/api/v1/me", headers=self.headers(), name="me")

    def on_stop(self):
        self.client.delete("/api/v1/auth/session", headers=self.headers(), name="logout")


class OccasionalLogin(ChatUser):
    """A person who logs out and back in now and then (password hashing is the most expensive request)."""

    weight = 1

    @task(1)
    def relogin(self):
        self.client.delete("/api/v1/auth/session", headers=self.headers(), name="logout")
        self.login()


class ApiKeyClient(FastHttpUser):
    weight = 1
    wait_time = between(1, 5)

    def on_start(self):
        self.auth = {"Authorization": f"Bearer {os.environ.get('LOADTEST_API_KEY', '')}"}
        answer = self.client.get(f"/api/v1/orgs/{ORG}/channels/", headers=self.auth, name="api: channels")
        self.channels = [c["id"] for c in answer.json().get("results", [])] if answer.status_code == 200 else []

    @task(1)
    def channels_list(self):
        self.client.get(f"/api/v1/orgs/{ORG}/channels/", headers=self.auth, name="api: channels")

    @task(3)
    def messages(self):
        if self.channels:
            channel = random.choice(self.channels)
            self.client.get(
                f"/api/v1/orgs/{ORG}/channels/{channel}/messages/?page_size=50", headers=self.auth,
                name="api: messages",
            )  # fmt: skip
