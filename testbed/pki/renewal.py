"""When a device renews its certificate: a fraction of the lifetime, jitter, windows.

After step-ca and cert-manager: renew at ``not_before + fraction * lifetime``, minus a
uniform jitter in ``[0, jitter * lifetime)`` so that a fleet enrolled together does not
renew together (a renewal storm).  Hospitals may confine renewals to change windows:
the renewal then moves to the next window start, or to the latest earlier one when
the next would come within an hour of expiry.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from testbed.errors import PkiError

__all__ = ["ChangeWindow", "OnExpiry", "renewal_time"]

_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_EXPIRY_MARGIN = timedelta(hours=1)


class OnExpiry(StrEnum):
    """What happens when a certificate nears its end (its issuance record says)."""

    RENEW_AUTOMATICALLY = "renew-automatically"
    RENEW_MANUALLY = "renew-manually"
    DISCARD = "discard"  # a pre-production test's own certificate


@dataclass(frozen=True, slots=True)
class ChangeWindow:
    """A weekly change window in UTC: on ``weekdays`` (0 = Monday), from ``start``."""

    weekdays: frozenset[int]
    start: time
    duration: timedelta

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise PkiError(f"weekdays must be a non-empty subset of 0..6, got {self.weekdays}")
        if not timedelta(0) < self.duration <= _WEEK:
            raise PkiError(
                f"a change window lasts more than 0 and at most 7 days, got {self.duration}"
            )
        if self.start.tzinfo is not None:
            raise PkiError(f"the window start is a naive UTC time of day, got {self.start}")

    def _start_on(self, day: date) -> datetime | None:
        if day.weekday() not in self.weekdays:
            return None
        return datetime.combine(day, self.start, tzinfo=UTC)

    def _starts_around(self, when: datetime) -> list[datetime]:
        """Every window start from eight days before ``when``'s date to eight days after."""
        first = when.astimezone(UTC).date() - 8 * _DAY
        days = (first + n * _DAY for n in range(17))
        return [s for s in map(self._start_on, days) if s is not None]

    def contains(self, t: datetime) -> bool:
        """Whether ``t`` falls inside one of the windows."""
        return any(s <= t < s + self.duration for s in self._starts_around(t))

    def next_start(self, after: datetime) -> datetime:
        """The first window start at or after ``after``."""
        return min(s for s in self._starts_around(after) if s >= after)

    def previous_start(self, before: datetime) -> datetime:
        """The latest window start at or before ``before``."""
        return max(s for s in self._starts_around(before) if s <= before)


def _validate(not_before: datetime, not_after: datetime, fraction: float, jitter: float) -> None:
    if not_after <= not_before:
        raise PkiError(f"not_after {not_after} must come after not_before {not_before}")
    if not 0.0 < fraction < 1.0:
        raise PkiError(f"fraction must be in (0, 1), got {fraction}")
    if not 0.0 <= jitter < fraction:
        raise PkiError(f"jitter must be in [0, fraction={fraction}), got {jitter}")


def _in_windows(
    jittered: datetime, not_before: datetime, not_after: datetime, windows: Sequence[ChangeWindow]
) -> datetime:
    following = min(w.next_start(jittered) for w in windows)
    if following <= not_after - _EXPIRY_MARGIN:
        return following
    preceding = max(w.previous_start(jittered) for w in windows)
    if preceding >= not_before:
        return preceding
    raise PkiError(
        f"no change window starts between {not_before} and {not_after - _EXPIRY_MARGIN}; "
        "widen the windows or lengthen the certificate lifetime"
    )


def renewal_time(
    *,
    not_before: datetime,
    not_after: datetime,
    fraction: float,
    jitter: float,
    rng: random.Random,
    windows: Sequence[ChangeWindow] = (),
) -> datetime:
    """When to renew a certificate valid from ``not_before`` to ``not_after``.

    ``not_before + fraction * lifetime - uniform[0, jitter * lifetime)``; one draw from
    ``rng`` per call.  With change windows, the time moves to the next window start, or
    to the latest earlier start (not before ``not_before``) when the next one would be
    later than one hour before expiry; :class:`PkiError` when neither fits.
    """
    _validate(not_before, not_after, fraction, jitter)
    lifetime = not_after - not_before
    jittered = not_before + fraction * lifetime - rng.random() * jitter * lifetime
    if not windows:
        return jittered
    return _in_windows(jittered, not_before, not_after, windows)
