"""`launch prefetch` and the offline check, with the Hugging Face Hub out of reach.

The tests never reach the Hub. `HubStandIn` takes the place of
`huggingface_hub.snapshot_download` for downloads only (the network edge): it writes what a
download writes, in the real cache layout (refs/<revision>, snapshots/<sha>/<files>). Calls
with local_files_only=True go to the real function, so the offline check reads the cache as a
compute node would.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import huggingface_hub
import pytest
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

from babelsum.cli import main as launch
from babelsum.config import validate_config
from babelsum.errors import PrefetchError
from babelsum.hub import check_offline, dataset_source, hub_items, prefetch

QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
GEMMA_JUDGE = "google/gemma-3-27b-it"  # the original study's judge
SLDS = "ipst/slds"
SLDS_CARD = """---
configs:
- config_name: fr_de
  data_files:
  - split: train
    path: data/fr_de/train.parquet
---
"""


def slds_rows() -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"decision_id": ["d1", "d2"], "decision": ["Le recourant...", "Le Tribunal..."]}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


class HubStandIn:
    """Answers downloads as the Hub would for the repos it knows; records each download."""

    def __init__(self, real):
        self.real = real
        self.repos = {
            ("model", QWEN): ("a" * 40, {"config.json": "{}", "model.safetensors": "weights"}),
            ("dataset", SLDS): (
                "b" * 40,
                {"README.md": SLDS_CARD, "data/fr_de/train.parquet": slds_rows()},
            ),
        }
        self.gated: set[str] = set()
        self.reachable = True
        self.downloads: list[dict] = []

    def __call__(self, repo_id, *, repo_type=None, revision=None, cache_dir=None,
                 ignore_patterns=None, local_files_only=False, **kwargs):  # fmt: skip
        if local_files_only:
            return self.real(repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir,
                             ignore_patterns=ignore_patterns, local_files_only=True)  # fmt: skip
        repo_type = repo_type or "model"
        self.downloads.append(
            {"repo_id": repo_id, "repo_type": repo_type, "ignore": ignore_patterns}
        )
        if not self.reachable:
            raise LocalEntryNotFoundError("Cannot reach the Hub: connection refused")
        url = f"https://huggingface.co/api/{repo_type}s/{repo_id}"
        response = httpx2.Response(404, request=httpx2.Request("GET", url))
        if repo_id in self.gated:
            raise GatedRepoError(f"401 for {url}", response=response)
        if (repo_type, repo_id) not in self.repos:
            raise RepositoryNotFoundError(f"404 for {url}", response=response)
        sha, files = self.repos[(repo_type, repo_id)]
        storage = Path(cache_dir) / f"{repo_type}s--{repo_id.replace('/', '--')}"
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / (revision or "main")).write_text(sha)
        for name, content in files.items():
            path = storage / "snapshots" / sha / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(storage / "snapshots" / sha)


@pytest.fixture
def hub(monkeypatch) -> HubStandIn:
    standin = HubStandIn(huggingface_hub.snapshot_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", standin)
    return standin


def sweep_config(**changes):
    data = {
        "study": "offline-test",
        "languages": ["fr", "de"],
        "data": {"source": "hf", "hf": {"name": SLDS, "preset": "slds", "config_name": "fr_de"}},
        "models": {
            "qwen": {"path": QWEN},
            "judge": {"path": QWEN},
            "tiny": {"path": "./models/tiny"},
        },
        "train": {"languages": ["fr"], "methods": [{"model": "qwen", "method": "full"}]},
    }
    data.update(changes)
    return validate_config(data)


def test_the_hub_items_of_a_sweep_are_its_hub_models_and_dataset_once_each():
    items = hub_items(sweep_config())
    assert [(i.name, i.repo_id, i.repo_type) for i in items] == [
        ("models.qwen", QWEN, "model"),
        ("data.hf", SLDS, "dataset"),
    ]


@pytest.mark.parametrize("name", ["paper.yaml", "paper-as-run.yaml"])
def test_the_study_configs_prefetch_their_judge(name):
    from babelsum.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / name)
    judge = config.evaluate.judge.model
    assert (f"models.{judge}", GEMMA_JUDGE) in [(i.name, i.repo_id) for i in hub_items(config)]


def test_prefetch_downloads_the_judge_and_the_offline_check_names_it(hub, tmp_path):
    hub.repos[("model", GEMMA_JUDGE)] = ("c" * 40, {"config.json": "{}"})
    config = sweep_config(
        hf_cache=str(tmp_path / "hub"),
        models={"qwen": {"path": QWEN}, "gemma": {"path": GEMMA_JUDGE}},
        evaluate={"judge": {"model": "gemma"}},
    )
    assert any(line.startswith(f"models.gemma ({GEMMA_JUDGE})") for line in check_offline(config))
    manifest = json.loads(prefetch(config, None).read_text())
    assert manifest["models"][GEMMA_JUDGE] == "c" * 40
    assert check_offline(config) == []


def test_prefetch_fills_the_cache_and_the_offline_check_then_passes(hub, tmp_path):
    config = sweep_config(hf_cache=str(tmp_path / "hub"))
    before = check_offline(config)
    assert [line.split(" is not")[0] for line in before[:2]] == [
        f"models.qwen ({QWEN})",
        f"data.hf ({SLDS})",
    ]
    assert "run `launch prefetch CONFIG`" in before[0]
    assert before[2] == "models.tiny: no model folder at ./models/tiny"

    manifest_path = prefetch(config, None)
    manifest = json.loads(manifest_path.read_text())
    assert manifest_path == tmp_path / "hub" / "babelsum-manifests" / "offline-test.json"
    assert manifest["models"] == {QWEN: "a" * 40}
    assert manifest["datasets"] == {SLDS: "b" * 40}
    assert "*.gguf" in hub.downloads[0]["ignore"] and hub.downloads[1]["ignore"] is None
    assert check_offline(config) == ["models.tiny: no model folder at ./models/tiny"]


def test_a_ref_whose_snapshot_is_gone_counts_as_missing(hub, tmp_path):
    config = sweep_config(hf_cache=str(tmp_path / "hub"), models={"qwen": {"path": QWEN}})
    prefetch(config)
    snapshot = tmp_path / "hub" / f"models--{QWEN.replace('/', '--')}" / "snapshots" / ("a" * 40)
    for file in snapshot.iterdir():
        file.unlink()
    snapshot.rmdir()
    assert check_offline(config)[0].startswith(
        f"models.qwen ({QWEN}) is not in the Hugging Face cache"
    )


def test_failures_are_named_one_line_each_and_the_rest_is_kept(hub, tmp_path):
    hub.gated.add(QWEN)
    config = sweep_config(
        hf_cache=str(tmp_path / "hub"),
        models={"qwen": {"path": QWEN}, "typo": {"path": "Qwen/Qwen2.5-0.5B-Intsruct"}},
    )
    with pytest.raises(PrefetchError) as failed:
        prefetch(config)
    message = str(failed.value)
    assert "2 of 3 downloads failed" in message
    assert f"models.qwen ({QWEN}): gated: accept its terms" in message
    assert "models.typo (Qwen/Qwen2.5-0.5B-Intsruct): not on the Hugging Face Hub" in message
    manifest = json.loads(
        (tmp_path / "hub" / "babelsum-manifests" / "offline-test.json").read_text()
    )
    assert manifest["datasets"] == {SLDS: "b" * 40}


def test_launch_prefetch_without_network_says_so(hub, tmp_path, capsys):
    hub.reachable = False
    config = tmp_path / "sweep.yaml"
    config.write_text(
        "study: offline-test\nlanguages: [fr]\nmodels: {qwen: {path: Qwen/Qwen2.5-0.5B-Instruct}}\n"
        "train: {languages: [fr], methods: [{model: qwen, method: full}]}\n"
        "evaluate: {test_sets: [novel]}\n"
    )
    assert launch(["prefetch", str(config), "--cache-dir", str(tmp_path / "hub")]) == 2
    assert "the Hub cannot be reached" in capsys.readouterr().err


def test_offline_a_prefetched_dataset_loads_from_its_cached_snapshot(hub, tmp_path, monkeypatch):
    import datasets

    cache = tmp_path / "hub"
    prefetch(sweep_config(hf_cache=str(cache), models={"qwen": {"path": "./models/qwen"}}))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = dataset_source(SLDS, None, str(cache))
    assert source.endswith("b" * 40)
    rows = datasets.load_dataset(source, "fr_de", split="train", cache_dir=str(tmp_path / "ds"))
    assert rows["decision_id"] == ["d1", "d2"]
    assert dataset_source("other/dataset", None, str(cache)) == "other/dataset"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert dataset_source(SLDS, None, str(cache)) == SLDS


def test_offline_the_hf_source_reads_the_prefetched_dataset(hub, tmp_path, monkeypatch):
    """The data.hf source itself, not only `dataset_source`: what the prepare stage runs."""
    from huggingface_hub import constants

    from babelsum.config import HFSource
    from babelsum.data.sources.hf import read_hf

    cache = tmp_path / "hub"
    prefetch(sweep_config(hf_cache=str(cache), models={"qwen": {"path": "./models/qwen"}}))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # as HF_HUB_CACHE=... would
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "ds"))
    source = HFSource(
        name=SLDS,
        config_name="fr_de",
        language="fr",
        columns={"article_id": "decision_id", "text": "decision"},
    )
    assert [r["article_id"] for r in read_hf(source)] == ["d1", "d2"]
