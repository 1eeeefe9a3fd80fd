"""Exception tree. A class's docstring is its default message.

OpenEngageError
 ├── ConfigError          bad settings or URL
 ├── StoreUnavailable     the database cannot be reached, cannot commit, or is not migrated
 │    └── CommitUnknown   the connection was lost during COMMIT: it may or may not have committed
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


class CommitUnknown(StoreUnavailable):
    """The store stopped answering during a commit: whether it committed is unknown."""


class NotFound(OpenEngageError):
    """No such object."""


class Conflict(OpenEngageError):
    """The object already exists."""


class PermissionDenied(OpenEngageError):
    """The acting team member lacks the permission for this action."""
