"""Where each object lives in the bucket: every S3 key is built here.

    tenants/<tenant>/portfolios/<portfolio>/<file name>            the uploaded file
    tenants/<tenant>/portfolios/<portfolio>/errors.csv             rejected rows
    tenants/<tenant>/portfolios/<portfolio>/warnings.csv           warnings
    tenants/<tenant>/portfolios/<portfolio>/acknowledgement.csv    the placement receipt
    tenants/<tenant>/portfolios/<portfolio>/return-<date>.csv      debts returned that day
    tenants/<tenant>/letters/<date>/cartas-<date>.pdf              the day's letters, to print
    tenants/<tenant>/letters/<date>/manifesto-<date>.csv           the print house's manifest
    tenants/<tenant>/messages/<message>/<file name>                a message's attachment
    tenants/<tenant>/calls/<yyyy-mm-dd>/<call record>.wav          a dialer call's recording
    tenants/<tenant>/protest/<date>/<file name>                    a CRA file sent or read
    tenants/<tenant>/bureau/remessa-<number>.txt                   a file sent to the credit bureau
    tenants/<tenant>/bureau/retorno-<number>.txt                   the bureau's answer to it
    tenants/<tenant>/cases/<case>/documents/<document>/<file name> a document of a judicial case
    tenants/<tenant>/cases/<case>/dossie-v<NNN>.pdf|.zip           a case's dossier, each version

A tenant's objects share one prefix, so they can be listed, exported or removed together.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid


def safe_file_name(name: str) -> str:
    """A file name reduced to ASCII letters, digits and `._-` (keys and downloads)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._")
    return cleaned[-120:] or "carteira"


def portfolio_prefix(tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"tenants/{tenant_id}/portfolios/{portfolio_id}"


def upload_key(tenant_id: uuid.UUID, portfolio_id: uuid.UUID, file_name: str) -> str:
    return f"{portfolio_prefix(tenant_id, portfolio_id)}/{safe_file_name(file_name)}"


def error_report_key(tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{portfolio_prefix(tenant_id, portfolio_id)}/errors.csv"


def warning_report_key(tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{portfolio_prefix(tenant_id, portfolio_id)}/warnings.csv"


def acknowledgement_key(tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> str:
    return f"{portfolio_prefix(tenant_id, portfolio_id)}/acknowledgement.csv"


def return_report_key(tenant_id: uuid.UUID, portfolio_id: uuid.UUID, day: dt.date) -> str:
    return f"{portfolio_prefix(tenant_id, portfolio_id)}/return-{day.isoformat()}.csv"


def letters_prefix(tenant_id: uuid.UUID, day: dt.date) -> str:
    return f"tenants/{tenant_id}/letters/{day.isoformat()}"


def print_file_key(tenant_id: uuid.UUID, day: dt.date) -> str:
    """The day's letters of a tenant in one PDF, for the print house."""
    return f"{letters_prefix(tenant_id, day)}/cartas-{day.isoformat()}.pdf"


def print_manifest_key(tenant_id: uuid.UUID, day: dt.date) -> str:
    return f"{letters_prefix(tenant_id, day)}/manifesto-{day.isoformat()}.csv"


def message_attachment_key(tenant_id: uuid.UUID, dispatch_id: uuid.UUID, file_name: str) -> str:
    return f"tenants/{tenant_id}/messages/{dispatch_id}/{safe_file_name(file_name)}"


def call_recording_key(tenant_id: uuid.UUID, day: dt.date, call_id: uuid.UUID) -> str:
    return f"tenants/{tenant_id}/calls/{day.isoformat()}/{call_id}.wav"


def slip_key(tenant_id: uuid.UUID, agreement_id: uuid.UUID, number: int) -> str:
    return f"tenants/{tenant_id}/agreements/{agreement_id}/boleto-pix-parcela-{number:03d}.pdf"


def statement_key(tenant_id: uuid.UUID, month: dt.date, extension: str) -> str:
    return f"tenants/{tenant_id}/statements/prestacao-de-contas-{month:%Y-%m}.{extension}"


def protest_file_key(tenant_id: uuid.UUID, day: dt.date, file_name: str) -> str:
    """A protest file exchanged with the CRA (remessa, desistência, retorno...)."""
    return f"tenants/{tenant_id}/protest/{day.isoformat()}/{safe_file_name(file_name)}"


def bureau_file_key(tenant_id: uuid.UUID, number: int, answer: bool = False) -> str:
    """A remessa sent to the credit bureau, or (`answer`) its return file."""
    kind = "retorno" if answer else "remessa"
    return f"tenants/{tenant_id}/bureau/{kind}-{number:06d}.txt"
def case_document_key(tenant_id: uuid.UUID, case_id: uuid.UUID, document_id: uuid.UUID,
                      file_name: str) -> str:
    return (f"tenants/{tenant_id}/cases/{case_id}/documents/{document_id}/"
            f"{safe_file_name(file_name)}")


def dossier_key(tenant_id: uuid.UUID, case_id: uuid.UUID, version: int, extension: str) -> str:
    return f"tenants/{tenant_id}/cases/{case_id}/dossie-v{version:03d}.{extension}"
