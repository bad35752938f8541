"""Errors of the core, drawn as one tree::

    CtiError                       every error the server raises on purpose
    ├── InvalidInput               the caller sent something malformed (400)
    ├── NotFound                   an id that does not exist (404)
    ├── Forbidden                  the token's role or owner may not do this (403)
    ├── Conflict                   the thing exists but is not in a state that allows it (409)
    └── Unavailable                a part this needs is not configured or not reachable (503)

Each carries a stable kebab-case ``error_id`` and details; the desktop API maps them to HTTP.
"""

from __future__ import annotations

from typing import Any


class CtiError(Exception):
    status = 500

    def __init__(self, error_id: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class InvalidInput(CtiError):
    status = 400


class NotFound(CtiError):
    status = 404


class Forbidden(CtiError):
    status = 403


class Conflict(CtiError):
    status = 409


class StaleSnapshot(Conflict):
    """A save from a snapshot that another change has already replaced: read again and redo."""


class Unavailable(CtiError):
    status = 503
