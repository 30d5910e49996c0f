"""Articles about one country in English, French, German and Japanese, from named CLDR facts.

Every language says the same things in the same paragraphs, so the versions of one topic are
parallel. The gold summary restates facts that the article states (where the country lies, its
currency, its official languages): a small model can learn to find and copy them, which is what
lets a few hundred CPU fine-tuning steps beat an untrained model in the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from babelsum.data import french


@dataclass(frozen=True)
class CountryFacts:
    """One country's facts, every name already in the article's language."""

    name: str
    continent: str
    neighbours: tuple[str, str]
    official: tuple[str, ...]  # language names, at most three
    top_spoken: tuple[str, str] | None  # (language name, percent as written in this language)
    others_spoken: tuple[tuple[str, str], ...]
    currency: str
    currency_code: str
    symbol: str
    other_currency: str | None
    zone: str | None  # name of the main time zone
    several_zones: bool
    week_start: str
    weekend_start: str
    number: str | None  # 1234567.89 written the local way
    date_long: str  # 14 March 2024 in the article's language
    date_local: str | None  # the same date written the local way


@dataclass(frozen=True)
class Prose:
    intro: str
    body: list[str]  # paragraphs whose order the caller may shuffle
    summary: str


Writer = Callable[[CountryFacts, list[int]], Prose]


def _join(items: list[str], last: str, comma: str = ", ") -> str:
    return items[0] if len(items) == 1 else comma.join(items[:-1]) + last + items[-1]


# ---------------------------------------------------------------- English


def english(f: CountryFacts, variant: list[int]) -> Prose:
    n, c = f.name, f.continent
    intro = [
        f"{n} lies in {c}. Other countries and territories of {c} include "
        f"{f.neighbours[0]} and {f.neighbours[1]}.",
        f"{n} is a country or territory in {c}, alongside {f.neighbours[0]} and {f.neighbours[1]}.",
    ][variant[0]]
    languages = [
        f"The official language of {n} is {f.official[0]}."
        if len(f.official) == 1
        else f"{n} has {len(f.official)} official languages: {_join(list(f.official), ' and ')}."
    ]
    if f.top_spoken:
        languages.append(
            f"{f.top_spoken[0]} is spoken by about {f.top_spoken[1]} percent of the population."
        )
    if f.others_spoken:
        heard = [f"{lang} ({pct} percent)" for lang, pct in f.others_spoken]
        languages.append(f"Other languages spoken there include {_join(heard, ' and ')}.")
    currency = [
        [
            f"The currency of {n} is the {f.currency} ({f.currency_code}), "
            f"written with the symbol “{f.symbol}”."
        ],
        [
            f"People in {n} pay with the {f.currency}, whose code is {f.currency_code} "
            f"and whose symbol is “{f.symbol}”."
        ],
    ][variant[1]]
    if f.other_currency:
        currency.append(f"The {f.other_currency} is also legal tender there.")
    time = [f"The main time zone of {n} is {f.zone}."] if f.zone else []
    time.append(
        "The territory spans several time zones."
        if f.several_zones
        else "The whole territory uses a single time zone."
    )
    habits = [
        f"In {n}, the week usually starts on {f.week_start} and the weekend begins on "
        f"{f.weekend_start}."
    ]
    if f.number and f.date_local:
        habits.append(
            f"A large number is written as {f.number} there, and the date {f.date_long} "
            f"is written {f.date_local}."
        )
    official = (
        f"Its official language is {f.official[0]}."
        if len(f.official) == 1
        else f"Its official languages are {_join(list(f.official), ' and ')}."
    )
    summary = f"{n} is a country or territory in {c} whose currency is the {f.currency}. {official}"
    return Prose(intro, [" ".join(p) for p in (languages, currency, time, habits)], summary)


# ---------------------------------------------------------------- French


def _fr_percent(pct: str) -> str:
    return f"{pct}\u202f%"


def french_(f: CountryFacts, variant: list[int]) -> Prose:
    n = french.country(f.name)
    N = french.capitalized(n)
    has = french.verb(n, "a", "ont")
    c = f.continent
    near = [french.country(x) for x in f.neighbours]
    intro = [
        f"{N} {french.verb(n, 'se trouve', 'se trouvent')} en {c}. Parmi les autres pays et territoires d’{c} figurent "
        f"{near[0]} et {near[1]}.",
        f"{N} {french.verb(n, 'est', 'sont')} un pays ou territoire d’{c}, tout comme {near[0]} et {near[1]}.",
    ][variant[0]]
    official = [french.language(x) for x in f.official]
    languages = [
        f"{N} {has} pour langue officielle {official[0]}."
        if len(official) == 1
        else f"{N} {has} {len(official)} langues officielles : {_join(official, ' et ')}."
    ]
    if f.top_spoken:
        top = french.capitalized(french.language(f.top_spoken[0]))
        languages.append(
            f"{top} est parlé par environ {_fr_percent(f.top_spoken[1])} de la population."
        )
    if f.others_spoken:
        heard = [f"{french.language(lang)} ({_fr_percent(pct)})" for lang, pct in f.others_spoken]
        languages.append(f"On y parle aussi {_join(heard, ' et ')}.")
    money = french.currency(f.currency)
    currency = [
        [f"{N} {has} pour monnaie {money} ({f.currency_code}), notée « {f.symbol} »."],
        [
            f"{N} {french.verb(n, 'utilise', 'utilisent')} {money} ; son code est {f.currency_code} et son symbole « {f.symbol} »."
        ],
    ][variant[1]]
    if f.other_currency:
        other = french.capitalized(french.currency(f.other_currency))
        currency.append(f"{other} y a aussi cours légal.")
    time = [f"{N} {french.verb(n, 'vit', 'vivent')} principalement à l’{f.zone}."] if f.zone else []
    time.append(
        "Le territoire s’étend sur plusieurs fuseaux horaires."
        if f.several_zones
        else "Tout le territoire utilise un seul fuseau horaire."
    )
    habits = [
        f"{N} {french.verb(n, 'fait', 'font')} généralement commencer la semaine le {f.week_start}, et le week-end y "
        f"débute le {f.weekend_start}."
    ]
    if f.number and f.date_local:
        habits.append(
            f"On y écrit un grand nombre sous la forme {f.number}, et la date du "
            f"{f.date_long} s’écrit {f.date_local}."
        )
    said = (
        f"{french.verb(n, 'Sa', 'Leur')} langue officielle est {official[0]}."
        if len(official) == 1
        else f"{french.verb(n, 'Ses', 'Leurs')} langues officielles sont {_join(official, ' et ')}."
    )
    summary = (
        f"{N} {french.verb(n, 'est', 'sont')} un pays ou territoire d’{c} qui {has} pour "
        f"monnaie {money}. {said}"
    )
    return Prose(intro, [" ".join(p) for p in (languages, currency, time, habits)], summary)


# ---------------------------------------------------------------- German


def german(f: CountryFacts, variant: list[int]) -> Prose:
    n, c = f.name, f.continent
    intro = [
        f"{n} liegt in {c}. Zu den weiteren Ländern und Gebieten in {c} gehören "
        f"{f.neighbours[0]} und {f.neighbours[1]}.",
        f"{n} ist ein Land oder Gebiet in {c}, ebenso wie {f.neighbours[0]} und {f.neighbours[1]}.",
    ][variant[0]]
    languages = [
        f"Amtssprache in {n} ist {f.official[0]}."
        if len(f.official) == 1
        else f"{n} hat {len(f.official)} Amtssprachen: {_join(list(f.official), ' und ')}."
    ]
    if f.top_spoken:
        languages.append(
            f"{f.top_spoken[0]} wird von etwa {f.top_spoken[1]} Prozent der Bevölkerung gesprochen."
        )
    if f.others_spoken:
        heard = [f"{lang} ({pct} Prozent)" for lang, pct in f.others_spoken]
        languages.append(f"Daneben werden unter anderem {_join(heard, ' und ')} gesprochen.")
    currency = [
        [
            f"Die Währung von {n} heißt {f.currency} ({f.currency_code}), ihr Symbol ist „{f.symbol}“."
        ],
        [
            f"In {n} bezahlt man mit der Währung {f.currency}; ihr Code ist {f.currency_code}, "
            f"ihr Symbol „{f.symbol}“."
        ],
    ][variant[1]]
    if f.other_currency:
        currency.append(
            f"Auch die Währung {f.other_currency} ist dort gesetzliches Zahlungsmittel."
        )
    time = [f"Die wichtigste Zeitzone von {n} ist {f.zone}."] if f.zone else []
    time.append(
        "Das Gebiet erstreckt sich über mehrere Zeitzonen."
        if f.several_zones
        else "Das ganze Gebiet nutzt eine einzige Zeitzone."
    )
    habits = [
        f"In {n} beginnt die Woche meist am {f.week_start}, das Wochenende am {f.weekend_start}."
    ]
    if f.number and f.date_local:
        habits.append(
            f"Eine große Zahl schreibt man dort {f.number}, und das Datum {f.date_long} wird "
            f"{f.date_local} geschrieben."
        )
    official = (
        f"Amtssprache ist {f.official[0]}."
        if len(f.official) == 1
        else f"Amtssprachen sind {_join(list(f.official), ' und ')}."
    )
    summary = f"{n} liegt in {c} und hat die Währung {f.currency}. {official}"
    return Prose(intro, [" ".join(p) for p in (languages, currency, time, habits)], summary)


# ---------------------------------------------------------------- Japanese


def japanese(f: CountryFacts, variant: list[int]) -> Prose:
    n, c = f.name, f.continent
    near = f"{f.neighbours[0]}や{f.neighbours[1]}"
    intro = [
        f"{n}は{c}にある国・地域です。{c}にはほかに{near}などがあります。",
        f"{n}は{c}の国・地域の一つで、同じ{c}には{near}もあります。",
    ][variant[0]]
    official = "、".join(f.official)
    languages = [f"{n}の公用語は{official}です。"]
    if f.top_spoken:
        languages.append(f"{f.top_spoken[0]}を話す人は人口の約{f.top_spoken[1]}%です。")
    if f.others_spoken:
        heard = "や".join(f"{lang}（{pct}%）" for lang, pct in f.others_spoken)
        languages.append(f"そのほか、{heard}も話されています。")
    currency = [
        [f"{n}の通貨は{f.currency}（{f.currency_code}）で、記号は「{f.symbol}」です。"],
        [
            f"{n}では{f.currency}が使われており、通貨コードは{f.currency_code}、"
            f"記号は「{f.symbol}」です。"
        ],
    ][variant[1]]
    if f.other_currency:
        currency.append(f"{f.other_currency}も法定通貨として使われています。")
    time = [f"{n}の主なタイムゾーンは{f.zone}です。"] if f.zone else []
    time.append(
        "国・地域は複数のタイムゾーンにまたがっています。"
        if f.several_zones
        else "国・地域全体で一つのタイムゾーンが使われています。"
    )
    habits = [f"{n}では、一週間は通常{f.week_start}に始まり、週末は{f.weekend_start}からです。"]
    if f.number and f.date_local:
        habits.append(
            f"大きな数は「{f.number}」のように書かれ、{f.date_long}という日付は"
            f"「{f.date_local}」と書かれます。"
        )
    summary = f"{n}は{c}にある国・地域で、通貨は{f.currency}です。公用語は{official}です。"
    return Prose(intro, ["".join(p) for p in (languages, currency, time, habits)], summary)


WRITERS: dict[str, Writer] = {"en": english, "fr": french_, "de": german, "ja": japanese}
