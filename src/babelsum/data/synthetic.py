"""The built-in parallel corpus: one article per country and language, with a gold summary.

Generated offline and deterministically from CLDR (through `babel`): the same seed gives the
same topics, neighbours, phrasings and paragraph order, byte for byte. Each topic is one
country; its articles in en, fr, de and ja say the same things and share one `article_id`.
"""

from __future__ import annotations

import datetime
import random

from babelsum.data.countries import Country, countries
from babelsum.data.country_prose import WRITERS, CountryFacts

SOURCE = "synthetic"
SYNTHETIC_LANGUAGES = tuple(WRITERS)
_SAMPLE_DATE = datetime.date(2024, 3, 14)
_SAMPLE_NUMBER = 1234567.89


def synthetic_articles(topics: int, seed: int, languages: list[str]) -> list[dict]:
    """`topics` countries written in each of `languages`, as canonical records with gold summaries.

    Records come topic by topic, in the order of `languages` within a topic.
    """
    unknown = [lang for lang in languages if lang not in WRITERS]
    if unknown:
        raise ValueError(
            f"the synthetic corpus has no {', '.join(unknown)} text; "
            f"it is written in {', '.join(SYNTHETIC_LANGUAGES)}"
        )
    pool = list(countries())
    if topics > len(pool):
        raise ValueError(f"the synthetic corpus has {len(pool)} topics; asked for {topics}")
    chosen = list(pool)
    random.Random(seed).shuffle(chosen)
    records = []
    for country in chosen[:topics]:
        rng = random.Random(f"{seed}/{country.code}")
        neighbours = _neighbours(country, pool, rng)
        variant = [rng.randrange(2) for _ in range(2)]
        order = rng.sample(range(4), 4)
        for lang in languages:
            records.append(_record(country, lang, neighbours, variant, order))
    return records


def _neighbours(country: Country, pool: list[Country], rng: random.Random) -> tuple[str, str]:
    same = [c.code for c in pool if c.continent == country.continent and c.code != country.code]
    first, second = rng.sample(same, 2)
    return first, second


def _record(
    country: Country, lang: str, neighbours: tuple[str, str], variant: list[int], order: list[int]
) -> dict:
    facts = _facts(country, lang, neighbours)
    prose = WRITERS[lang](facts, variant)
    paragraphs = [prose.intro, *(prose.body[i] for i in order)]
    return {
        "article_id": f"cldr-{country.code}",
        "language": lang,
        "title": facts.name,
        "text": "\n\n".join(paragraphs),
        "summary": prose.summary,
        "summary_language": lang,
        "summary_source": "gold",
        "url": f"synthetic://countries/{country.code}/{lang}",
        "source": SOURCE,
        "source_split": None,
    }


def _percent(value: float, lang: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(round(value) if value >= 10 else round(value, 1), locale=lang)


# Bidirectional marks CLDR puts in right-to-left locales' dates and numbers, and the
# zero-width space it gives as a symbol (Cape Verdean escudo): invisible in running text, they
# would only confuse tokenizers.
_INVISIBLE = str.maketrans("", "", "\u200b\u200e\u200f\u061c")


def _plain(text: str | None) -> str | None:
    return text.translate(_INVISIBLE) if text is not None else None


def _zone_name(zone: str, here) -> str | None:
    """The CLDR name of the zone's metazone ("Central European Time"), or None.

    babel would otherwise make up a name from the region ("heure : Inde"), which reads badly.
    """
    from babel.core import get_global

    metazone = get_global("meta_zones").get(zone)
    names = here.meta_zones.get(metazone, {}).get("long", {}) if metazone else {}
    return names.get("generic") or names.get("standard")


def _facts(country: Country, lang: str, neighbours: tuple[str, str]) -> CountryFacts:
    from babel import Locale
    from babel.dates import format_date
    from babel.numbers import format_decimal, get_currency_symbol

    here = Locale.parse(lang)
    names = here.languages
    official = tuple(names[code] for code in country.official_languages if code in names)[:3]
    spoken = [(names[code], pct) for code, pct in country.spoken if code in names]
    others = [(name, pct) for name, pct in spoken[1:] if pct >= 1 and name not in official][:2]
    local = Locale.parse(country.locale) if country.locale else None
    days = here.days["format"]["wide"]
    return CountryFacts(
        name=here.territories[country.code],
        continent=here.territories[country.continent],
        neighbours=(here.territories[neighbours[0]], here.territories[neighbours[1]]),
        official=official or (spoken[0][0],),
        top_spoken=(spoken[0][0], _percent(spoken[0][1], lang)) if spoken else None,
        others_spoken=tuple((name, _percent(pct, lang)) for name, pct in others),
        currency=here.currencies.get(country.currency, country.currency),
        currency_code=country.currency,
        symbol=_plain(get_currency_symbol(country.currency, locale=local or here))
        or country.currency,
        other_currency=(
            here.currencies.get(country.other_currencies[0]) if country.other_currencies else None
        ),
        zone=_zone_name(country.time_zones[0], here),
        several_zones=len(country.time_zones) > 1,
        week_start=days[local.first_week_day if local else 0],
        weekend_start=days[local.weekend_start if local else 5],
        number=_plain(format_decimal(_SAMPLE_NUMBER, locale=local)) if local else None,
        date_long=format_date(_SAMPLE_DATE, "long", locale=here),
        date_local=_plain(format_date(_SAMPLE_DATE, "short", locale=local)) if local else None,
    )
