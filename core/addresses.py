"""Brazilian addresses: the 27 federative units (UF), by code and by name."""

from __future__ import annotations

UF_CODES = frozenset({
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
})

# The states' names in capitals without accents or spaces, as files sometimes spell them.
UF_BY_NAME = {
    "ACRE": "AC", "ALAGOAS": "AL", "AMAPA": "AP", "AMAZONAS": "AM", "BAHIA": "BA",
    "CEARA": "CE", "DISTRITOFEDERAL": "DF", "ESPIRITOSANTO": "ES", "GOIAS": "GO",
    "MARANHAO": "MA", "MATOGROSSO": "MT", "MATOGROSSODOSUL": "MS", "MINASGERAIS": "MG",
    "PARA": "PA", "PARAIBA": "PB", "PARANA": "PR", "PERNAMBUCO": "PE", "PIAUI": "PI",
    "RIODEJANEIRO": "RJ", "RIOGRANDEDONORTE": "RN", "RIOGRANDEDOSUL": "RS", "RONDONIA": "RO",
    "RORAIMA": "RR", "SANTACATARINA": "SC", "SAOPAULO": "SP", "SERGIPE": "SE",
    "TOCANTINS": "TO",
}
