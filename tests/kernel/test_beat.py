import pytest
from django.apps import apps as global_apps
from django_celery_beat.models import PeriodicTask

from chatapp.kernel.beat import periodic_task


def _run(operation, reverse=False):
    (operation.reverse_code if reverse else operation.code)(global_apps, None)


@pytest.mark.django_db
def test_crontab_schedule_created_once_and_removed():
    op = periodic_task("Test: nightly", "chat.retention_run_all", crontab={"minute": "5", "hour": "3"})
    _run(op)
    _run(op)  # re-running a migration's code is harmless
    task = PeriodicTask.objects.get(name="Test: nightly")
    assert (task.task, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        "chat.retention_run_all",
        "5",
        "3",
        "UTC",
    )
    _run(op, reverse=True)
    assert not PeriodicTask.objects.filter(name="Test: nightly").exists()


@pytest.mark.django_db
def test_interval_schedule_with_queue():
    _run(periodic_task("Test: often", "chat.retention_run_all", every_seconds=300, queue="reports"))
    task = PeriodicTask.objects.get(name="Test: often")
    assert (task.interval.every, task.interval.period, task.queue, task.crontab) == (300, "seconds", "reports", None)


def test_exactly_one_timing_required():
    with pytest.raises(ValueError, match="exactly one"):
        periodic_task("x", "y")
    with pytest.raises(ValueError, match="exactly one"):
        periodic_task("x", "y", crontab={}, every_seconds=5)
