"""Settings for bench/rbac_bench.py: the product's settings plus django-guardian, the baseline it is compared with."""

from chatapp.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "guardian"]  # noqa: F405
AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "guardian.backends.ObjectPermissionBackend"]  # noqa: F405
GUARDIAN_ANONYMOUS_USER_NAME = None  # no anonymous user row: the bench never asks for one
