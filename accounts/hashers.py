"""Password hashing: Argon2id at OWASP's recommended cost, not Django's default.

Django's default (100 MiB, 2 passes, 8 lanes) costs ~250 ms of CPU a login spread over every core: on a small
server a few logins a second take every core from the readers (bench/login_load.py measured read p95 at 71x its
quiet value beside 5 logins/s on 2 vCPUs). OWASP's Password Storage Cheat Sheet's first Argon2id configuration —
19 MiB, 2 passes, 1 lane — costs ~30 ms on one core. Existing hashes still verify (their parameters are in the
hash) and are re-hashed at the next successful login. The cost is configurable for larger machines.
"""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    # The same algorithm name: hashes stay "argon2$argon2id$..." and move between the two classes freely.
    @property
    def time_cost(self):
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self):
        return settings.ARGON2_MEMORY_KIB

    @property
    def parallelism(self):
        return settings.ARGON2_PARALLELISM
