"""The errors of the AMI link, as the desktop API reports them (``cti.errors.CtiError``)."""

from __future__ import annotations

from cti.ami.frames import AmiMessage
from cti.errors import CtiError

__all__ = ["AmiActionError", "AmiDisconnected", "AmiError", "AmiLoginFailed"]


class AmiError(CtiError):
    """Something went wrong talking to Asterisk (a bad gateway, from the desktop's side)."""

    status = 502


class AmiDisconnected(AmiError):
    """The action was not answered because the link is down or went down while it was in flight.

    The action may or may not have been carried out by Asterisk; it is never re-sent by the link.
    """

    status = 503

    def __init__(self, action: str, why: str) -> None:
        super().__init__("ami-disconnected", f"{action}: AMI link down ({why})", action=action, why=why)
        self.action = action
        self.why = why


class AmiActionError(AmiError):
    """Asterisk answered the action with ``Response: Error`` (``message`` is its ``Message``)."""

    def __init__(self, action: str, message: str, response: AmiMessage) -> None:
        super().__init__("ami-action-failed", message, action=action)
        self.action = action
        self.response = response

    def __str__(self) -> str:
        return f"{self.action}: {self.message}"


class AmiLoginFailed(AmiError):
    """Asterisk refused the Login (wrong user or secret, or not allowed from this address)."""

    def __init__(self, username: str, message: str) -> None:
        super().__init__("ami-login-failed", message, username=username)
        self.username = username
