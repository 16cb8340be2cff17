"""The WebAssembly sandbox for marketplace plugins (wasmtime components built with componentize-py).

- Compiling a component takes seconds and hundreds of MB, so it never happens in a request or an event
  delivery: `component_compile` runs when a package is scanned (a Celery task) or from `manage.py plugin`. It
  writes the serialized component to PLUGIN_STORE_DIR/compiled/<key>.cwasm, the key covering the wasmtime
  version, the engine configuration and the wasm's SHA-256; only files this module wrote are deserialized.
- Each delivery gets a fresh Store (no state survives between events, and a trapped instance is never reused)
  with the fuel, memory and wall-clock (epoch) limits of the settings. No directory, socket or environment
  variable is granted to WASI: the plugin reaches the world only through the chatapp:plugin interfaces.
- Host functions call the delivery's PluginContext (plugins.host), which checks capabilities and audits.
"""

import atexit
import contextvars
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

from django.conf import settings

WIT_PACKAGE = "chatapp:plugin"
WIT_VERSION = "1.0.0"
WIT_PATH = Path(__file__).with_name("wit") / "chatapp-plugin.wit"
EPOCH_TICK_SECONDS = 0.01
# Bump when the engine configuration below changes: serialized components of another config must not load.
ENGINE_CONFIG = "fuel=1;epoch=1;v=1"

_current = contextvars.ContextVar("plugin_context")
_lock = threading.RLock()
_engine = None
_linker = None
_loaded: dict[str, object] = {}  # cache key -> Component, per process


class SandboxError(Exception):
    """A plugin run failed; `kind` is fuel, memory, timeout, trap, error or not_compiled."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class RunResult:
    value: object
    fuel_used: int
    elapsed_us: int


def _wasmtime():
    import wasmtime
    import wasmtime.component

    return wasmtime, wasmtime.component


def engine():
    """One engine per process (fuel and epoch interruption on), with the thread that advances its epoch."""
    global _engine
    with _lock:
        if _engine is None:
            wasmtime, _ = _wasmtime()
            config = wasmtime.Config()
            config.consume_fuel = True
            config.epoch_interruption = True
            _engine = wasmtime.Engine(config)
            atexit.register(_release)
            threading.Thread(target=_tick, args=(_engine,), name="plugin-epoch", daemon=True).start()
    return _engine


def _release() -> None:
    """Free the wasmtime objects while their library is still loaded (at interpreter exit it may not be)."""
    global _linker
    _loaded.clear()
    _linker = None


def _tick(engine_) -> None:
    while True:
        time.sleep(EPOCH_TICK_SECONDS)
        engine_.increment_epoch()


def cache_key(wasm_sha256: str) -> str:
    material = f"wasmtime={package_version('wasmtime')};{ENGINE_CONFIG};wasm={wasm_sha256}"
    return hashlib.sha256(material.encode()).hexdigest()


def compiled_path(wasm_sha256: str) -> Path:
    return Path(settings.PLUGIN_STORE_DIR) / "compiled" / f"{cache_key(wasm_sha256)}.cwasm"


def component_compile(wasm: bytes) -> str:
    """Compile and cache a component (slow: seconds); returns the wasm's SHA-256. Idempotent."""
    _, component = _wasmtime()
    sha = hashlib.sha256(wasm).hexdigest()
    path = compiled_path(sha)
    if not path.exists():
        compiled = component.Component(engine(), wasm)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{threading.get_ident()}.tmp")
        partial.write_bytes(compiled.serialize())
        partial.replace(path)  # atomic: a concurrent loader never sees half a file
    return sha


def component_load(wasm_sha256: str):
    """The compiled component (deserialized once per process); SandboxError if it was never compiled."""
    key = cache_key(wasm_sha256)
    component = _loaded.get(key)
    if component is None:
        _, wc = _wasmtime()
        path = compiled_path(wasm_sha256)
        if not path.exists():
            raise SandboxError("not_compiled", "the plugin's component has not been compiled on this server yet")
        component = wc.Component.deserialize_file(engine(), str(path))
        _loaded[key] = component
    return component


def component_imports(wasm_sha256: str) -> list[str]:
    """The interfaces the component imports (e.g. chatapp:plugin/messages@1.0.0, wasi:cli/environment@0.2.9)."""
    return list(component_load(wasm_sha256).type.imports(engine()))


def _iface(name: str) -> str:
    return f"{WIT_PACKAGE}/{name}@{WIT_VERSION}"


def _host(function):
    """Adapt a PluginContext method to a WIT host function returning result<string, string> (JSON)."""

    def call(_store, *args):
        from plugins.host import PluginDenied

        ctx = _current.get()
        try:
            return _variant("ok", json.dumps(function(ctx, *args)))
        except PluginDenied as exc:
            return _variant("err", str(exc))

    return call


def _variant(tag, value):
    _, wc = _wasmtime()
    return wc.Variant(tag, value)


def _log(_store, message):
    _current.get().log(message)


def _json_arg(text):
    from plugins.host import loads_json

    return loads_json(text, what="the headers") if text else {}


# WIT function -> PluginContext call; every one of them is checked and audited in plugins.host.
HOST_FUNCTIONS = {
    "channels": {"list-channels": lambda ctx: ctx.list_channels()},
    "messages": {
        "read-messages": lambda ctx, channel_id, limit: ctx.read_messages(channel_id, limit),
        "post-message": lambda ctx, channel_id, body: ctx.post_message(channel_id, body),
    },
    "members": {"list-members": lambda ctx: ctx.list_members()},
    "kv": {
        "kv-get": lambda ctx, key: ctx.kv_get(key),
        "kv-set": lambda ctx, key, value: ctx.kv_set(key, value),
        "kv-delete": lambda ctx, key: ctx.kv_delete(key),
    },
    "http": {
        "http-request": lambda ctx, method, url, headers, body: ctx.http_request(method, url, _json_arg(headers), body),
    },
}


def linker():
    """The linker with WASI (nothing granted) and the plugin API; built once per process."""
    global _linker
    with _lock:
        if _linker is None:
            _, wc = _wasmtime()
            built = wc.Linker(engine())
            built.add_wasip2()
            with built.root() as root:
                for interface, functions in HOST_FUNCTIONS.items():
                    with root.add_instance(_iface(interface)) as instance:
                        for name, function in functions.items():
                            instance.add_func(name, _host(function))
                with root.add_instance(_iface("log")) as instance:
                    instance.add_func("log", _log)
            _linker = built
    return _linker


def run(wasm_sha256: str, ctx, *, kind: str, name: str, payload: dict) -> RunResult:
    """Run the plugin's handler for one delivery in a fresh sandbox; SandboxError on any failure."""
    wasmtime, _ = _wasmtime()
    component = component_load(wasm_sha256)
    store = wasmtime.Store(engine())
    store.set_wasi(wasmtime.WasiConfig())  # no preopened directory, no environment, no sockets
    store.set_limits(memory_size=settings.PLUGIN_MEMORY_BYTES)
    store.set_fuel(settings.PLUGIN_FUEL)
    store.set_epoch_deadline(max(1, int(settings.PLUGIN_TIMEOUT_MS / 1000 / EPOCH_TICK_SECONDS)))
    token = _current.set(ctx)
    started = time.perf_counter()
    try:
        instance = linker().instantiate(store, component)
        handler = component.get_export_index(_iface("handler"))
        handle = instance.get_func(store, component.get_export_index("handle", handler))
        outcome = handle(store, kind, name, json.dumps(payload))
    except wasmtime.WasmtimeError as exc:
        raise _classified(exc, store) from None
    except wasmtime.Trap as exc:
        raise SandboxError("timeout" if "interrupt" in str(exc) else "trap", _first_line(exc)) from None
    finally:
        _current.reset(token)
    fuel_used = settings.PLUGIN_FUEL - store.get_fuel()
    elapsed_us = int((time.perf_counter() - started) * 1_000_000)
    if getattr(outcome, "tag", "ok") == "err":
        raise SandboxError("error", str(outcome.payload)[:300])
    value = outcome.payload if hasattr(outcome, "payload") else outcome
    try:
        value = json.loads(value) if value else None
    except ValueError:
        raise SandboxError("error", "the handler returned something that is not JSON") from None
    return RunResult(value=value, fuel_used=fuel_used, elapsed_us=elapsed_us)


def _first_line(exc) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _classified(exc, store) -> SandboxError:
    text = str(exc)
    try:
        out_of_fuel = store.get_fuel() == 0
    except Exception:
        out_of_fuel = "fuel" in text
    if out_of_fuel:
        return SandboxError("fuel", "the plugin used up its CPU budget (fuel) and was stopped")
    if "interrupt" in text:
        return SandboxError("timeout", f"the plugin ran longer than {settings.PLUGIN_TIMEOUT_MS} ms and was stopped")
    if "memory" in text or "grow" in text or "alloc" in text.lower():
        return SandboxError("memory", "the plugin exceeded its memory limit and was stopped")
    return SandboxError("trap", _first_line(exc))
