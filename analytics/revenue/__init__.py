"""Revenue analytics for the operator: plans, subscriptions, invoices and payments fed by Stripe webhooks and
CSV imports; MRR, its monthly movements and the SaaS KPIs derived from them (docs/revenue.md)."""
