"""A case's documents: the creditor's (or the agency's) uploads and the generated
dossiers, in S3 through core.storage.

An upload is refused unless its content is what its name says (the first bytes of a PDF,
a PNG, a JPEG, an OOXML or ODF file, or an XML such as an NF-e) and it is at most
MAX_BYTES; a case holds at most MAX_DOCUMENTS uploads.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import transaction
from core.auth.principal import Principal
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.ids import uuid7
from core.runtime import get_storage
from core.storage_keys import case_document_key
from legal.cases.models import (
    DOCUMENT_KIND_LABELS,
    UPLOADED_KINDS,
    CaseDocument,
    CaseState,
    DocumentKind,
    DocumentOrigin,
    LegalCase,
)
from legal.cases.service import (
    DOSSIER_ROLES,
    READING_ROLES,
    UPLOADING_ROLES,
    access_case,
    add_event,
    lock_case,
    require,
)

MAX_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS = 200
_ZIP = b"PK\x03\x04"
# extension: (content type, how the file starts)
ACCEPTED: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              (_ZIP,)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (_ZIP,)),
    ".odt": ("application/vnd.oasis.opendocument.text", (_ZIP,)),
    ".xml": ("application/xml", (b"<?xml", b"\xef\xbb\xbf<?xml", b"<")),
}
ACCEPTED_NAMES = ", ".join(e.lstrip(".").upper() for e in ACCEPTED if e != ".jpeg")
KIND_CHOICES = [(k.value, DOCUMENT_KIND_LABELS[k]) for k in UPLOADED_KINDS]


def check(file_name: str, data: bytes) -> str:
    """The content type of an acceptable upload; a ValidationFailed naming the field
    `file` otherwise."""
    name = os.path.basename(file_name or "").strip()
    if not name:
        raise ValidationFailed({"file": "escolha um arquivo"})
    if len(name) > 255:
        raise ValidationFailed({"file": "o nome do arquivo passa de 255 caracteres"})
    extension = os.path.splitext(name)[1].lower()
    if extension not in ACCEPTED:
        shown = extension or "sem extensão"
        raise ValidationFailed({"file": f"tipo de arquivo não aceito ({shown}): envie"
                                        f" {ACCEPTED_NAMES}"})
    if not data:
        raise ValidationFailed({"file": f"o arquivo {name} está vazio"})
    if len(data) > MAX_BYTES:
        raise ValidationFailed({"file": f"o arquivo {name} tem"
                                        f" {len(data) / 1024 / 1024:.1f} MB; o limite é"
                                        f" {MAX_BYTES // 1024 // 1024} MB".replace(".", ",")})
    content_type, starts = ACCEPTED[extension]
    if not data.startswith(starts):
        raise ValidationFailed({"file": f"o conteúdo de {name} não é de um arquivo"
                                        f" {extension.lstrip('.').upper()}"})
    return content_type


async def upload(principal: Principal, case_id: uuid.UUID, file_name: str, data: bytes,
                 kind: str | None, description: str | None = None) -> uuid.UUID:
    require(principal, UPLOADING_ROLES, "enviar documentos de casos")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        if kind not in {k.value for k in UPLOADED_KINDS}:
            raise ValidationFailed({"kind": "escolha o tipo do documento"})
        text = (description or "").strip() or None
        if text and len(text) > 300:
            raise ValidationFailed({"description": "use no máximo 300 caracteres"})
        content_type = check(file_name, data)
        if case.state == CaseState.CLOSED:
            raise Conflict({"file": "o caso está encerrado"})
        count = (await session.execute(select(func.count()).select_from(CaseDocument).where(
            CaseDocument.case_id == case.id,
            CaseDocument.origin != DocumentOrigin.GENERATED))).scalar_one()
        if count >= MAX_DOCUMENTS:
            raise Conflict({"file": f"o caso já tem {MAX_DOCUMENTS} documentos"})
        name = os.path.basename(file_name).strip()
        document_id = uuid7()
        key = case_document_key(case.tenant_id, case.id, document_id, name)
        get_storage().put(key, data, content_type)
        session.add(CaseDocument(
            tenant_id=case.tenant_id, id=document_id, case_id=case.id,
            origin=DocumentOrigin.AGENCY if principal.role.is_agency else DocumentOrigin.CREDITOR,
            kind=kind, file_name=name, content_type=content_type, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), key=key, description=text,
            uploaded_by=principal.user_id, uploaded_by_email=principal.email))
        add_event(session, principal, case, "document", None,
               f"{DOCUMENT_KIND_LABELS[DocumentKind(kind)]}: {name}"[:200])
        return document_id


@dataclass
class Download:
    file_name: str
    content_type: str
    size: int
    chunks: Iterator[bytes]


def stream(key: str) -> Iterator[bytes]:
    return get_storage().stream(key)


async def download(principal: Principal, case_id: uuid.UUID,
                   document_id: uuid.UUID) -> Download:
    """A document of the case. Dossiers (generated) are the agency's; a creditor's staff
    get the documents of their own cases that are not."""
    require(principal, READING_ROLES, "ver documentos de casos")
    async with transaction(principal) as session:
        checked = await access_case(session, principal, case_id)
        row = (await session.execute(select(CaseDocument).where(
            CaseDocument.id == document_id, CaseDocument.case_id == checked))
               ).scalar_one_or_none()
        if row is None:
            raise NotFound("documento")
        if row.origin == DocumentOrigin.GENERATED and principal.role not in DOSSIER_ROLES:
            raise Forbidden("o dossiê é da equipe da assessoria")
        return Download(row.file_name, row.content_type, row.size, stream(row.key))


async def current_file(session: AsyncSession, case_id: uuid.UUID,
                       kind: DocumentKind) -> CaseDocument:
    """The latest dossier PDF or ZIP of a case."""
    version = (await session.execute(select(LegalCase.dossier_version).where(
        LegalCase.id == case_id))).scalar_one()
    row = (await session.execute(select(CaseDocument).where(
        CaseDocument.case_id == case_id, CaseDocument.kind == kind,
        CaseDocument.version == version))).scalar_one_or_none()
    if row is None:
        raise NotFound("dossiê")
    return row


async def current_dossier(principal: Principal, case_id: uuid.UUID) -> Download:
    require(principal, DOSSIER_ROLES, "baixar o dossiê")
    async with transaction(principal) as session:
        checked = await access_case(session, principal, case_id)
        row = await current_file(session, checked, DocumentKind.DOSSIER_PDF)
        return Download(row.file_name, row.content_type, row.size, stream(row.key))
