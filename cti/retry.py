"""The server's one retry policy: exponential back-off with jitter, given up after a deadline.

Built on tenacity's own strategies (``wait_exponential_jitter``, ``stop_before_delay``) so every
retrying part shares one shape, configured per use. Two ways to use it:

- ``retrying()``: a tenacity ``AsyncRetrying`` for a loop that retries in process (a reconnect);
- ``next_wait(attempts, since_first)``: the same decision for a retry whose schedule is kept in
  the database (an outbound webhook waits hours between attempts and must survive a restart, so
  no task may sleep through it). It answers the seconds until the next attempt, or None: give up.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, stop_before_delay, wait_exponential_jitter

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 10.0  # seconds before the second attempt
    ceiling: float = 3600.0  # the longest wait between two attempts
    give_up_after: float = 86_400.0  # no attempt starts later than this after the first one
    jitter: float = 1.0  # up to this many seconds added at random, so retries do not march in step

    def __post_init__(self) -> None:
        if self.first <= 0 or self.ceiling < self.first or self.give_up_after <= 0 or self.jitter < 0:
            raise ValueError("back-off: 0 < first <= ceiling, give_up_after > 0, jitter >= 0")

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(wait=wait_exponential_jitter(multiplier=self.first, max=self.ceiling,
                                                          jitter=self.jitter),
                             stop=stop_before_delay(self.give_up_after), reraise=True)

    def next_wait(self, attempts: int, since_first: float) -> float | None:
        """After ``attempts`` failed attempts, the first of them ``since_first`` seconds ago: the
        seconds to wait before the next one, or None when it would start past the deadline."""
        if attempts < 1:
            raise ValueError("next_wait is asked after at least one attempt")
        retrying = self.retrying()
        state = RetryCallState(retry_object=retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempts
        # tenacity measures from its own monotonic start: place "now" since_first after it.
        state.outcome_timestamp = state.start_time + max(0.0, since_first)
        wait = float(retrying.wait(state))
        state.upcoming_sleep = wait
        return None if retrying.stop(state) else wait
