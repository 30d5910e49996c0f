"""Wikipedia good and featured articles, aligned across languages by their Wikidata item.

The Wikidata item (Q90 for Paris) is the `article_id`, so the French and Japanese articles on
one subject share a topic; with `follow_langlinks` (the default) each topic is also fetched
in the other study languages where it has an article, good/featured or not
(wikipedia_api.py). Articles without an item keep a language-local id (`fr:Titre`) and form
a topic of their own. No gold summary: a teacher writes them.

Where the articles come from:
- the snapshot `launch prefetch` wrote (wikipedia_snapshot.py) when it exists, offline or
  not, so that every run of a config reads the same revisions; the task log says so;
- with `offline: true` only from there: no snapshot is one error line naming the folder and
  the `launch prefetch` command;
- otherwise live from the API (or the `recording` that stands in for it in tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babelsum.config import SweepConfig, WikipediaSource
from babelsum.data.schema import canonical
from babelsum.data.sources.wikitext import wikitext_to_text
from babelsum.errors import SourceError


def read_wikipedia(config: WikipediaSource, languages: list[str]) -> Iterator[dict]:
    """The articles of `languages`, live from the API (or the recording)."""
    from babelsum.data.sources.wikipedia_api import Collection, collect_pages

    found = Collection()
    for page in collect_pages(config, languages, found):
        yield article_record(page, found.namespaces[page["language"]], config.raw_wikitext)


def read_sweep_wikipedia(config: SweepConfig, config_file: str | Path | None = None):
    """The articles of a sweep: from its snapshot when there is one (see above).
    `config_file`: the config the sweep was made from (relative snapshot paths start there)."""
    from babelsum.data.sources import wikipedia_snapshot as snapshot

    config_dir = Path(config_file).resolve().parent if config_file else None
    folder = snapshot.snapshot_dir(config, config_dir)
    languages = list(config.languages)
    if not snapshot.exists(folder):
        if config.offline:
            raise SourceError(snapshot.missing(folder, config_file))
        _say(f"no Wikipedia snapshot at {folder}: reading the articles from the API")
        yield from read_wikipedia(config.data.wikipedia, languages)
        return
    manifest = snapshot.read_manifest(folder)
    said = f"reading the Wikipedia snapshot {folder} (collected {manifest.get('finished')})"
    if not config.offline:
        said += (
            "; offline is false, but a snapshot is read when there is one, so that every run "
            "reads the same articles: delete it to read the API again"
        )
    _say(said)
    for difference in snapshot.differences(manifest, config):
        _say(f"notice: the snapshot was collected with other settings: {difference}")
    namespaces = manifest.get("namespaces", {})
    for page in snapshot.read_pages(folder, manifest, languages):
        yield article_record(
            page, namespaces.get(page["language"], []), config.data.wikipedia.raw_wikitext
        )


def _say(line: str) -> None:
    """A line of the task log (stdout: what every backend keeps)."""
    print(f"wikipedia: {line}", flush=True)


def article_record(page: dict, namespaces: list[str], raw_wikitext: bool = False) -> dict:
    """A collected page (wikipedia_api.py) as a canonical record, its wikitext made prose
    (kept as it is with `raw_wikitext`, as the original study fed it). `namespaces`: the
    wiki's own names of its file and category namespaces."""
    lang = page["language"]
    text = (
        page["wikitext"]
        if raw_wikitext
        else wikitext_to_text(page["wikitext"], lang, set(namespaces))
    )
    return canonical(
        {
            "article_id": page["wikidata_item"] or f"{lang}:{page['title']}",
            "language": lang,
            "title": page["title"],
            "text": text,
            "summary": None,
            "url": page.get("url"),
        },
        "wikipedia",
    )
