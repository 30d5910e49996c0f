"""Wikipedia good and featured articles, aligned across languages by their Wikidata item.

For each language, mwclient walks the configured categories (by default the wiki's featured
and good article categories) with one generator query that also returns each page's
wikitext, URL and Wikidata item. The Wikidata item (Q90 for Paris) is the `article_id`, so
the French and Japanese articles on one subject share a topic. Articles without an item keep
a language-local id (`fr:Titre`) and form a topic of their own. No gold summary: a teacher
writes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from babelsum.config import WikipediaSource
from babelsum.data.schema import canonical
from babelsum.data.sources.wikitext import wikitext_to_text
from babelsum.errors import SourceError

DEFAULT_CATEGORIES = {
    "en": ["Category:Featured articles", "Category:Good articles"],
    "fr": ["Catégorie:Article de qualité", "Catégorie:Bon article"],
    "de": ["Kategorie:Wikipedia:Exzellent", "Kategorie:Wikipedia:Lesenswert"],
    "ja": ["Category:秀逸な記事", "Category:良質な記事"],
}
_BATCH = 20  # pages per API call; content of up to 50 pages may come in one answer
_FILE, _CATEGORY = 6, 14


def read_wikipedia(config: WikipediaSource, languages: list[str]) -> Iterator[dict]:
    pool = None
    if config.recording:
        from babelsum.data.sources.replay import ReplaySession

        pool = ReplaySession(config.recording)
    for lang in languages:
        categories = config.categories.get(lang) or DEFAULT_CATEGORIES.get(lang)
        if not categories:
            raise SourceError(
                f"data.wikipedia: no default good/featured categories for {lang!r}; "
                f"set data.wikipedia.categories.{lang}"
            )
        yield from _read_language(config, lang, categories, pool)


def _read_language(config: WikipediaSource, lang: str, categories: list[str], pool):
    site = _open_site(config, lang, pool)
    hidden = {site.namespaces.get(_FILE, ""), site.namespaces.get(_CATEGORY, "")} - {""}
    seen: set[str] = set()
    for category in categories:
        for page in _category_pages(site, category):
            if len(seen) >= config.limit_per_language:
                return
            if page["title"] in seen:
                continue
            seen.add(page["title"])
            yield _record(page, lang, hidden)


def _open_site(config: WikipediaSource, lang: str, pool):
    import mwclient
    import requests

    host = f"{lang}.wikipedia.org"
    try:
        return mwclient.Site(host, pool=pool, clients_useragent=config.user_agent)
    except (requests.exceptions.RequestException, mwclient.errors.MwClientError) as exc:
        raise SourceError(f"data.wikipedia: cannot reach {host}: {exc}") from None


def _category_pages(site, category: str) -> Iterator[dict]:
    """Pages of a category in article space, each with wikitext, URL and Wikidata item."""
    params = {
        "generator": "categorymembers",
        "gcmtitle": category,
        "gcmnamespace": 0,
        "gcmlimit": _BATCH,
        "prop": "revisions|pageprops|info",
        "rvprop": "content",
        "rvslots": "main",
        "ppprop": "wikibase_item",
        "inprop": "url",
        "formatversion": 2,
    }
    carry_on: dict = {"continue": ""}
    while carry_on is not None:
        answer = site.get("query", **params, **carry_on)
        pages = answer.get("query", {}).get("pages", [])
        # A long answer may leave some pages' content for the next call: yield those then.
        for page in sorted(pages, key=lambda p: p["title"]):
            if page.get("revisions"):
                yield page
        carry_on = answer.get("continue")


def _record(page: dict, lang: str, hidden: set[str]) -> dict:
    wikitext = page["revisions"][0]["slots"]["main"]["content"]
    item = page.get("pageprops", {}).get("wikibase_item")
    return canonical(
        {
            "article_id": item or f"{lang}:{page['title']}",
            "language": lang,
            "title": page["title"],
            "text": wikitext_to_text(wikitext, lang, hidden),
            "summary": None,
            "url": page.get("fullurl"),
        },
        "wikipedia",
    )
