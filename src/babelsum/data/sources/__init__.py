"""Where articles come from: the synthetic corpus, local files, Hugging Face datasets, Wikipedia.

Each source yields canonical records (dicts with the fields of `babelsum.data.schema`) or,
for what it cannot read at all (a line that is not JSON, bytes that are not UTF-8), a
`Rejected` that goes to the quarantine. A problem the researcher must fix (a missing file,
an unknown column, a dataset that cannot be loaded offline) raises `SourceError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.data.quarantine import Rejected
from babelsum.errors import SourceError


def read_source(
    config: SweepConfig, config_file: str | Path | None = None
) -> Iterator[dict | Rejected]:
    """The records of the configured source, in the order the source gives them.
    `config_file`: the config the sweep was made from (the Wikipedia snapshot's relative
    path starts in its folder)."""
    data = config.data
    if data.source == "synthetic":
        from babelsum.data.synthetic import synthetic_articles

        try:
            yield from synthetic_articles(
                data.synthetic.topics, data.synthetic.seed, list(config.languages)
            )
        except ValueError as exc:
            raise SourceError(f"data.synthetic: {exc}") from None
    elif data.source == "files":
        from babelsum.data.sources.files import read_files

        yield from read_files(data.files)
    elif data.source == "hf":
        from babelsum.data.sources.hf import read_hf

        yield from read_hf(data.hf)
    elif data.source == "wikipedia":
        from babelsum.data.sources.wikipedia import read_sweep_wikipedia

        yield from read_sweep_wikipedia(config, config_file)
    else:  # the config only allows the four above
        raise SourceError(f"data.source: unknown source {data.source!r}")
