"""Performance metrics and error tracking (issue 9, items 5 and 6): see docs/observability.md."""
