"""Facts about the world's countries, read from the CLDR data that `babel` ships (offline).

CLDR has no capitals or populations, but it knows each territory's currencies, the languages
spoken there (with the share of the population), its time zones and its calendar habits.
Those facts, named in each language by CLDR itself, are what the synthetic corpus writes about.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

# UN M49 codes of the continents CLDR names in every locale.
AFRICA, NORTH_AMERICA, SOUTH_AMERICA, OCEANIA, ASIA, EUROPE = (
    "002",
    "003",
    "005",
    "009",
    "142",
    "150",
)

_CONTINENT_OF_ZONE = {
    "Africa": AFRICA,
    "Asia": ASIA,
    "Europe": EUROPE,
    "Arctic": EUROPE,
    "Pacific": OCEANIA,
    "Australia": OCEANIA,
}
# Territories whose first time zone is an ocean (Indian/..., Atlantic/...) or whose "America/"
# zone lies south of Panama: CLDR's zone names do not tell the continent.
_CONTINENT_OVERRIDES = {
    **dict.fromkeys(["BM"], NORTH_AMERICA),
    **dict.fromkeys(["CV", "KM", "MG", "MU", "RE", "SC", "SH", "YT"], AFRICA),
    **dict.fromkeys(["FO", "IS", "PT", "SJ"], EUROPE),
    **dict.fromkeys(["IO", "MV"], ASIA),
    **dict.fromkeys(["CC", "CX"], OCEANIA),
    **dict.fromkeys(
        ["AR", "BO", "BR", "CL", "CO", "EC", "FK", "GF", "GS", "GY", "PE", "PY", "SR", "UY", "VE"],
        SOUTH_AMERICA,
    ),
}
# CLDR pseudo-territories and groupings that are not countries.
_NOT_COUNTRIES = {"AQ", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XK", "ZZ"}


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166 alpha-2
    continent: str  # M49 code
    official_languages: tuple[str, ...]
    spoken: tuple[tuple[str, float], ...]  # (language code, percent of population), largest first
    currency: str  # ISO 4217 code of the main legal tender
    other_currencies: tuple[str, ...]
    time_zones: tuple[str, ...]  # IANA names, the main one first
    locale: str | None  # a CLDR locale of the territory (its week and number habits), e.g. de_CH


def _continent(code: str, zones: list[str]) -> str | None:
    if code in _CONTINENT_OVERRIDES:
        return _CONTINENT_OVERRIDES[code]
    prefix = zones[0].split("/")[0]
    if prefix == "America":
        return NORTH_AMERICA
    return _CONTINENT_OF_ZONE.get(prefix)


def _local_locale(languages: list[str], code: str) -> str | None:
    from babel import Locale, UnknownLocaleError

    for language in languages:
        try:
            return str(Locale.parse(f"{language}_{code}"))
        except (UnknownLocaleError, ValueError):
            continue
    return None


def _country(code: str) -> Country | None:
    from babel.core import get_global
    from babel.languages import get_official_languages
    from babel.numbers import get_territory_currencies

    zones = get_global("territory_zones").get(code, [])
    currencies = get_territory_currencies(code, tender=True)
    official = get_official_languages(code, de_facto=True)
    if not zones or not currencies or not official:
        return None
    continent = _continent(code, zones)
    if continent is None:
        return None
    shares = get_global("territory_languages").get(code, {})
    spoken = sorted(
        ((lang, info["population_percent"]) for lang, info in shares.items()),
        key=lambda item: (-item[1], item[0]),
    )
    return Country(
        code=code,
        continent=continent,
        official_languages=tuple(official),
        spoken=tuple(spoken),
        currency=currencies[0],
        other_currencies=tuple(currencies[1:]),
        time_zones=tuple(zones),
        locale=_local_locale([*official, *(lang for lang, _ in spoken)], code),
    )


@functools.cache
def countries() -> tuple[Country, ...]:
    """Every CLDR territory with a continent, a currency and an official language, by code."""
    from babel import Locale

    codes = sorted(
        c
        for c in Locale("en").territories
        if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES
    )
    return tuple(country for code in codes if (country := _country(code)) is not None)
