"""The archive format: a tar.gz holding manifest.json (first) and one JSON Lines file per model under data/.

    manifest.json   {"format": "chatapp-org-archive", "format_version": 1, "chatapp_version": "0.1.0",
                     "kind": "full", "source": {"organization": "acme", "name": "Acme", "id": 1},
                     "created_at": "...", "options": {...},
                     "files": {"data/chat.message.jsonl": {"entry": "chat.message", "rows": 1000000,
                                                         "bytes": 123456789, "sha256": "..."}}}
    data/<app>.<model>.jsonl   one JSON object per row: {"id": <source id>, <field>: <value>, ...}

Reading trusts nothing: the manifest must come first; every member must be a regular file with a name the
format allows (no absolute paths, no "..", no links) and exactly the size, line count and SHA-256 the manifest
declares; files are copied to names we choose, never to the member's name.
"""

import hashlib
import importlib.metadata
import re
import shutil
import tarfile
import tempfile
import tomllib
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import orjson
from django.conf import settings

FORMAT = "chatapp-org-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEMBER_NAME = re.compile(r"^data/[a-z0-9_]+(\.[a-z0-9_]+)+\.(jsonl|csv)$")
COPY_CHUNK = 1 << 20


class ArchiveRefused(Exception):
    """The archive is corrupt, incompatible or does not fit the target: nothing was imported. The message says why."""


@cache
def chatapp_version() -> str:
    try:
        return importlib.metadata.version("chatapp")
    except importlib.metadata.PackageNotFoundError:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as handle:
            return tomllib.load(handle)["project"]["version"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class DataFile:
    name: str
    path: Path
    entry: str = ""
    rows: int = 0
    bytes: int = 0
    sha256: str = ""


@dataclass
class ArchiveWriter:
    """Writes data files one at a time into a work directory, then packs them with their manifest."""

    workdir: Path
    files: list[DataFile] = field(default_factory=list)

    def write_lines(self, name: str, lines: Iterable[bytes], *, entry: str = "", on_rows=None) -> DataFile:
        """Write an iterable of encoded lines (each ending in a newline); `on_rows(n)` is told every 1,000 rows."""
        data = DataFile(name=name, path=self.workdir / f"{len(self.files):03d}.part", entry=entry)
        digest = hashlib.sha256()
        with open(data.path, "wb", buffering=COPY_CHUNK) as handle:
            for line in lines:
                handle.write(line)
                digest.update(line)
                data.rows += 1
                data.bytes += len(line)
                if on_rows is not None and data.rows % 1000 == 0:
                    on_rows(1000)
        if on_rows is not None:
            on_rows(data.rows % 1000)
        data.sha256 = digest.hexdigest()
        self.files.append(data)
        return data

    def pack(self, destination: Path, manifest: dict, *, compresslevel: int = 6) -> None:
        manifest = {
            **manifest,
            "files": {
                f.name: {"entry": f.entry, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256} for f in self.files
            },
        }
        encoded = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        manifest_path = self.workdir / MANIFEST
        manifest_path.write_bytes(encoded)
        # Written under another name and renamed when complete: a file named like an export is a whole one.
        partial = destination.with_suffix(destination.suffix + ".partial")
        try:
            with tarfile.open(partial, "w:gz", compresslevel=compresslevel) as tar:
                tar.add(manifest_path, arcname=MANIFEST, recursive=False, filter=_plain)
                for data in self.files:
                    tar.add(data.path, arcname=data.name, recursive=False, filter=_plain)
                    data.path.unlink()  # free the disk as we go
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.rename(destination)


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # No owner names or ids of the exporting host in the archive; readable by whoever downloads it.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    info.mtime = int(info.mtime)
    return info


@contextmanager
def workdir() -> Iterator[Path]:
    base = Path(settings.PORTABILITY_EXPORT_DIR) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class CheckedArchive:
    """An archive whose every byte matched its manifest, its data files copied into `directory`."""

    manifest: dict
    paths: dict[str, Path]  # member name -> extracted copy

    def lines(self, name: str) -> Iterator[tuple[int, dict]]:
        with open(self.paths[name], "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise ArchiveRefused(f"{name}, line {number}: not valid JSON") from None
                if not isinstance(row, dict) or not isinstance(row.get("id"), int):
                    raise ArchiveRefused(f"{name}, line {number}: each line must be an object with an integer id")
                yield number, row


def archive_check(path: Path, directory: Path, *, expected_kind: str = "full") -> CheckedArchive:
    """Verify an archive completely (manifest, version, names, sizes, line counts, checksums) before any write.

    Raises ArchiveRefused naming the first problem found.
    """
    manifest: dict | None = None
    paths: dict[str, Path] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for index, member in enumerate(tar):
                name = member.name
                if index == 0:
                    if name != MANIFEST or not member.isfile():
                        raise ArchiveRefused(f"the archive must start with {MANIFEST}; it starts with {name!r}")
                    if member.size > 10 * 1024 * 1024:
                        raise ArchiveRefused(f"{MANIFEST} is implausibly large ({member.size} bytes)")
                    manifest = _manifest(tar.extractfile(member).read(), expected_kind=expected_kind)
                    continue
                if ".." in name.split("/") or name.startswith("/") or not MEMBER_NAME.match(name):
                    raise ArchiveRefused(f"the archive holds a member with a name the format does not allow: {name!r}")
                if not member.isfile():
                    raise ArchiveRefused(f"{name!r} is not a regular file (links and devices are refused)")
                declared = manifest["files"].get(name)
                if declared is None:
                    raise ArchiveRefused(f"{name!r} is not listed in the manifest")
                if name in paths:
                    raise ArchiveRefused(f"{name!r} appears twice")
                if member.size != declared["bytes"]:
                    raise ArchiveRefused(f"{name}: {member.size} bytes, the manifest says {declared['bytes']}")
                paths[name] = directory / f"{index:03d}.jsonl"
                rows, digest = _copy(tar.extractfile(member), paths[name])
                if digest != declared["sha256"]:
                    raise ArchiveRefused(f"{name}: checksum mismatch (the file is corrupt or was changed)")
                if rows != declared["rows"]:
                    raise ArchiveRefused(f"{name}: {rows} rows, the manifest says {declared['rows']}")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveRefused(f"not a complete tar.gz archive ({exc.__class__.__name__}: {exc})") from None
    if manifest is None:
        raise ArchiveRefused("the archive is empty")
    missing = sorted(set(manifest["files"]) - set(paths))
    if missing:
        raise ArchiveRefused(f"files listed in the manifest are missing: {', '.join(missing)}")
    return CheckedArchive(manifest=manifest, paths=paths)


def _manifest(raw: bytes, *, expected_kind: str) -> dict:
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ArchiveRefused(f"{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveRefused(f"not a chatapp organization archive ({MANIFEST} has no format {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArchiveRefused(
            f"archive format version {version!r} is not supported here (this instance reads version {FORMAT_VERSION}); "
            "export again from an instance of the same release"
        )
    if manifest.get("kind") != expected_kind:
        raise ArchiveRefused(f"this is a {manifest.get('kind')!r} archive; only {expected_kind!r} archives import")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(spec, dict)
        and isinstance(spec.get("rows"), int)
        and isinstance(spec.get("bytes"), int)
        and isinstance(spec.get("sha256"), str)
        for spec in files.values()
    ):
        raise ArchiveRefused(f"{MANIFEST} lists its files without rows, bytes and sha256")
    return manifest


def _copy(source, destination: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    rows = 0
    with open(destination, "wb") as handle:
        while chunk := source.read(COPY_CHUNK):
            digest.update(chunk)
            rows += chunk.count(b"\n")
            handle.write(chunk)
    return rows, digest.hexdigest()
