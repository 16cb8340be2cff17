"""Settings for `make bench`: the production settings plus the baseline views, which never ship."""

from chatapp.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
