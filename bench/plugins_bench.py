"""Plugin runtime costs, the sandbox against the same logic as a built-in plugin, in one run.

- event -> plugin -> one host call: the echo plugin answers "!echo hi" by posting a reply (plugin API check,
  chat service, two audit rows), delivered through plugins.runtime.deliver in a FRESH wasmtime Store per event
  (examples/plugins/echo) vs the same handler as a built-in Python plugin (examples/plugins/echo_builtin.py):
  median ms and events/s per worker, and the ratio
- event without a host call ("quiet"): the sandbox's own cost (fresh Store + instantiate + call)
- cached component load: deserializing the compiled component from PLUGIN_STORE_DIR (what a worker does once)
- runaway plugins (tests/plugins/rogue): time until an endless loop and a memory bomb are stopped

Builds and compiles the plugins first if var/plugins has no cached copy (about 30 s each, never in a request).
Works in a throwaway test database. Prints a table and PASS/MISSED against docs/performance.md's targets.
"""

import os
import statistics
import sys
import time
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
os.environ.setdefault("CHATAPP_BUILTIN_PLUGINS", "examples.plugins.echo_builtin")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
EVENTS = 200 if QUICK else 1000


def setup():
    from accounts.models import Membership, Organization, User
    from chatapp.chat.services import channel_create
    from plugins import build, packages, sandbox
    from plugins.models import Plugin, PluginVersion
    from plugins.services.catalogue import builtins_sync
    from plugins.services.lifecycle import installation_create, installation_set_channels

    org = Organization.objects.create(slug="bench", name="Bench")
    owner = User.objects.create_user(email="owner@bench.invalid", password=None)
    Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
    installs = {}
    for name, directory in (("echo", ROOT / "examples/plugins/echo"), ("rogue", ROOT / "tests/plugins/rogue")):
        manifest = build.manifest_of(directory)
        wasm = build.wasm_build(directory)
        sha = sandbox.component_compile(wasm)
        path = packages.store_path("components", sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wasm)
        plugin = Plugin.objects.create(plugin_id=manifest.data["id"], name=manifest.data["name"], kind="wasm")
        version = PluginVersion.objects.create(plugin=plugin, version=manifest.data["version"], manifest=manifest.data,
                                               wasm_sha256=sha, status="approved")  # fmt: skip
        installs[name] = installation_create(actor=owner, org=org, plugin=plugin, version=version,
                                             consent=manifest.capabilities)  # fmt: skip
    builtins_sync()
    builtin = Plugin.objects.get(plugin_id="com.example.echo-builtin")
    installs["builtin"] = installation_create(actor=owner, org=org, plugin=builtin,
                                              consent=builtin.versions.get().capabilities)  # fmt: skip
    # one channel per plugin: a reply is then not delivered to the other plugins (no Celery hop in the figures)
    channels = {}
    for name, installation in installs.items():
        channels[name] = channel_create(actor=owner, org=org, name=name)
        installation_set_channels(actor=owner, org=org, installation=installation, channels=[channels[name]])
    return channels, installs


def per_event(installation, channel, body, count):
    from plugins.models import Installation
    from plugins.runtime import deliver

    installation = Installation.objects.select_related("plugin", "version", "organization", "service_user").get(
        pk=installation.pk
    )
    payload = {"channel_id": channel.pk, "message_id": 0, "author_id": 0, "body": body}
    deliver(installation, kind="event", name="message.posted", payload=payload)  # warm (loads the component)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        deliver(installation, kind="event", name="message.posted", payload=payload)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, count / sum(samples)


def bare_sandbox_ms(sha, count):
    """The sandbox alone (fresh Store, instantiate, call; no database): the floor under the figures above."""
    from plugins import sandbox

    class NoHost:
        def log(self, message):
            pass

    samples = []
    for _ in range(count):
        started = time.perf_counter()
        sandbox.run(sha, NoHost(), kind="event", name="message.posted", payload={"body": "quiet", "channel_id": 1})
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def load_ms(sha):
    from plugins import sandbox

    samples = []
    for _ in range(10):
        sandbox._loaded.clear()
        started = time.perf_counter()
        sandbox.component_load(sha)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def runaway_ms(installation, channel, body):
    from plugins.runtime import DeliveryFailed, deliver

    started = time.perf_counter()
    try:
        deliver(installation, kind="event", name="message.posted", payload={"channel_id": channel.pk, "body": body})
    except DeliveryFailed as exc:
        return (time.perf_counter() - started) * 1000, exc.kind
    return (time.perf_counter() - started) * 1000, "not stopped"


def main():
    old_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.PLUGIN_FAILURE_LIMIT = 10**9  # measuring, not disabling
    try:
        channels, installs = setup()
        wasm_ms, wasm_rate = per_event(installs["echo"], channels["echo"], "!echo hi", EVENTS)
        builtin_ms, builtin_rate = per_event(installs["builtin"], channels["builtin"], "!echo hi", EVENTS)
        quiet_ms, quiet_rate = per_event(installs["echo"], channels["echo"], "no reply", EVENTS)
        quiet_builtin_ms, _ = per_event(installs["builtin"], channels["builtin"], "no reply", EVENTS)
        bare_ms = bare_sandbox_ms(installs["echo"].version.wasm_sha256, EVENTS)
        load = load_ms(installs["echo"].version.wasm_sha256)
        loop_ms, loop_kind = runaway_ms(installs["rogue"], channels["rogue"], "loop")
        bomb_ms, bomb_kind = runaway_ms(installs["rogue"], channels["rogue"], "alloc")
        load_average = os.getloadavg()[0]
    finally:
        connection.creation.destroy_test_db(old_db, verbosity=0)

    print(f"plugins bench ({connection.vendor}, {EVENTS} events each; fuel {settings.PLUGIN_FUEL:,}, memory "
          f"{settings.PLUGIN_MEMORY_BYTES // 2**20} MB, timeout {settings.PLUGIN_TIMEOUT_MS} ms)")  # fmt: skip
    print(f"{'':44}{'median ms':>10}{'events/s':>10}")
    print(f"{'sandboxed echo, fresh Store, one host call':44}{wasm_ms:10.3f}{wasm_rate:10.0f}")
    print(f"{'built-in echo, same logic, one host call':44}{builtin_ms:10.3f}{builtin_rate:10.0f}")
    print(f"{'sandboxed, no host call':44}{quiet_ms:10.3f}{quiet_rate:10.0f}")
    print(f"{'built-in, no host call':44}{quiet_builtin_ms:10.3f}")
    print(f"{'bare sandbox (fresh Store + call, no DB)':44}{bare_ms:10.3f}{1000 / bare_ms:10.0f}")
    print(f"ratio sandboxed/built-in (one host call): {wasm_ms / builtin_ms:.2f}x")
    print(f"cached component load: {load:.1f} ms; 1-minute load average during the run: {load_average:.1f}")
    print(
        f"endless loop stopped after {loop_ms:.0f} ms ({loop_kind}); memory bomb after {bomb_ms:.0f} ms ({bomb_kind})"
    )
    for label, ok in (("median <= 2 ms", wasm_ms <= 2), ("events/s >= 400", wasm_rate >= 400),
                      ("cached load <= 50 ms", load <= 50)):  # fmt: skip
        print(f"{'PASS' if ok else 'MISSED'}: {label}")


if __name__ == "__main__":
    main()
