from django.db import migrations

from chatapp.kernel.beat import BEAT_DEPENDENCY, periodic_task


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_portability"), BEAT_DEPENDENCY]

    operations = [
        periodic_task("Accounts: delete expired organization exports", "accounts.org_exports_expire", crontab={"minute": "20"}),
    ]
