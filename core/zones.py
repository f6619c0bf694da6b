"""Where a debtor is in time: the IANA zone of each UF, and the UF of each phone DDD.

Brazil has four zones. Contact windows and "today" for a debtor are read in its zone;
a debtor without a state takes the zone of its first phone's area code.
"""

from __future__ import annotations

DEFAULT_ZONE = "America/Sao_Paulo"

# A state spanning two zones (Amazonas, Pernambuco with Fernando de Noronha) takes the
# zone of most of its people.
ZONE_BY_UF = {
    "AC": "America/Rio_Branco",
    "AM": "America/Manaus", "RR": "America/Boa_Vista", "RO": "America/Porto_Velho",
    "MT": "America/Cuiaba", "MS": "America/Campo_Grande",
    "PA": "America/Belem", "AP": "America/Belem", "TO": "America/Araguaina",
    "MA": "America/Fortaleza", "PI": "America/Fortaleza", "CE": "America/Fortaleza",
    "RN": "America/Fortaleza", "PB": "America/Fortaleza", "PE": "America/Recife",
    "AL": "America/Maceio", "SE": "America/Maceio", "BA": "America/Bahia",
    "GO": DEFAULT_ZONE, "DF": DEFAULT_ZONE, "MG": DEFAULT_ZONE, "ES": DEFAULT_ZONE,
    "RJ": DEFAULT_ZONE, "SP": DEFAULT_ZONE, "PR": DEFAULT_ZONE, "SC": DEFAULT_ZONE,
    "RS": DEFAULT_ZONE,
}

# Anatel's numbering plan: each area code lies in one state.
UF_BY_DDD = {
    **dict.fromkeys((11, 12, 13, 14, 15, 16, 17, 18, 19), "SP"),
    **dict.fromkeys((21, 22, 24), "RJ"), **dict.fromkeys((27, 28), "ES"),
    **dict.fromkeys((31, 32, 33, 34, 35, 37, 38), "MG"),
    **dict.fromkeys((41, 42, 43, 44, 45, 46), "PR"), **dict.fromkeys((47, 48, 49), "SC"),
    **dict.fromkeys((51, 53, 54, 55), "RS"), 61: "DF", **dict.fromkeys((62, 64), "GO"),
    63: "TO", **dict.fromkeys((65, 66), "MT"), 67: "MS", 68: "AC", 69: "RO",
    **dict.fromkeys((71, 73, 74, 75, 77), "BA"), 79: "SE", **dict.fromkeys((81, 87), "PE"),
    82: "AL", 83: "PB", 84: "RN", **dict.fromkeys((85, 88), "CE"),
    **dict.fromkeys((86, 89), "PI"), **dict.fromkeys((91, 93, 94), "PA"),
    **dict.fromkeys((92, 97), "AM"), 95: "RR", 96: "AP", **dict.fromkeys((98, 99), "MA"),
}


def debtor_zone(state: str | None, phone: str | None = None) -> str:
    """The zone of a debtor: by state, else by the DDD of an E.164 phone (+55DD...)."""
    if state and state in ZONE_BY_UF:
        return ZONE_BY_UF[state]
    if phone and phone.startswith("+55") and len(phone) >= 5:
        uf = UF_BY_DDD.get(int(phone[3:5]))
        if uf:
            return ZONE_BY_UF[uf]
    return DEFAULT_ZONE


def zone_sql_case(uf_expr: str) -> str:
    """`CASE uf_expr WHEN 'AC' THEN 'America/Rio_Branco' ... END`, NULL for other values."""
    whens = " ".join(f"WHEN '{uf}' THEN '{zone}'" for uf, zone in sorted(ZONE_BY_UF.items()))
    return f"CASE {uf_expr} {whens} END"


def ddd_uf_sql_case(ddd_expr: str) -> str:
    whens = " ".join(f"WHEN '{ddd}' THEN '{uf}'" for ddd, uf in sorted(UF_BY_DDD.items()))
    return f"CASE {ddd_expr} {whens} END"


# How people name each zone: by its main city ("horário de Brasília").
ZONE_CITY = {
    "America/Sao_Paulo": "Brasília", "America/Fortaleza": "Fortaleza",
    "America/Recife": "Recife", "America/Bahia": "Salvador", "America/Maceio": "Maceió",
    "America/Belem": "Belém", "America/Araguaina": "Araguaína", "America/Manaus": "Manaus",
    "America/Cuiaba": "Cuiabá", "America/Campo_Grande": "Campo Grande",
    "America/Porto_Velho": "Porto Velho", "America/Boa_Vista": "Boa Vista",
    "America/Rio_Branco": "Rio Branco", "America/Noronha": "Fernando de Noronha",
}


def zone_label(zone: str) -> str:
    """'America/Manaus' -> 'horário de Manaus', the label beside a time shown in it."""
    city = ZONE_CITY.get(zone) or zone.rsplit("/", 1)[-1].replace("_", " ")
    return f"horário de {city}"
