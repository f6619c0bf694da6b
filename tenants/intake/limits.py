"""How large, wide and long a creditor's file may be, and how much memory reading it may use.

Every upload is untrusted: a file of a few hundred kilobytes can expand to gigabytes. Each
limit has a default (what a tenant gets), a platform maximum (`REGUA_INTAKE_MAX_*`, which
no tenant passes) and may be set per tenant in `tenant.intake_limits` (JSON: the limits
that differ from the defaults), anywhere from its minimum up to the maximum. The reader
(`formats.reader`) refuses a file past a limit before reading it where the file says
enough (its size, a workbook's directory, its header, a sheet's declared dimension), and
otherwise as soon as reading meets the excess, naming what and where. (This module
holds the rules only: the file-reading process imports it without the ORM. A tenant's
limits are read and set by `service`.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from core.errors import ValidationFailed

if TYPE_CHECKING:
    from core.settings import Settings

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    file_mb: int = 500  # the uploaded file, as stored
    unpacked_mb: int = 2048  # a workbook's parts once decompressed, together
    ratio: int = 100  # how many times one part of a workbook may grow when decompressed
    rows: int = 2_000_000
    columns: int = 300
    cell_chars: int = 10_000
    memory_mb: int = 1024  # the process that reads the file (preview and import)

    @property
    def file_bytes(self) -> int:
        return self.file_mb * MB

    @property
    def unpacked_bytes(self) -> int:
        return self.unpacked_mb * MB

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * MB


NAMES = tuple(f.name for f in fields(Limits))
DEFAULTS = Limits()
# What each limit is called where a person sets it.
LABELS = {
    "file_mb": "tamanho do arquivo (MB)",
    "unpacked_mb": "tamanho da planilha descompactada (MB)",
    "ratio": "taxa de compactação (vezes)",
    "rows": "linhas",
    "columns": "colunas",
    "cell_chars": "caracteres por célula",
    "memory_mb": "memória para ler o arquivo (MB)",
}
# Below these a legitimate portfolio could not be read at all.
MINIMA = {"file_mb": 1, "unpacked_mb": 1, "ratio": 2, "rows": 1, "columns": 2,
          "cell_chars": 100, "memory_mb": 256}


def maxima(settings: Settings | None = None) -> Limits:
    # Imported here: the file-reading process uses this module without settings.
    from core.settings import get_settings

    s = settings or get_settings()
    return Limits(file_mb=s.intake_max_file_mb, unpacked_mb=s.intake_max_unpacked_mb,
                  ratio=s.intake_max_ratio, rows=s.intake_max_rows,
                  columns=s.intake_max_columns, cell_chars=s.intake_max_cell_chars,
                  memory_mb=s.intake_max_memory_mb)


def defaults(settings: Settings | None = None) -> Limits:
    """The defaults, lowered to the platform's maxima where these are lower."""
    ceiling = maxima(settings)
    return Limits(**{n: min(getattr(DEFAULTS, n), getattr(ceiling, n)) for n in NAMES})


def parse(raw: Any, settings: Settings | None = None) -> dict[str, int]:
    """A tenant's overrides, checked: known names, whole numbers within the bounds."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed({"limits": "use um objeto: {\"rows\": 500000, …}"})
    ceiling = maxima(settings)
    errors: dict[str, str] = {}
    for name, value in raw.items():
        if name not in LABELS:
            errors[str(name)] = f"limite desconhecido; use {', '.join(NAMES)}"
        elif isinstance(value, bool) or not isinstance(value, int):
            errors[name] = f"{LABELS[name]}: informe um número inteiro"
        elif not MINIMA[name] <= value <= getattr(ceiling, name):
            errors[name] = (f"{LABELS[name]}: use de {MINIMA[name]:,} a"
                            f" {getattr(ceiling, name):,} (o máximo da plataforma)"
                            ).replace(",", ".")
    if errors:
        raise ValidationFailed(errors)
    return {name: int(value) for name, value in raw.items()}


def effective(overrides: dict[str, Any] | None, settings: Settings | None = None) -> Limits:
    """A tenant's limits: the defaults with its overrides, never past the maxima (an
    override stored under a higher maximum is lowered to today's)."""
    ceiling = maxima(settings)
    chosen = replace(defaults(settings), **{n: int(v) for n, v in (overrides or {}).items()
                                            if n in LABELS})
    return Limits(**{n: min(getattr(chosen, n), getattr(ceiling, n)) for n in NAMES})


def described(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """What the API shows: the limits in force, the overrides, defaults and maxima."""
    return {"limits": asdict(effective(overrides)), "overrides": overrides or {},
            "defaults": asdict(defaults()), "maxima": asdict(maxima()), "labels": LABELS}
