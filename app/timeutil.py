"""Times on the platform are local Beijing time (Asia/Shanghai), stored naive.

The city works in one time zone and the legal clock counts local calendar days, so every stored timestamp
is naive local time. `now()` is the single source of "now" so that tests and the demo generator can move it.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None


def now() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(TZ).replace(tzinfo=None, microsecond=0)


def today() -> date:
    return now().date()


def freeze(at: datetime | None) -> None:
    """Pin now() (tests and the demo generator); None releases it."""
    global _frozen
    _frozen = at
