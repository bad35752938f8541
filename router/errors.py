"""Errors of the routing package beyond the core's (``cti.errors``)::

    CtiError
    └── RoutingDataError   routing state in Redis this code cannot read (500): a garbled or
                           forged record (routing-record-unreadable) or script arguments
                           (routing-arguments-unreadable)

A store meeting one does not guess: the call fails with the record's kind and the reason.
"""

from __future__ import annotations

from cti.errors import CtiError


class RoutingDataError(CtiError):
    status = 500
