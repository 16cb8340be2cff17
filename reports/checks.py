from django.core import checks


@checks.register()
def templates_use_declared_sections(app_configs, **kwargs):
    """A shipped template naming an undeclared section type would fail only when someone picks it."""
    from reports.sections import clean_sections, sections
    from reports.templates_catalogue import TEMPLATES

    errors = []
    for template in TEMPLATES.values():
        for item in template.sections:
            if item["type"] not in sections:
                errors.append(checks.Error(f"Report template {template.key!r} uses undeclared section "
                                           f"{item['type']!r}", id="reports.E001"))  # fmt: skip
        try:
            clean_sections(template.sections)
        except Exception as exc:
            errors.append(checks.Error(f"Report template {template.key!r} is invalid: {exc}", id="reports.E002"))
    for entry in sections:
        if entry.permission:
            from rbac.registry import permissions

            if entry.permission not in permissions:
                errors.append(checks.Error(f"Report section {entry.key!r} needs undeclared permission "
                                           f"{entry.permission!r}", id="reports.E003"))  # fmt: skip
    return errors
