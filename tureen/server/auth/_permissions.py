"""MLflow's permission levels (READ, EDIT, MANAGE, NO_PERMISSIONS) and what each allows."""

from __future__ import annotations

from dataclasses import dataclass

from tureen.exceptions import InvalidParameterError

__all__ = ["Permission", "READ", "EDIT", "MANAGE", "NO_PERMISSIONS", "ALL_PERMISSIONS", "get_permission"]


@dataclass(frozen=True)
class Permission:
    """One level: which actions (read, update, delete, manage) it allows on an experiment or a model.

    Example:
        >>> EDIT.allows("update"), EDIT.allows("delete")
        (True, False)
    """

    name: str
    can_read: bool
    can_update: bool
    can_delete: bool
    can_manage: bool

    def allows(self, action: str) -> bool:
        return bool(getattr(self, f"can_{action}"))


READ = Permission("READ", True, False, False, False)
EDIT = Permission("EDIT", True, True, False, False)
MANAGE = Permission("MANAGE", True, True, True, True)
NO_PERMISSIONS = Permission("NO_PERMISSIONS", False, False, False, False)
ALL_PERMISSIONS = {p.name: p for p in (READ, EDIT, MANAGE, NO_PERMISSIONS)}


def get_permission(name: object) -> Permission:
    """The level named ``name``; anything else is a 400 naming the valid levels.

    Example:
        >>> get_permission("MANAGE").can_manage
        True
    """
    if not isinstance(name, str) or name not in ALL_PERMISSIONS:
        raise InvalidParameterError(f"Invalid permission {name!r}. Valid permissions are: "
                                    f"{', '.join(ALL_PERMISSIONS)}")
    return ALL_PERMISSIONS[name]
