"""`launch prefetch CONFIG`: what a sweep reads from the network, fetched once on the login node.

Models and Hugging Face datasets go to the Hub cache (hub.py); Wikipedia articles to a
snapshot folder (data/sources/wikipedia_snapshot.py). Each part runs even when the other
failed; the failures come together at the end, one line each.
"""

from __future__ import annotations

from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.errors import PrefetchError, SourceError


def prefetch(
    config: SweepConfig, config_dir: Path | None, cache_dir: str | None = None
) -> list[str]:
    """Fetch everything; the lines saying where it went. Raises PrefetchError naming each
    failure (and what did arrive)."""
    from babelsum import hub

    done, problems = [], []
    try:
        done.append(f"manifest: {hub.prefetch(config, cache_dir)}")
    except PrefetchError as exc:
        problems.append(str(exc))
    if config.data.source == "wikipedia":
        from babelsum.data.sources.wikipedia_snapshot import snapshot_dir, write_snapshot

        folder = snapshot_dir(config, config_dir, cache_dir)
        try:
            manifest = write_snapshot(config, folder)
        except SourceError as exc:
            problems.append(f"Wikipedia snapshot {folder}: {exc}")
        else:
            counts = ", ".join(
                f"{lang} {n['listed']}+{n['linked']}" for lang, n in manifest["articles"].items()
            )
            done.append(f"wikipedia snapshot: {folder} (articles listed+linked: {counts})")
    if problems:
        raise PrefetchError("\n".join(problems + [f"(done) {line}" for line in done]))
    return done
