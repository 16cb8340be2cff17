"""Fixed-window counters in the shared cache: one atomic INCR per hit, the same across every web process.

Used by the API throttles (chatapp.kernel.throttling) and by endpoints outside DRF that must stop floods, such
as SSO callbacks. A fixed window lets at most twice the limit through across a boundary: fine for abuse control.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache as default_cache


@dataclass(frozen=True)
class Window:
    count: int  # hits in the current window, this one included
    retry_after: int  # seconds until the window ends


def _key(key: str, seconds: int, now: float) -> str:
    return f"rl:{key}:{int(now // seconds)}"


def window_hit(key: str, *, seconds: int, cache=None) -> Window:
    """Count one hit against `key` in the current window of `seconds` and return the window's count."""
    cache = cache or default_cache
    now = time.time()
    slot = _key(key, seconds, now)
    cache.add(slot, 0, seconds + 1)
    try:
        count = cache.incr(slot)
    except ValueError:  # the key expired between add and incr: this hit opens a new window
        cache.set(slot, 1, seconds + 1)
        count = 1
    return Window(count=count, retry_after=max(1, int(seconds - now % seconds)))


def window_peek(key: str, *, seconds: int, cache=None) -> Window:
    """The current window's count without counting a hit."""
    cache = cache or default_cache
    now = time.time()
    return Window(count=cache.get(_key(key, seconds, now), 0), retry_after=max(1, int(seconds - now % seconds)))
