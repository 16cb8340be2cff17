"""The permission catalogue. Apps declare their codes in their own permissions.py."""

from dataclasses import dataclass

from chatapp.kernel.registry import Registry


@dataclass(frozen=True)
class Permission:
    """A permission code such as `channels.create`, what it allows, and the resource type it applies to."""

    key: str
    description: str
    resource: str = "organization"

    def __str__(self):
        return self.key


permissions: Registry[Permission] = Registry("permission")


def declare(key: str, description: str, resource: str = "organization") -> Permission:
    return permissions.register(Permission(key, description, resource))
