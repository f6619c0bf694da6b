"""Primary keys are UUIDv7: time-ordered, so new rows land at the right edge of indexes."""

from __future__ import annotations

import uuid

from uuid_utils import compat


def uuid7() -> uuid.UUID:
    return compat.uuid7()
