import pytest

from analytics.observability.models import ErrorProject


@pytest.fixture(autouse=True)
def _eager_alerts(settings):
    # Alerts are Celery tasks queued after the commit: run them inline so tests see their e-mails. The Celery app
    # reads its configuration once, so the setting alone is not enough after another test touched it.
    from chatapp.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AUDIT_STREAM_ALLOW_PRIVATE = False
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def project(acme):
    return ErrorProject.objects.create(organization=acme.org, name="web", rate_limit_per_minute=1000)


@pytest.fixture
def globex_project(globex):
    return ErrorProject.objects.create(organization=globex.org, name="globex web")
