"""When generated passwords change, and until when each Key Vault secret version is valid.

Time is cut into rotation periods of `period_days` (counted from 1970-01-01 UTC, so every run on the same day agrees).
A `pulumi up` in a new period changes the keepers of the passwords due in it, which replaces them; nothing rotates
between runs, so the expiry on each secret version leaves `grace_days` after its successor is due.

Application logins come in two slots, a and b, that take turns (zero-downtime rotation): in period n the active slot
is a when n is even, b when n is odd. A slot's password is replaced only when the slot becomes active, so the slot
that the still-running pods use keeps its password while new pods roll out with the other one:

    period       n (even)            n+1                 n+2
    slot a       new, active         unchanged, standby  new, active
    slot b       unchanged, standby  new, active         unchanged, standby

The server admin password has one consumer, the database init hook, which reads it afresh on every run; it rotates
every period.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

Slot = Literal["a", "b"]
SLOTS: tuple[Slot, ...] = ("a", "b")
EPOCH = datetime.date(1970, 1, 1)
DAY_SECONDS = 86400


@dataclass(frozen=True, kw_only=True)
class RotationSchedule:
    period_days: int
    grace_days: int
    today: datetime.date

    @property
    def period(self) -> int:
        return (self.today - EPOCH).days // self.period_days

    @property
    def active_slot(self) -> Slot:
        return SLOTS[self.period % 2]

    def _start(self, period: int) -> int:
        """UTC epoch seconds at which `period` begins."""
        return period * self.period_days * DAY_SECONDS

    def generation(self, slot: Slot | None = None) -> int:
        """Changes exactly when the password is due: each period for the admin (slot None), and for a slot at the
        start of each period in which it becomes active."""
        if slot is None:
            return self.period
        return (self.period + SLOTS.index(slot)) // 2

    def expires(self, slot: Slot | None = None) -> int:
        """UTC epoch seconds after which this generation's secret version must no longer be needed: its successor's
        period start plus the grace for a late `pulumi up`."""
        if slot is None:
            successor = self.period + 1
        else:
            parity = SLOTS.index(slot)
            successor = self.period + 1 if (self.period + 1) % 2 == parity else self.period + 2
        return self._start(successor) + self.grace_days * DAY_SECONDS

    def next_rotation(self) -> datetime.date:
        return EPOCH + datetime.timedelta(days=(self.period + 1) * self.period_days)
