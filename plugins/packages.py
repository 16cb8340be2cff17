"""Plugin packages: a zip with manifest.json, plugin.wasm and the plugin's source (src/, for review and the
scanner), signed by its publisher with Ed25519 over the package's SHA-256 (a detached signature).

    package_read(data)              -> Package (manifest, wasm, sources), PackageRefused with the reason
    signature_verify(key, digest, signature)
    sign(private_key, data)         -> base64 signature (plugin build)

The archive rules refuse, before anything is extracted (nothing ever is: entries are read in memory): too many
entries, absolute or parent-relative paths, symlinks and other non-regular files, entries or totals larger than
the limits, and entries whose compression ratio betrays a zip bomb.
"""

import base64
import hashlib
import io
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

MAX_ENTRIES = 200
MAX_ENTRY_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 96 * 1024 * 1024
MAX_RATIO = 50  # uncompressed / compressed per entry; a wasm compresses about 3:1
REQUIRED = ("manifest.json", "plugin.wasm")


class PackageRefused(ValueError):
    """The package was refused; the message says why (shown to the publisher, recorded in the audit)."""


@dataclass(frozen=True)
class Package:
    sha256: str
    size: int
    manifest: bytes
    wasm: bytes
    sources: dict[str, str]


def digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def key_id_of(public_key_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]


def public_key_parse(value: str) -> str:
    """A base64 raw Ed25519 public key (32 bytes), normalised; ValueError otherwise."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except Exception:
        raise ValueError("Not a base64 Ed25519 public key (32 raw bytes).") from None
    return base64.b64encode(raw).decode()


def signature_verify(public_key_b64: str, data: bytes, signature_b64: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64, validate=True), digest(data))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def sign(private_key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(private_key.sign(digest(data))).decode()


def _entry_problem(info: zipfile.ZipInfo) -> str:
    name = info.filename
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return f"entry {name!r} escapes the package (path traversal)"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return f"entry {name!r} is a symbolic link"
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # no type bits: a plain file
        return f"entry {name!r} is not a regular file"
    if info.file_size > MAX_ENTRY_BYTES:
        return f"entry {name!r} is larger than {MAX_ENTRY_BYTES} bytes"
    if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"entry {name!r} expands {info.file_size // max(info.compress_size, 1)}-fold (zip bomb)"
    return ""


def package_read(data: bytes) -> Package:
    if len(data) > settings.PLUGIN_PACKAGE_MAX_BYTES:
        raise PackageRefused(f"The package is larger than {settings.PLUGIN_PACKAGE_MAX_BYTES} bytes.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise PackageRefused("The package is not a zip archive.") from None
    if len(infos) > MAX_ENTRIES:
        raise PackageRefused(f"The package has more than {MAX_ENTRIES} entries.")
    for info in infos:
        problem = _entry_problem(info)
        if problem:
            raise PackageRefused(f"The package is unsafe: {problem}.")
    if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
        raise PackageRefused(f"The package expands to more than {MAX_TOTAL_BYTES} bytes (zip bomb).")
    names = {info.filename for info in infos}
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise PackageRefused(f"The package lacks {', '.join(missing)}.")
    files = {}
    try:
        for info in infos:
            if info.is_dir():
                continue
            with archive.open(info) as handle:
                content = handle.read(info.file_size + 1)
            if len(content) != info.file_size:  # the header lied about the size
                raise PackageRefused(f"The package is unsafe: entry {info.filename!r} is not the size it declares.")
            files[info.filename] = content
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
        raise PackageRefused(f"The package cannot be read ({type(exc).__name__}).") from None
    sources = {}
    for name, content in files.items():
        if name.startswith("src/") and name.endswith(".py"):
            sources[name] = content.decode("utf-8", "replace")
    return Package(
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), manifest=files["manifest.json"],
        wasm=files["plugin.wasm"], sources=sources,
    )  # fmt: skip


def package_build(*, manifest: bytes, wasm: bytes, sources: dict[str, bytes]) -> bytes:
    """The zip a publisher uploads (deterministic: fixed timestamps, sorted entries)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = {"manifest.json": manifest, "plugin.wasm": wasm, **{f"src/{k}": v for k, v in sources.items()}}
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def store_path(kind: str, sha256: str):
    from pathlib import Path

    return Path(settings.PLUGIN_STORE_DIR) / kind / f"{sha256}.{'wasm' if kind == 'components' else 'zip'}"
