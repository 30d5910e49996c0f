"""Collecting articles from the MediaWiki API: good/featured articles, then their other languages.

1. For each language, mwclient walks the configured categories (by default the wiki's featured
   and good article categories) with one generator query that also returns each page's
   wikitext, revision, URL and Wikidata item.
2. Then, unless `follow_langlinks` is off, the language links of those pages (`prop=langlinks`,
   one target language at a time, 50 titles a request, with continuation) say where each
   topic has an article in the other study languages. A topic is asked about once, from the
   first language that lists it: the links of every language come from the same Wikidata item.
3. Last, each language's missing topics are fetched by title (`prop=revisions|pageprops`, 50
   titles a request), those present in the most languages first, up to
   `linked_limit_per_language`. They need not be good or featured: `quality` says `none`.

A page is a dict: wikidata_item (None when the page has none), language, title, pageid,
revision_id, revision_timestamp, retrieved (when its answer came), url, quality (featured,
good, listed for a configured category, none for a linked article), category, wikitext.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from babelsum.config import WikipediaSource
from babelsum.errors import SourceError

FEATURED = {
    "en": "Category:Featured articles",
    "fr": "Catégorie:Article de qualité",
    "de": "Kategorie:Wikipedia:Exzellent",
    "ja": "Category:秀逸な記事",
}
GOOD = {
    "en": "Category:Good articles",
    "fr": "Catégorie:Bon article",
    "de": "Kategorie:Wikipedia:Lesenswert",
    "ja": "Category:良質な記事",
}
DEFAULT_CATEGORIES = {lang: [FEATURED[lang], GOOD[lang]] for lang in FEATURED}
_BATCH = 20  # pages per category query; content of up to 50 pages may come in one answer
_TITLES = 50  # titles per langlinks or content query: the API's limit for non-bots
_FILE, _CATEGORY = 6, 14


def api_endpoint(lang: str) -> str:
    return f"https://{lang}.wikipedia.org/w/api.php"


def categories_of(config: WikipediaSource, lang: str) -> list[str]:
    categories = config.categories.get(lang) or DEFAULT_CATEGORIES.get(lang)
    if not categories:
        raise SourceError(
            f"data.wikipedia: no default good/featured categories for {lang!r}; "
            f"set data.wikipedia.categories.{lang}"
        )
    return categories


def quality_of(category: str) -> str:
    if category in FEATURED.values():
        return "featured"
    return "good" if category in GOOD.values() else "listed"


@dataclass
class Collection:
    """What collecting learnt besides the pages themselves."""

    # Wikidata item -> language -> title, for every study language where the topic has an
    # article (fetched, or over the cap)
    topics: dict[str, dict[str, str]] = field(default_factory=dict)
    # language -> the wiki's own names of its file and category namespaces (wikitext.py)
    namespaces: dict[str, list[str]] = field(default_factory=dict)
    # language -> {"listed": n, "linked": n}: pages yielded from categories and from links
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def collect_pages(
    config: WikipediaSource, languages: list[str], found: Collection
) -> Iterator[dict]:
    """Every page of the study, language by language: listed ones, then linked ones.

    `found` is filled as pages are yielded; it is complete once the iterator is exhausted.
    """
    pool = None
    if config.recording:
        from babelsum.data.sources.replay import ReplaySession

        pool = ReplaySession(config.recording)
    for lang in languages:
        categories_of(config, lang)  # every language's problem before any request
    sites = {}
    have: dict[str, set[str]] = {}  # language -> items with an article collected
    for lang in languages:
        sites[lang] = site = _open_site(config, lang, pool)
        found.namespaces[lang] = sorted(
            {site.namespaces.get(_FILE, ""), site.namespaces.get(_CATEGORY, "")} - {""}
        )
        found.counts[lang] = {"listed": 0, "linked": 0}
        have[lang] = set()
        for page in _listed_pages(site, lang, categories_of(config, lang), config):
            item = page["wikidata_item"]
            if item:
                found.topics.setdefault(item, {})[lang] = page["title"]
                have[lang].add(item)
            found.counts[lang]["listed"] += 1
            yield page
    if not config.follow_langlinks or len(languages) < 2:
        return
    _follow_langlinks(sites, languages, found.topics)
    cap = config.linked_limit_per_language or config.limit_per_language
    for lang in languages:
        wanted = sorted(
            (
                item
                for item, titles in found.topics.items()
                if lang in titles and item not in have[lang]
            ),
            key=lambda item: (-len(found.topics[item]), _item_number(item), item),
        )[:cap]
        fetched = set()
        for page in _pages_by_title(sites[lang], lang, {found.topics[i][lang]: i for i in wanted}):
            fetched.add(page["wikidata_item"])
            found.counts[lang]["linked"] += 1
            yield page
        for item in set(wanted) - fetched:  # a link to a missing page: the topic is not there
            del found.topics[item][lang]


def _item_number(item: str) -> int:
    return int(item[1:]) if item[1:].isdigit() else 0


def _open_site(config: WikipediaSource, lang: str, pool):
    import mwclient
    import requests

    host = f"{lang}.wikipedia.org"
    try:
        return mwclient.Site(host, pool=pool, clients_useragent=config.user_agent)
    except (requests.exceptions.RequestException, mwclient.errors.MwClientError) as exc:
        raise SourceError(f"data.wikipedia: cannot reach {host}: {exc}") from None


def _query(site, lang: str, params: dict) -> Iterator[dict]:
    """The answers of one query and its continuations."""
    import mwclient
    import requests

    carry_on: dict | None = {"continue": ""}
    while carry_on is not None:
        try:
            answer = site.get("query", **params, **carry_on)
        except (requests.exceptions.RequestException, mwclient.errors.MwClientError) as exc:
            raise SourceError(f"data.wikipedia: {lang}.wikipedia.org failed: {exc}") from None
        yield answer
        carry_on = answer.get("continue")


_CONTENT = {
    "prop": "revisions|pageprops|info",
    "rvprop": "ids|timestamp|content",
    "rvslots": "main",
    "ppprop": "wikibase_item",
    "inprop": "url",
    "formatversion": 2,
}


def _listed_pages(site, lang: str, categories: list[str], config: WikipediaSource):
    seen: set[str] = set()
    for category in categories:
        params = {
            "generator": "categorymembers",
            "gcmtitle": category,
            "gcmnamespace": 0,
            "gcmlimit": _BATCH,
            **_CONTENT,
        }
        for answer in _query(site, lang, params):
            retrieved = _now()
            # A long answer may leave some pages' content for the next call: yield those then.
            for page in sorted(answer.get("query", {}).get("pages", []), key=lambda p: p["title"]):
                if not page.get("revisions") or page["title"] in seen:
                    continue
                if len(seen) >= config.limit_per_language:
                    return
                seen.add(page["title"])
                yield _page(page, lang, retrieved, quality_of(category), category)


def _follow_langlinks(sites: dict, languages: list[str], topics: dict[str, dict[str, str]]):
    """Add to `topics` the titles of each topic in the study languages that lack it."""
    for target in languages:
        for source in languages:
            # each topic once, from the first language that has it (dicts keep that order)
            asked = {
                titles[source]: item
                for item, titles in topics.items()
                if target not in titles and next(iter(titles)) == source
            }
            names = sorted(asked)
            for start in range(0, len(names), _TITLES):
                params = {
                    "titles": "|".join(names[start : start + _TITLES]),
                    "prop": "langlinks",
                    "lllang": target,
                    "lllimit": "max",
                    "formatversion": 2,
                }
                for answer in _query(sites[source], source, params):
                    for page in answer.get("query", {}).get("pages", []):
                        item = asked.get(page["title"])
                        for link in page.get("langlinks", []):
                            title = link.get("title") or link.get("*")  # formatversion 2 or 1
                            if item and link.get("lang") == target and title:
                                topics[item][target] = title


def _pages_by_title(site, lang: str, wanted: dict[str, str]) -> Iterator[dict]:
    """The pages of `wanted` (title -> Wikidata item), in its order; missing ones are skipped."""
    titles = list(wanted)
    for start in range(0, len(titles), _TITLES):
        batch = titles[start : start + _TITLES]
        params = {"titles": "|".join(batch), "redirects": 1, **_CONTENT}
        got: dict[str, dict] = {}
        for answer in _query(site, lang, params):
            retrieved = _now()
            query = answer.get("query", {})
            renamed = {
                r["to"]: r["from"] for r in query.get("normalized", []) + query.get("redirects", [])
            }
            for page in query.get("pages", []):
                if page.get("revisions"):
                    asked = page["title"]
                    for _ in range(2):  # a title may be normalized, then redirected
                        asked = asked if asked in wanted else renamed.get(asked, asked)
                    got[asked] = _page(page, lang, retrieved, "none", None)
        for title in batch:
            if title in got:
                # the topic followed, whatever item the page itself names (they agree)
                yield got[title] | {"wikidata_item": wanted[title]}


def _page(page: dict, lang: str, retrieved: str, quality: str, category: str | None) -> dict:
    revision = page["revisions"][0]
    return {
        "wikidata_item": page.get("pageprops", {}).get("wikibase_item"),
        "language": lang,
        "title": page["title"],
        "pageid": page.get("pageid"),
        "revision_id": revision.get("revid"),
        "revision_timestamp": revision.get("timestamp"),
        "retrieved": retrieved,
        "url": page.get("fullurl"),
        "quality": quality,
        "category": category,
        "wikitext": revision["slots"]["main"]["content"],
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
