"""Celery tasks of LDAP / Active Directory providers."""

from celery import shared_task


@shared_task(name="accounts.ldap_sync_all", ignore_result=True)
def ldap_sync_all_task():
    """Sync every enabled LDAP provider with its directory (beat: hourly). Idempotent, so safe to rerun."""
    from accounts.sso.ldap_sync import ldap_sync_all

    return ldap_sync_all()
