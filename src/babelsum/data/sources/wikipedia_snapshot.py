"""A Wikipedia snapshot: the articles `launch prefetch` collected where there is internet, for
the prepare task to read on a compute node without it.

    manifest.json           languages, article counts, when, API endpoints, babelsum version,
                            and the settings it was collected with
    topics.json             Wikidata item -> {language: title}: where each topic has an article
    articles/<lang>.jsonl   one page a line (fields: wikipedia_api.py), raw wikitext included

Where: `data.wikipedia.snapshot` (relative to the config file's folder), else
`<hf_cache>/babelsum-wikipedia/<languages>-<8 hex digits of the collection settings>`: the
Hugging Face cache is the folder that login and compute nodes already share for offline
work, and a changed setting (languages, categories, limits) names a new snapshot instead of
reading an old one.

It is written in a temporary folder beside its place and renamed there once complete, so a
folder with a manifest is whole, and a failed prefetch leaves the previous snapshot as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.errors import SourceError
from babelsum.files import write_json

MANIFEST = "manifest.json"
TOPICS = "topics.json"


def settings(config: SweepConfig) -> dict:
    """What decides which articles a collection holds."""
    from babelsum.data.sources.wikipedia_api import DEFAULT_CATEGORIES

    wiki = config.data.wikipedia
    return {
        "languages": list(config.languages),
        "categories": {
            lang: wiki.categories.get(lang) or DEFAULT_CATEGORIES.get(lang, [])
            for lang in config.languages
        },
        "limit_per_language": wiki.limit_per_language,
        "follow_langlinks": wiki.follow_langlinks,
        "linked_limit_per_language": (
            wiki.linked_limit_per_language or wiki.limit_per_language
            if wiki.follow_langlinks
            else None
        ),
        "recorded": wiki.recording is not None,  # a test stand-in never passes for Wikipedia
    }


def snapshot_dir(
    config: SweepConfig, config_dir: Path | None = None, cache_dir: str | None = None
) -> Path:
    """Where the sweep's snapshot is (or will be)."""
    if config.data.wikipedia.snapshot:
        path = Path(config.data.wikipedia.snapshot).expanduser()
        return path if path.is_absolute() or config_dir is None else config_dir / path
    from babelsum.hub import hub_cache

    text = json.dumps(settings(config), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    name = f"{'-'.join(config.languages)}-{digest}"
    return hub_cache(config, cache_dir) / "babelsum-wikipedia" / name


def exists(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def missing(folder: Path, config_file: str | Path | None = None) -> str:
    """The one line for a snapshot that is not there."""
    return (
        f"data.wikipedia: no Wikipedia snapshot at {folder} (offline: true reads only that); "
        f"run `launch prefetch {config_file or 'CONFIG'}` on a node with internet"
    )


def offline_problems(config: SweepConfig, config_dir: Path | None) -> list[str]:
    """For the preflight of an offline sweep: the snapshot it will need, if it is missing."""
    if config.data.source != "wikipedia":
        return []
    folder = snapshot_dir(config, config_dir)
    return [] if exists(folder) else [missing(folder)]


# ---------------------------------------------------------------- writing (launch prefetch)


def write_snapshot(config: SweepConfig, folder: Path) -> dict:
    """Collect the sweep's articles from the API into `folder`; its manifest."""
    from babelsum import __version__
    from babelsum.data.sources.wikipedia_api import Collection, api_endpoint, collect_pages

    wiki = config.data.wikipedia
    languages = list(config.languages)
    started = _now()
    tmp = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    (tmp / "articles").mkdir(parents=True)
    try:
        found = Collection()
        files = {
            lang: open(tmp / "articles" / f"{lang}.jsonl", "w", encoding="utf-8")
            for lang in languages
        }
        try:
            for page in collect_pages(wiki, languages, found):
                files[page["language"]].write(json.dumps(page, ensure_ascii=False) + "\n")
        finally:
            for f in files.values():
                f.close()
        write_json(tmp / TOPICS, found.topics)
        manifest = {
            "languages": languages,
            "articles": found.counts,
            "topics_by_languages": topics_by_languages(found.topics),
            "namespaces": found.namespaces,
            "started": started,
            "finished": _now(),
            "endpoints": {
                lang: (f"recording {wiki.recording}" if wiki.recording else api_endpoint(lang))
                for lang in languages
            },
            "babelsum_version": __version__,
            "settings": settings(config),
        }
        write_json(tmp / MANIFEST, manifest)
        _replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _replace(new: Path, folder: Path) -> None:
    """Put `new` in place of `folder`; the old one goes only once the new one is there."""
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def topics_by_languages(topics: dict[str, dict[str, str]]) -> dict[str, int]:
    """Number of languages -> topics with articles in that many (as text: JSON keys)."""
    counts = Counter(len(titles) for titles in topics.values())
    return {str(n): counts[n] for n in sorted(counts)}


# ---------------------------------------------------------------- reading (prepare)


def read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(
            f"data.wikipedia: unreadable snapshot manifest {folder / MANIFEST}: {exc}"
        ) from None


def differences(manifest: dict, config: SweepConfig) -> list[str]:
    """Settings the snapshot was collected with that the config no longer has."""
    now = settings(config)
    then = manifest.get("settings", {})
    return [
        f"{name}: snapshot {then.get(name)!r}, config {value!r}"
        for name, value in now.items()
        if name != "languages" and then.get(name) != value
    ]


def read_pages(folder: Path, manifest: dict, languages: list[str]) -> Iterator[dict]:
    """The snapshot's pages of `languages`, in the order they were collected."""
    lacking = [lang for lang in languages if lang not in manifest.get("languages", [])]
    if lacking:
        raise SourceError(
            f"data.wikipedia: the snapshot {folder} has no articles in {', '.join(lacking)} "
            f"(it holds {', '.join(manifest.get('languages', [])) or 'none'}); "
            "run `launch prefetch` again with this config"
        )
    for lang in languages:
        path = folder / "articles" / f"{lang}.jsonl"
        try:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise SourceError(
                            f"data.wikipedia: snapshot file {path}:{number} is not JSON: {exc.msg}"
                        ) from None
        except FileNotFoundError:
            raise SourceError(f"data.wikipedia: the snapshot lacks {path}") from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
