from django.core import checks


@checks.register()
def tiles_reference_declared_metrics(app_configs, **kwargs):
    """Built-in dashboards may only use metrics of the catalogue (stored tiles are checked when saved)."""
    from analytics.builtin import INSTANCE_OVERVIEW, ORG_OVERVIEW
    from analytics.events import catalogue as events
    from analytics.features import catalogue as features
    from analytics.metrics import catalogue as metrics

    problems = []
    for definition in (ORG_OVERVIEW, INSTANCE_OVERVIEW):
        for tile in definition["tiles"]:
            if tile["metric"] not in metrics:
                problems.append(checks.Error(f"{definition['name']} uses undeclared metric {tile['metric']!r}",
                                             id="analytics.E001"))  # fmt: skip
    for feature in features:
        for name in feature.events:
            if name not in events:
                problems.append(checks.Error(f"feature {feature.key!r} refers to undeclared event {name!r}",
                                             id="analytics.E002"))  # fmt: skip
    return problems
