"""How a portfolio file changes a tenant's debts.

The ORM (`core.models`) and the file readers both need it; it lives here so that a
process that only reads files (tenants.intake.formats.confined) does not load the ORM.
"""

from __future__ import annotations

from enum import StrEnum


class ImportMode(StrEnum):
    INCREMENTAL = "incremental"  # add and update; leave the rest alone
    FULL = "full"  # the file is the whole open portfolio: absent open debts are withdrawn
    SETTLEMENT = "settlement"  # a "baixa" file: the listed debts were settled with the creditor
    RECALL = "recall"  # the creditor takes the listed debts back
