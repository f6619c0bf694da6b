"""Agency-wide contact counts across creditors, keyed so no tenant's data shows.

A debtor owing several creditors must not be called more often than the agency's caps
allow in total. The key is an HMAC of the CPF/CNPJ with a secret from settings, so the
table names nobody, and the application role reaches it only through two
`SECURITY DEFINER` functions (`regua_contact_tally`, `regua_contact_counts`) that add
to a count and read counts back: it can learn how often a document it already knows was
contacted today, never which tenants or documents are in the table.

Citus: distributed by `debtor_key` (no tenant column; its rows belong to no tenant).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class AgencyContactCount(Base):
    __tablename__ = "agency_contact_count"

    debtor_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # the debtor's local day
    attempts: Mapped[int] = mapped_column(default=0)
    answered: Mapped[int] = mapped_column(default=0)
