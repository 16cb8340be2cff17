"""Resource-level permissions at scale: our grant tables against django-guardian, side by side in one run.

A guest (no channel permission of their own) in 20 teams, with 5,000 channel grants spread over 100,000 private
channels (1,000,000 too unless BENCH_QUICK=1). Each list is "the 50 newest channels this user may see":

- ours: `chatapp.chat.selectors.channels_visible_to(...)[:50]`, exactly what the channel list API runs
- unfiltered: the organization's 50 newest channels with the same annotations (what permission filtering costs)
- guardian: `get_objects_for_user(user, "chat.view_channel", klass=<org's channels>)[:50]` with the same 5,000
  grants held through 20 groups (guardian's direct-FK-free generic tables, its default)
Run with DJANGO_SETTINGS_MODULE=bench.rbac_settings (bench/run does).
"""

import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.rbac_settings")
django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from guardian.models import GroupObjectPermission  # noqa: E402
from guardian.shortcuts import get_objects_for_user  # noqa: E402

from accounts.models import Membership, Organization, User  # noqa: E402
from chatapp.chat import selectors  # noqa: E402
from chatapp.chat.models import Channel  # noqa: E402
from rbac.models import Grant, Role, Team, TeamMember  # noqa: E402
from rbac.services import forget_access  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
SIZES = [100_000] if QUICK else [100_000, 1_000_000]
GRANTS, TEAMS, RUNS = 5_000, 20, 30 if QUICK else 100


def add_channels(org, upto):
    have = Channel.objects.filter(organization=org).count()
    for start in range(have, upto, 20_000):
        Channel.objects.bulk_create(
            [
                Channel(organization=org, name=f"bench-{i}", is_private=True)
                for i in range(start, min(upto, start + 20_000))
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_channel")


def grant_setup(org, user):
    """5,000 grants through 20 teams (ours) and the same through 20 groups (guardian), spread over the ids."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    # A rerun on the same database starts from scratch (bench/run uses a fresh one; this helps by hand).
    Grant.objects.filter(organization=org, team__name__startswith="bench team").delete()
    Team.objects.filter(organization=org, name__startswith="bench team").delete()
    Role.objects.filter(organization=org, name="Bench viewer").delete()
    GroupObjectPermission.objects.filter(group__name__startswith="bench group").delete()
    Group.objects.filter(name__startswith="bench group").delete()
    role = Role.objects.create(organization=org, name="Bench viewer", permissions=["channels.view_private"])
    ids = list(Channel.objects.filter(organization=org).order_by("id").values_list("id", flat=True))
    step = len(ids) // GRANTS
    chosen = ids[::step][:GRANTS]
    view = Permission.objects.get(codename="view_channel", content_type__app_label="chat")
    channel_type = ContentType.objects.get_for_model(Channel)
    for t in range(TEAMS):
        team = Team.objects.create(organization=org, name=f"bench team {t}")
        TeamMember.objects.create(organization=org, team=team, user=user)
        group = Group.objects.create(name=f"bench group {t}")
        user.groups.add(group)
        mine = chosen[t::TEAMS]
        Grant.objects.bulk_create(
            [Grant(organization=org, role=role, team=team, resource_type="chat.channel", resource_id=pk) for pk in mine]
        )
        GroupObjectPermission.objects.bulk_create(
            [GroupObjectPermission(group=group, permission=view, content_type=channel_type, object_pk=str(pk))
             for pk in mine]
        )  # fmt: skip
    # Fresh statistics for every side, as autovacuum would have them in production: planned on the empty-table
    # estimates, a 5,000-row grant scan was costed as one row.
    with connection.cursor() as cursor:
        for table in ("rbac_grant", "rbac_team", "rbac_teammember", "guardian_groupobjectpermission", "auth_group"):
            cursor.execute(f"ANALYZE {table}")
    return len(chosen)


def measure(fn, user, runs=RUNS):
    """Median and p95 ms over `runs` (the per-request memo reset each time), and the queries of the last run."""
    samples = []
    for _ in range(runs):
        forget_access(user)
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            rows = list(fn())
            samples.append(time.perf_counter() - start)
    p95 = statistics.quantiles(samples, n=20)[18] if len(samples) >= 2 else samples[0]
    return statistics.median(samples) * 1000, p95 * 1000, len(queries), len(rows)


def main():
    org = Organization.objects.get(slug="acme")
    user = User.objects.get(email="guest@acme.example")
    user = User.objects.get(pk=user.pk)
    assert Membership.objects.get(organization=org, user=user).role == "guest"
    rows_out, verdicts, p95_ours = [], [], {}
    granted = None
    for size in SIZES:
        add_channels(org, size)
        if granted is None:
            with transaction.atomic():
                granted = grant_setup(org, user)
        ours = measure(lambda: selectors.channels_visible_to(user=user, org=org).order_by("-id")[:50], user)
        bare = measure(
            lambda: Channel.objects.filter(organization=org).annotate(member_count=Count("memberships"))
            .order_by("-id")[:50],
            user,
        )  # fmt: skip
        if size != SIZES[0]:  # at 1M one guardian query takes minutes: compared at the first size only
            guardian = None
        else:
            guardian = measure(
                lambda: get_objects_for_user(
                    user, "chat.view_channel", klass=Channel.objects.filter(organization=org), accept_global_perms=False
                ).order_by("-id")[:50],
                user,
                runs=1,  # tens of seconds a query at this size (it casts every id to text and scans)
            )
        for name, result in (("ours", ours), ("unfiltered", bare), ("guardian", guardian)):
            if result is not None:
                rows_out.append((size, name, *result))
        p95_ours[size] = ours[1]
        verdicts.append((ours[2] <= 3, f"{size:,}: list queries <= 3 [{ours[2]}]"))
        verdicts.append(
            (ours[1] <= max(1.5 * bare[1], bare[1] + 5),
             f"{size:,}: p95 within 1.5x (+5 ms) of unfiltered [{ours[1]:.1f} vs {bare[1]:.1f} ms]")
        )  # fmt: skip
        if guardian is not None:
            speedup = guardian[0] / ours[0]
            verdicts.append((speedup >= 10, f"{size:,}: >= 10x faster than guardian [{speedup:.0f}x at the median]"))
    if len(SIZES) > 1:
        growth = p95_ours[SIZES[-1]] / p95_ours[SIZES[0]]
        verdicts.append((growth <= 1.3, f"p95 grows <= 1.3x from 100k to 1M [{growth:.2f}x]"))

    print(f"\nrbac bench: 50 visible channels for a guest in {TEAMS} teams with {granted:,} channel grants\n")
    print(f"{'channels':>10} {'list':12} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'rows':>5}")
    for size, name, p50, p95, queries, n in rows_out:
        print(f"{size:>10,} {name:12} {p50:8.2f} {p95:8.2f} {queries:>8} {n:>5}")
    print()
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'MISSED':7} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
