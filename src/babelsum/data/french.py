"""French articles for CLDR names: "la France", "le Japon", "les Pays-Bas", "l’euro".

French prose cannot name a country or a currency without its article. The rules below (elision
before a vowel, gender from the ending, a short list of exceptions) cover CLDR's names well enough
for generated text; they are not a grammar of French.
"""

from __future__ import annotations

_VOWELS = "aeiouâàéèêëîïôöûüœ"  # not y: "le Yémen", "le yen"
# Islands and city states that take no article ("Cuba est...", "Monaco est...").
_NO_ARTICLE = {
    "Andorre", "Anguilla", "Aruba", "Bahreïn", "Chypre", "Cuba", "Curaçao", "Djibouti", "Gibraltar",
    "Guam", "Guernesey", "Haïti", "Israël", "Jersey", "Kiribati", "Madagascar", "Malte", "Maurice",
    "Mayotte", "Monaco", "Montserrat", "Nauru", "Niue", "Oman", "Porto Rico", "Samoa", "Singapour",
    "Sao Tomé-et-Principe", "Taïwan", "Tokelau", "Tonga", "Tuvalu", "Vanuatu", "Wallis-et-Futuna",
    "Trinité-et-Tobago", "Antigua-et-Barbuda", "La Réunion", "Fidji",
}  # fmt: skip
_MASCULINE_E = {
    "Belize", "Cambodge", "Mexique", "Mozambique", "Zimbabwe", "Suriname", "Liechtenstein",
    "Bangladesh", "Royaume-Uni", "Cap-Vert", "Sahara occidental", "Timor oriental",
    "Territoire britannique de l’océan Indien", "Viêt Nam",
}  # fmt: skip
_SINGULAR_S = {"Laos", "Honduras", "Belarus"}
_FEMININE_OTHER = {"Sierra Leone"}
_FEMININE_CURRENCIES = {
    "couronne", "livre", "roupie", "lire", "hryvnia", "gourde", "ouguiya", "kuna", "peseta",
    "nouvelle", "pataca", "rufiyaa", "roupiah",
}  # fmt: skip


def _article(name: str, feminine: bool) -> str:
    # Country names in H- take no elision ("la Hongrie", "le Honduras"); Haïti takes no article.
    if name[0].lower() in _VOWELS:
        return f"l’{name}"
    return f"{'la' if feminine else 'le'} {name}"


def country(name: str) -> str:
    """The name with its article, lower case: 'la France', 'les Pays-Bas', 'Cuba'."""
    first = name.split()[0].split("-")[0]
    if name in _NO_ARTICLE or first in ("Saint", "Sainte"):
        return name
    if first in ("Îles", "Pays", "États", "Territoires", "Émirats", "Samoa") or (
        name.endswith("s") and name not in _SINGULAR_S and " " not in name
    ):
        return f"les {name}"
    if first in ("Île", "République", "R.A.S.", "État", "Guinée", "Corée", "Nouvelle"):
        return _article(name, feminine=True) if first != "État" else f"l’{name}"
    feminine = name in _FEMININE_OTHER or (first.endswith("e") and name not in _MASCULINE_E)
    return _article(name, feminine)


def currency(name: str) -> str:
    """A currency name with its article: 'l’euro', 'la livre sterling', 'le yen japonais'."""
    return _article(name, feminine=name.split()[0].lower() in _FEMININE_CURRENCIES)


def language(name: str) -> str:
    """Language names are masculine: 'le français', 'l’anglais'."""
    return _article(name, feminine=False)


def verb(subject: str, singular: str, plural: str) -> str:
    """The verb form that agrees with a country name from `country` ("les Pays-Bas ont")."""
    return plural if subject.lower().startswith("les ") else singular


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
