"""The server's notion of "now": one object on the app state, replaced by a fake in tests
(token expiry, key expiry and rate-limit windows are tested without sleeping)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def time(self) -> float:
        """Unix seconds."""
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)
