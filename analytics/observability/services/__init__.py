"""Every write of error tracking and performance (see each module)."""
