"""manage.py plugin: tools for plugin authors and operators.

plugin new <directory> --id com.example.hello --name Hello   scaffold a plugin from the template
plugin lint <directory>                                      check the manifest (and the handlers, WIT world)
plugin build <directory> [--key key.pem] [--out file.zip]    build, package and sign (prints the key id)
plugin test <directory>                                      run tests.json against a throwaway org
plugin keygen <key.pem>                                      make an Ed25519 signing key pair
plugin compile <package.zip>                                 compile a package's component into the cache
plugin schema [--write]                                      print or write plugins/manifest.schema.json
"""

import base64
import json
import re
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management.base import BaseCommand, CommandError

from plugins import build, packages
from plugins.manifest import KNOWN_KEYS, SCHEMA_PATH, ManifestError, manifest_schema_json

TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "plugins" / "echo"
WIT = Path(__file__).resolve().parents[2] / "wit" / "chatapp-plugin.wit"


class Command(BaseCommand):
    help = "Scaffold, lint, build, sign and test plugins."
    requires_system_checks = []  # `plugin schema --write` repairs what the checks report

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        new = sub.add_parser("new")
        new.add_argument("directory")
        new.add_argument("--id", required=True)
        new.add_argument("--name", required=True)
        new.add_argument("--publisher", default="me")
        sub.add_parser("lint").add_argument("directory")
        b = sub.add_parser("build")
        b.add_argument("directory")
        b.add_argument("--key", help="PEM file of the Ed25519 private key to sign with.")
        b.add_argument("--out", help="Where to write the package (default: <directory>/build/<id>-<version>.zip).")
        sub.add_parser("test").add_argument("directory")
        sub.add_parser("keygen").add_argument("path")
        sub.add_parser("compile").add_argument("package")
        sub.add_parser("schema").add_argument("--write", action="store_true")
        sub.add_parser("reference").add_argument("--write", metavar="PATH")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_schema(self, write, **_):
        if write:
            SCHEMA_PATH.write_text(manifest_schema_json())
            self.stdout.write(f"wrote {SCHEMA_PATH}")
        else:
            self.stdout.write(manifest_schema_json())

    def do_reference(self, write=None, **_):
        from plugins.reference import reference_markdown

        text = reference_markdown()
        if write:
            Path(write).write_text(text)
            self.stdout.write(f"wrote {write}")
        else:
            self.stdout.write(text)

    def do_new(self, directory, id, name, publisher, **_):
        target = Path(directory)
        if target.exists():
            raise CommandError(f"{target} exists; choose a new directory.")
        if not re.fullmatch(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+", id):
            raise CommandError("--id must be reverse-DNS, e.g. com.example.hello")
        (target / "wit").mkdir(parents=True)
        shutil.copyfile(WIT, target / "wit" / WIT.name)
        world = id.rsplit(".", 1)[-1].replace("_", "-")
        (target / "wit" / "world.wit").write_text(
            f"package chatapp:plugin@1.0.0;\n\nworld {world} {{\n  import messages;\n  export handler;\n}}\n"
        )
        manifest = json.loads((TEMPLATE / "manifest.json").read_text())
        manifest.update(id=id, name=name, publisher=publisher, world=world, version="0.1.0",
                        description=f"{name}: describe what it does.")  # fmt: skip
        manifest["contributes"] = {"slash_commands": [{"command": f"/{world}", "description": "Say hello"}]}
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        app = (TEMPLATE / "app.py").read_text().replace("/echo", f"/{world}").replace("!echo ", f"!{world} ")
        (target / "app.py").write_text(app)
        shutil.copyfile(TEMPLATE / "tests.json", target / "tests.json")
        tests = (target / "tests.json").read_text().replace("!echo ", f"!{world} ")
        (target / "tests.json").write_text(tests)
        self.stdout.write(f"created {target}: edit manifest.json and app.py, then `manage.py plugin test {target}`")

    def do_lint(self, directory, **_):
        problems, warnings = lint(Path(directory))
        for warning in warnings:
            self.stdout.write(f"warning: {warning}")
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(self.style.SUCCESS("manifest OK"))

    def do_build(self, directory, key=None, out=None, **_):
        directory = Path(directory)
        problems, _ = lint(directory)
        if problems:
            raise CommandError("\n".join(problems))
        manifest = build.manifest_of(directory)
        self.stdout.write("building the component (componentize-py, cached by source hash)...")
        data = build.package_make(directory)
        out = Path(out or directory / "build" / f"{manifest.data['id']}-{manifest.data['version']}.zip")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        self.stdout.write(f"package {out} ({len(data)} bytes, sha256 {packages.hashlib.sha256(data).hexdigest()})")
        if key:
            private = serialization.load_pem_private_key(Path(key).read_bytes(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise CommandError("--key must be an Ed25519 private key (manage.py plugin keygen).")
            signature = packages.sign(private, data)
            Path(f"{out}.sig").write_text(signature + "\n")
            public = base64.b64encode(private.public_key().public_bytes_raw()).decode()
            self.stdout.write(f"signature {out}.sig (key id {packages.key_id_of(public)})")

    def do_keygen(self, path, **_):
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        target = Path(path)
        target.write_bytes(pem)
        target.chmod(0o600)
        public = base64.b64encode(private.public_key().public_bytes_raw()).decode()
        self.stdout.write(
            f"private key {target} (keep it secret)\npublic key {public}\nkey id {packages.key_id_of(public)}"
        )

    def do_compile(self, package, **_):
        from plugins import sandbox

        try:
            read = packages.package_read(Path(package).read_bytes())
        except packages.PackageRefused as exc:
            raise CommandError(str(exc)) from None
        sha = sandbox.component_compile(read.wasm)
        self.stdout.write(f"compiled component {sha} -> {sandbox.compiled_path(sha)}")

    def do_test(self, directory, **_):
        from plugins.devtest import run_plugin_tests

        results = run_plugin_tests(Path(directory), stdout=self.stdout)
        failed = [r for r in results if not r["ok"]]
        for result in results:
            mark = self.style.SUCCESS("ok") if result["ok"] else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {result['name']}{'' if result['ok'] else ': ' + result['detail']}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} plugin tests failed")


def lint(directory: Path) -> tuple[list[str], list[str]]:
    problems, warnings = [], []
    manifest_path = directory / "manifest.json"
    if not manifest_path.exists():
        return [f"{manifest_path} is missing"], []
    try:
        manifest = build.manifest_of(directory)
    except ManifestError as exc:
        return [f"manifest.json: {error}" for error in exc.errors], []
    unknown = sorted(set(manifest.data) - KNOWN_KEYS)
    if unknown:
        warnings.append(f"unknown manifest keys (ignored by this chatapp): {', '.join(unknown)}")
    if not (directory / "app.py").exists():
        problems.append("app.py is missing (componentize-py builds the module `app`)")
    world = manifest.data["world"]
    wit_text = (
        "\n".join(p.read_text() for p in (directory / "wit").glob("*.wit")) if (directory / "wit").exists() else ""
    )
    if not re.search(rf"\bworld\s+{re.escape(world)}\b", wit_text):
        problems.append(f"wit/: no `world {world}` (the manifest's world)")
    return problems, warnings
