"""Add BENCH_MESSAGES messages (default 20,000) to acme's #general, after `manage.py seed_demo`.

Run as `python -m bench.seed` with the bench's environment. Bodies vary in length like real chat, authors
rotate over the channel's members, and timestamps rise with the ids (the list is newest first by id).
"""

import os
import random
from datetime import timedelta

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatapp.settings")
    django.setup()
    from django.utils import timezone

    from accounts.management.commands.seed_demo import PHRASES
    from accounts.models import Organization
    from chatapp.chat.models import Channel, ChannelMember, Message

    count = int(os.environ.get("BENCH_MESSAGES", "20000"))
    org = Organization.objects.get(slug="acme")
    channel = Channel.objects.for_org(org).get(name="general")
    authors = list(ChannelMember.objects.filter(channel=channel).values_list("user_id", flat=True))
    rng = random.Random(2026)  # the same data every run
    words = " ".join(PHRASES).lower().replace(".", "").replace("!", "").replace("?", "").split()
    start = timezone.now() - timedelta(days=90)
    step = timedelta(days=90) / count
    messages = [
        Message(
            organization=org,
            channel=channel,
            author_id=authors[i % len(authors)],
            body=" ".join(rng.choice(words) for _ in range(rng.randint(3, 40))).capitalize() + ".",
            created=start + step * i,
        )
        for i in range(count)
    ]
    Message.objects.bulk_create(messages, batch_size=2000)
    print(f"bench seed: {count} messages in acme #general ({len(authors)} authors)")


if __name__ == "__main__":
    main()
