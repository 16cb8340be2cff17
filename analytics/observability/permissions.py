from rbac.registry import declare

ERRORS_VIEW = declare("errors.view", "See the organization's error issues, their events and error projects (DSNs).")
ERRORS_MANAGE = declare(
    "errors.manage", "Resolve and ignore error issues; create and change error projects and their alerts."
)
PERFORMANCE_VIEW = declare(
    "performance.view", "See request latency, error rates and the SLO of the organization's endpoints."
)
