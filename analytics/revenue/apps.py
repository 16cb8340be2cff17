from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "analytics.revenue"
    label = "revenue"
    verbose_name = "Revenue analytics"

    def ready(self):
        register_metrics()


def register_metrics() -> None:
    """Revenue series as instance-wide dashboard metrics (the operator's: the instance analytics API is theirs)."""
    from analytics.metrics import catalogue, register_pairs
    from analytics.revenue.selectors import INTERVALS, SERIES

    if "revenue.mrr" in catalogue:
        return
    titles = {
        "revenue.mrr": "MRR", "revenue.arr": "ARR", "revenue.new_mrr": "New MRR",
        "revenue.expansion_mrr": "Expansion MRR",
        "revenue.contraction_mrr": "Contraction MRR", "revenue.churned_mrr": "Churned MRR",
        "revenue.reactivation_mrr": "Reactivation MRR", "revenue.net_new_mrr": "Net new MRR",
        "revenue.logo_churn": "Logo churn", "revenue.net_revenue_churn": "Net revenue churn",
        "revenue.net_revenue_retention": "Net revenue retention",
    }  # fmt: skip
    for key, (fn, unit) in SERIES.items():
        money = unit == "money"
        register_pairs(
            key, titles.get(key, key), fn, org_scoped=False, intervals=INTERVALS,
            summary="last" if key in ("revenue.mrr", "revenue.arr") else ("sum" if money else "mean"),
            description="Minor units of REVENUE_REPORTING_CURRENCY." if money else "A fraction (0.05 = 5 %).",
        )  # fmt: skip
