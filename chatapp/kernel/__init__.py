"""The shared kernel: tenancy base, API base classes, error format, request context, registries."""
