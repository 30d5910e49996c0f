"""Preflight: every problem a task would meet on a compute node, found before anything is queued.

The model that is not in the offline cache is a Hub id that the test's empty cache lacks (no
download is tried: HF_HUB_OFFLINE=1); the LoRA target is checked on a tiny Phi3 built locally.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from babelsum.cli import main
from tests.orchestration.fake_sweep import fake_sweep_config


def planted(tmp_path, partition: str | None = None) -> str:
    config = fake_sweep_config(
        offline=True,
        hf_cache=str(tmp_path / "empty-hub-cache"),
        models={"tiny": {"path": "tiny:phi3"}, "absent": {"path": "someone/not-cached-7b"}},
        train={
            "languages": ["en"],
            "methods": [
                {"model": "tiny", "method": "full", "deepspeed": "no-such-zero2.json"},
                {"model": "tiny", "method": "qlora", "target_modules": ["Wqkv", "down_proj"]},
            ],
        },
    )
    if partition:
        config["resources"] = {"train": {"partition": partition}}
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_every_planted_problem_is_one_line_and_nothing_is_written(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert main(["sweep", planted(tmp_path), "--sweep-dir", str(sweep), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3, err
    assert any(
        "models.absent (someone/not-cached-7b) is not in the Hugging Face cache" in e for e in err
    )
    assert any("train.methods[0].deepspeed: no such file 'no-such-zero2.json'" in e for e in err)
    assert any(
        "train.methods[1].target_modules:" in e and "Wqkv" in e and "qkv_proj" in e for e in err
    )
    assert all(e.startswith("error: preflight: ") for e in err)
    assert not sweep.exists()


def test_the_dry_run_prints_the_same_findings_and_the_default_time_limits(tmp_path, capsys):
    assert main(["sweep", planted(tmp_path), "--dry-run", "--executor", "slurm"]) == 1
    out = capsys.readouterr().out
    assert "preflight: 3 problem(s)" in out and "no such file 'no-such-zero2.json'" in out
    assert "--time=1440" in out  # train: 24 hours when the config says nothing
    assert "--time=60" in out  # gather, split: one hour


def test_no_preflight_skips_it_and_says_so(tmp_path, capsys):
    assert main(["sweep", planted(tmp_path), "--dry-run", "--no-preflight"]) == 0
    assert "preflight: skipped (--no-preflight)" in capsys.readouterr().out


@pytest.mark.usefixtures("slurm_cluster")
def test_on_the_cluster_an_unknown_partition_is_a_fourth_line_and_no_job_is_queued(
    tmp_path, capsys
):
    before = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    sweep = tmp_path / "sweep"
    args = ["sweep", planted(tmp_path, "no-such-partition"), "--sweep-dir", str(sweep)]
    assert main([*args, "--executor", "slurm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4, err
    assert any(
        "resources.train.partition: no partition 'no-such-partition'; partitions: local" in e
        for e in err
    )
    after = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    assert after == before and not sweep.exists()


def test_suffix_matched_lora_targets_are_a_notice_naming_what_matched_and_what_did_not(
    tmp_path, capsys
):
    """paper-as-run's Phi-4-mini targets on a tiny Phi3: only down_proj exists."""
    config = fake_sweep_config(
        models={"tiny": {"path": "tiny:phi3"}},
        train={
            "languages": ["en"],
            "methods": [
                {
                    "model": "tiny",
                    "method": "qlora",
                    "target_modules": ["Wqkv", "out_proj", "up_proj", "down_proj"],
                    "target_modules_match": "suffix",
                }
            ],
        },
    )
    path = tmp_path / "as-run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "preflight: no problem" in out
    notice = next(line for line in out.splitlines() if "target_modules" in line).strip()
    assert notice.startswith(
        "(notice) train.methods[0].target_modules: LoRA target_modules matched by suffix in "
        "Phi3ForCausalLM: down_proj; matched nothing (left out, as PEFT leaves them out): "
        "Wqkv, out_proj, up_proj;"
    )

    config["train"]["methods"][0]["target_modules"] = ["Wqkv", "out_proj"]  # nothing matches
    path.write_text(yaml.safe_dump(config))
    assert main(["sweep", str(path), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "train.methods[0].target_modules: LoRA target_modules Wqkv, out_proj match no" in out


def test_a_prompt_set_that_is_not_there_is_a_problem_before_submission(tmp_path, capsys):
    config = fake_sweep_config(prompts={"student": "prompts/mine"})
    path = tmp_path / "prompts.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["sweep", str(path), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert (
        f"prompts.student: 'prompts/mine' is neither a shipped prompt set (default, paper, slds, "
        f"xsum-phi2) nor a folder (looked for {tmp_path / 'prompts' / 'mine'})" in out
    )
    (tmp_path / "prompts" / "mine").mkdir(parents=True)
    for kind in ("system", "user", "plain"):
        (tmp_path / "prompts" / "mine" / f"{kind}.jinja").write_text("{{ article }}")
    (tmp_path / "prompts" / "mine" / "seq2seq.jinja").write_text("{{ article }}")
    assert main(["sweep", str(path), "--dry-run"]) == 0, capsys.readouterr().out
