"""Every write of the integrations app (keyword-only, actor and org first, permission checked, audited)."""
