"""Exception tree. A class's docstring is its default message.

OpenEngageError
 ├── ConfigError          bad settings or URL
 ├── StoreUnavailable     the database cannot be reached or is not migrated
 ├── NotFound             an account, member or key does not exist
 ├── Conflict             a unique name is taken
 └── PermissionDenied     the acting member lacks a permission
"""

from __future__ import annotations


class OpenEngageError(Exception):
    """OpenEngage failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(OpenEngageError):
    """The configuration is invalid."""


class StoreUnavailable(OpenEngageError):
    """The store cannot be reached."""


class NotFound(OpenEngageError):
    """No such object."""


class Conflict(OpenEngageError):
    """The object already exists."""


class PermissionDenied(OpenEngageError):
    """The acting team member lacks the permission for this action."""
