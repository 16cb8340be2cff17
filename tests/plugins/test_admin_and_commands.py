"""Admin screens and the `plugin` management command (lint, new, schema)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from plugins.manifest import SCHEMA_PATH, manifest_schema_json
from tests.plugins.conftest import ECHO_DIR


@pytest.fixture
def staff_client(operator, client):
    operator.is_superuser = True
    operator.save()
    client.force_login(operator)
    return client


@pytest.mark.parametrize(
    "url",
    ["plugin", "pluginversion", "installation", "publisher", "abusereport", "listingreview", "component"],
)
def test_admin_screens_render(staff_client, url, settings):
    settings.PLUGIN_DEV_MODE = True
    response = staff_client.get(f"/admin/plugins/{url}/")
    assert response.status_code == 200
    if url in {"plugin", "pluginversion", "installation"}:
        assert "development mode is ON" in response.content.decode()


def test_schema_file_matches_the_registries():
    assert SCHEMA_PATH.read_text() == manifest_schema_json()


def test_lint_accepts_the_example_and_explains_a_bad_manifest(tmp_path):
    out = StringIO()
    call_command("plugin", "lint", str(ECHO_DIR), stdout=out)
    assert "manifest OK" in out.getvalue()
    (tmp_path / "manifest.json").write_text(json.dumps({"id": "x", "name": "X"}))
    with pytest.raises(CommandError) as refused:
        call_command("plugin", "lint", str(tmp_path))
    assert "manifest.json: id: 'x' does not match" in str(refused.value)
    assert "'version' is a required property" in str(refused.value)


def test_new_scaffolds_a_plugin_that_lints(tmp_path):
    target = tmp_path / "hello"
    call_command("plugin", "new", str(target), "--id", "com.example.hello", "--name", "Hello", stdout=StringIO())
    manifest = json.loads((target / "manifest.json").read_text())
    assert (manifest["id"], manifest["world"]) == ("com.example.hello", "hello")
    out = StringIO()
    call_command("plugin", "lint", str(target), stdout=out)
    assert "manifest OK" in out.getvalue()


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    out = StringIO()
    call_command("plugin", "keygen", str(tmp_path / "key.pem"), stdout=out)
    assert (tmp_path / "key.pem").stat().st_mode & 0o077 == 0
    assert "key id " in out.getvalue()


def test_plugin_test_runs_the_example_against_a_throwaway_org(db, echo_package):
    from accounts.models import Organization

    out = StringIO()
    call_command("plugin", "test", str(ECHO_DIR), stdout=out)
    assert out.getvalue().count("ok ") == 3
    assert not Organization.objects.filter(slug__startswith="plugin-test-").exists()  # rolled back


def test_build_signs_the_package(tmp_path, echo_package):
    from cryptography.hazmat.primitives import serialization

    from plugins import packages

    call_command("plugin", "keygen", str(tmp_path / "key.pem"), stdout=StringIO())
    out = StringIO()
    call_command("plugin", "build", str(ECHO_DIR), "--key", str(tmp_path / "key.pem"), "--out",
                 str(tmp_path / "echo.zip"), stdout=out)  # fmt: skip
    data = (tmp_path / "echo.zip").read_bytes()
    private = serialization.load_pem_private_key((tmp_path / "key.pem").read_bytes(), password=None)
    public = packages.base64.b64encode(private.public_key().public_bytes_raw()).decode()
    assert packages.signature_verify(public, data, (tmp_path / "echo.zip.sig").read_text().strip())
    assert packages.package_read(data).sources["src/app.py"].startswith('"""The echo plugin')


def test_a_built_in_module_with_a_bad_manifest_is_reported_by_the_system_check():
    import types

    from plugins.checks import builtin_plugins_check
    from plugins.registry import builtin_register, load_problems

    module = types.ModuleType("bad_plugin")
    module.MANIFEST = {"id": "com.example.bad", "name": "Bad", "version": "one"}
    try:
        assert builtin_register(module, source="test") is None
        errors = [m for m in builtin_plugins_check() if m.id == "plugins.E001"]
        assert "bad_plugin invalid manifest" in errors[0].msg and "version: 'one' does not match" in errors[0].msg
    finally:
        load_problems.clear()


def test_a_built_in_plugin_for_another_chatapp_version_is_skipped_with_a_warning():
    import types

    from examples.plugins import echo_builtin
    from plugins.checks import builtin_plugins_check
    from plugins.registry import builtin_register, load_problems

    module = types.ModuleType("future_plugin")
    module.MANIFEST = {**echo_builtin.MANIFEST, "id": "com.example.future", "min_chatapp_version": "9.0.0"}
    module.handle_event = module.handle_command = echo_builtin.handle_event
    try:
        assert builtin_register(module, source="test") is None
        warning = next(m for m in builtin_plugins_check() if m.id == "plugins.W001")
        assert "needs chatapp 9.0.0 or later; this server runs chatapp 0.1.0" in warning.msg
    finally:
        load_problems.clear()


def test_reference_doc_is_generated_from_the_registries():
    from plugins.reference import reference_markdown

    text = (SCHEMA_PATH.parents[1] / "docs" / "plugins" / "reference.md").read_text()
    assert text == reference_markdown(), "run: manage.py plugin reference --write docs/plugins/reference.md"
    assert "| `messages.post` |" in text and "| `message.posted` |" in text
