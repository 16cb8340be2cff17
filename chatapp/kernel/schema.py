"""OpenAPI extensions for the kernel's API classes (imported by KernelConfig.ready)."""

from drf_spectacular.authentication import SessionScheme


class ChatappSessionScheme(SessionScheme):
    target_class = "chatapp.kernel.authentication.SessionAuthentication"
