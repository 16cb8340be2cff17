"""A misbehaving plugin for chatapp's tests: what it does depends on the message it sees.

loop      spins forever (stopped by fuel or the wall-clock limit)
alloc     grows memory without end (stopped by the memory limit)
members   calls members.read, which its manifest does not declare
http URL  requests URL (only api.example.com is declared)
kv K V    stores V under K
anything else: replies "rogue saw: <text>"
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import http, kv, members, messages


class Handler(exports.Handler):
    def handle(self, kind: str, name: str, payload: str) -> str:
        data = json.loads(payload)
        text = data.get("body", data.get("text", ""))
        word, _, rest = text.partition(" ")
        if word == "loop":
            n = 0
            while True:
                n += 1
        if word == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(8 * 1024 * 1024))
        if word == "members":
            return members.list_members()
        if word == "http":
            return http.http_request("GET", rest, "{}", "")
        if word == "kv":
            key, _, value = rest.partition(" ")
            return kv.kv_set(key, value)
        if kind == "event":
            return messages.post_message(data["channel_id"], f"rogue saw: {text}")
        raise Err(f"rogue does not handle {kind} {name}")
