"""Building a sandboxed plugin from its source directory (what `manage.py plugin build` and the tests use).

A plugin directory holds manifest.json, app.py (and other modules), wit/ (the chatapp-plugin.wit package plus
the plugin's world) and optionally tests.json. Building runs componentize-py (about 17 s), so the result is
cached under PLUGIN_STORE_DIR/build/ keyed by the hash of every source file and the componentize-py version.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path

from django.conf import settings

from plugins import packages
from plugins.manifest import Manifest, manifest_load

SOURCE_SUFFIXES = {".py", ".wit", ".json"}


class BuildError(Exception):
    pass


def source_files(directory: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith((".", "__pycache__", "build")) for part in relative.parts):
            continue
        if path.is_file() and path.suffix in SOURCE_SUFFIXES:
            files[relative.as_posix()] = path.read_bytes()
    return files


def source_hash(directory: Path) -> str:
    digest = hashlib.sha256(f"componentize-py={package_version('componentize-py')}".encode())
    for name, content in source_files(directory).items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def manifest_of(directory: Path) -> Manifest:
    return manifest_load((directory / "manifest.json").read_bytes(), runtime="wasm")


def wasm_build(directory: Path) -> bytes:
    """The plugin's component (cached by source hash)."""
    directory = Path(directory).resolve()
    manifest = manifest_of(directory)
    cached = Path(settings.PLUGIN_STORE_DIR) / "build" / f"{source_hash(directory)}.wasm"
    if cached.exists():
        return cached.read_bytes()
    tool = shutil.which("componentize-py") or str(Path(sys.executable).with_name("componentize-py"))
    with tempfile.TemporaryDirectory() as out:
        target = Path(out) / "plugin.wasm"
        result = subprocess.run(  # noqa: S603  (our own tool, arguments from the plugin's directory)
            [tool, "-d", "wit", "-w", manifest.data["world"], "componentize", "app", "-o", str(target)],
            cwd=directory, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise BuildError((result.stderr or result.stdout).strip().splitlines()[:20])
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(target, partial)
        partial.replace(cached)  # atomic: a parallel build (test workers) never reads half a file
    return cached.read_bytes()


def package_make(directory: Path) -> bytes:
    """The package zip: manifest.json, plugin.wasm and the Python sources (src/) for review and scanning."""
    directory = Path(directory).resolve()
    sources = {name: content for name, content in source_files(directory).items() if name.endswith(".py")}
    return packages.package_build(
        manifest=(directory / "manifest.json").read_bytes(), wasm=wasm_build(directory), sources=sources
    )


def tests_of(directory: Path) -> list[dict]:
    path = Path(directory) / "tests.json"
    return json.loads(path.read_text()) if path.exists() else []
