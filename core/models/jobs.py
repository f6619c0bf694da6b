"""Idempotency keys for jobs: a job's effect and its key commit in one transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, created_at_column


class JobOnce(Base):
    """Agency-wide. Citus: distributed by `key`."""

    __tablename__ = "job_once"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    done_at: Mapped[dt.datetime] = created_at_column()
