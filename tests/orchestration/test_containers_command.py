"""Tasks inside an Apptainer image: the command submitit runs, the checks at submission, and
the sbatch script a containerized stage gets.

Apptainer cannot be installed here: `apptainer_standin` (tests/orchestration/conftest.py) puts a
stand-in on PATH that records its arguments and runs the inner command on the host.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
import submitit
import yaml

from babelsum.backends import slurm
from babelsum.backends.apptainer import check_container, config_binds, python_command
from babelsum.config import ContainerConfig, load_config, validate_config
from babelsum.errors import ContainerError
from babelsum.state import SweepFolder
from babelsum.sweep import create_sweep

EXPECTED = Path(__file__).parent / "sbatch"


def test_python_command_binds_the_sweep_and_the_cache_and_passes_the_environment():
    container = ContainerConfig(
        image="/project/images/babelsum.sif",
        binds=["/project/data:/data:ro"],
        env={"NCCL_DEBUG": "WARN", "NOTE": "two words"},
        options=["--writable-tmpfs"],
    )
    command = python_command(
        container, Path("/scratch/me/sweeps/demo"), "/scratch/me/hf", ["/scratch/me/models"]
    )
    assert shlex.split(command) == [
        "apptainer", "exec", "--nv", "--writable-tmpfs",
        "--bind", "/scratch/me/sweeps/demo",
        "--bind", "/scratch/me/hf",
        "--bind", "/project/data:/data:ro",
        "--bind", "/scratch/me/models",
        "--env", "HF_HUB_CACHE=/scratch/me/hf",
        "--env", "NCCL_DEBUG=WARN",
        "--env", "NOTE=two words",
        "/project/images/babelsum.sif", "python",
    ]  # fmt: skip


def test_relative_image_becomes_absolute_and_gpu_flag_is_optional(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    container = ContainerConfig(image="images/b.sif", nv=False, apptainer="/opt/bin/apptainer")
    words = shlex.split(python_command(container, tmp_path / "sweep", None))
    assert words == [
        "/opt/bin/apptainer", "exec", "--bind", str(tmp_path / "sweep"),
        str(tmp_path / "images" / "b.sif"), "python",
    ]  # fmt: skip


def test_folders_the_config_reads_from_are_bound(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder in ("models/tiny", "data", "prompts", "deepspeed"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "deepspeed" / "zero2.json").write_text("{}")
    config = validate_config(
        {
            "study": "binds",
            "languages": ["en"],
            "data": {"source": "files", "files": {"paths": ["data/*.jsonl"], "language": "en"}},
            "teacher": {"prompt_dir": "prompts"},
            "models": {"tiny": {"path": "models/tiny"}, "hub": {"path": "Qwen/Qwen2.5-0.5B"}},
            "train": {
                "languages": ["en"],
                "methods": [
                    {"model": "tiny", "method": "full", "deepspeed": "deepspeed/zero2.json"}
                ],
            },
            "evaluate": {"test_sets": ["novel"]},
        }
    )
    assert config_binds(config) == [
        str(tmp_path / "models" / "tiny"),
        str(tmp_path / "data"),
        str(tmp_path / "prompts"),
        str(tmp_path / "deepspeed"),
    ]


def test_prompt_folders_are_bound_from_the_config_folder_and_shipped_sets_are_not(tmp_path):
    (tmp_path / "configs" / "prompts" / "mine").mkdir(parents=True)
    config = validate_config(
        {
            "study": "binds",
            "languages": ["en"],
            "prompts": {"teacher": "paper", "student": "prompts/mine"},
            "models": {"hub": {"path": "Qwen/Qwen2.5-0.5B"}},
            "train": {"languages": ["en"], "methods": [{"model": "hub", "method": "full"}]},
            "evaluate": {"test_sets": ["novel"]},
        }
    )
    assert config_binds(config, tmp_path / "configs") == [
        str(tmp_path / "configs" / "prompts" / "mine")
    ]


def test_slurm_jobs_bind_the_folders_the_config_reads_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    config = validate_config(
        {
            "study": "binds",
            "languages": ["en"],
            "models": {"tiny": {"path": "models/tiny"}},
            "train": {"languages": ["en"], "methods": [{"model": "tiny", "method": "full"}]},
            "evaluate": {"test_sets": ["novel"]},
            "container": {"image": "/images/babelsum.sif"},
        }
    )
    words = shlex.split(slurm.python_command(config, SweepFolder(tmp_path / "sweep")))
    assert words[words.index(str(tmp_path / "sweep")) + 1 :][:2] == [
        "--bind",
        str(tmp_path / "models" / "tiny"),
    ]


def test_submission_checks_name_the_culprit_and_the_fix(tmp_path, monkeypatch, apptainer_standin):
    image = tmp_path / "babelsum.sif"
    with pytest.raises(ContainerError, match=r"babelsum.sif does not exist; build it with"):
        check_container(ContainerConfig(image=str(image)))
    with pytest.raises(ContainerError, match="must be a local image file"):
        check_container(ContainerConfig(image="docker://ghcr.io/me/babelsum:latest"))
    image.write_text("stand-in image")
    with pytest.raises(ContainerError, match="container.binds: /no/such/data does not exist"):
        check_container(ContainerConfig(image=str(image), binds=["/no/such/data:/data"]))
    with pytest.raises(ContainerError, match="`apptainer-9` is not on PATH"):
        check_container(ContainerConfig(image=str(image), apptainer="apptainer-9"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no apptainer anywhere
    with pytest.raises(ContainerError, match="module load apptainer"):
        check_container(ContainerConfig(image=str(image)))


def test_probe_runs_the_image_once_and_reports_a_broken_one(tmp_path, apptainer_standin):
    image = tmp_path / "babelsum.sif"
    image.write_text("stand-in image")
    check_container(ContainerConfig(image=str(image)))
    (probe,) = apptainer_standin.calls()
    assert probe["rest"] == [str(image), "python", "-c", "import babelsum, submitit"]

    broken = apptainer_standin.bin_dir / "broken"
    broken.write_text(
        "#!/bin/sh\necho 'ModuleNotFoundError: No module named submitit' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    with pytest.raises(ContainerError, match="No module named submitit; rebuild it"):
        check_container(ContainerConfig(image=str(image), apptainer=str(broken)))
    check_container(ContainerConfig(image=str(image), apptainer=str(broken), probe=False))


def test_a_task_runs_through_submitit_inside_the_container(
    tmp_path, fake_config_file, apptainer_standin
):
    """submitit starts `<apptainer exec ... python> -u -m submitit.core._submit <job folder>`,
    as on SLURM; the job folder lies in the bound sweep folder."""
    image = tmp_path / "babelsum.sif"
    image.write_text("stand-in image")
    cache = tmp_path / "hf"
    cache.mkdir()
    config = load_config(
        fake_config_file(
            container={"image": str(image), "env": {"BABELSUM_IN_CONTAINER": "1"}},
            hf_cache=str(cache),
        )
    )
    folder, plan = create_sweep(config, tmp_path / "sweep", "slurm", "test")
    check_container(config.container)
    executor = submitit.LocalExecutor(
        folder=folder.jobs_dir / "prepare" / "%j",
        python=python_command(config.container, folder.root, config.hf_cache),
    )
    job = executor.submit(slurm.TaskCall(), str(folder.root), "prepare", [0])
    job.result()

    assert folder.is_done("prepare")
    _, task = apptainer_standin.calls()
    assert task["binds"] == [str(folder.root), str(cache)]
    assert task["env"] == {"BABELSUM_IN_CONTAINER": "1", "HF_HUB_CACHE": str(cache)}
    assert task["rest"][:4] == [str(image), "python", "-u", "-m"]


def paper_like_config() -> dict:
    return {
        "study": "paper",
        "languages": ["en", "fr", "de", "ja"],
        "models": {"qwen": {"path": "Qwen/Qwen2.5-0.5B-Instruct", "family": "qwen2"}},
        "train": {"languages": ["en", "fr"], "methods": [{"model": "qwen", "method": "full"}]},
        "resources": {
            "default": {"partition": "cpu", "time": "01:00:00", "mem": "16G"},
            "train": {
                "partition": "gpu",
                "gpus_per_node": 4,
                "tasks_per_node": 4,
                "cpus_per_task": 8,
                "mem": "256G",
                "time": "08:00:00",
            },
        },  # fmt: skip
        "container": {
            "image": "/project/images/babelsum.sif",
            "binds": ["/project/data:/data:ro"],
            "env": {"NCCL_DEBUG": "WARN"},
        },
        "hf_cache": "/scratch/me/hf",
        "offline": True,
    }


def rendered_sbatch(config, sweep_dir: Path, stage: str, tasks: int, dependency) -> str:
    """The script submitit would hand to sbatch for one stage's array, without submitting."""
    folder = SweepFolder(sweep_dir)
    executor = submitit.SlurmExecutor(
        folder=folder.jobs_dir / stage / "%j", python=slurm.python_command(config, folder)
    )
    executor.update_parameters(
        setup=slurm.task_setup_lines(config),
        **slurm.sbatch_parameters(stage, config, config.resources.for_stage(stage), dependency),
    )
    executor.parameters["map_count"] = tasks
    return executor._make_submission_file_text(executor._submitit_command_str, "uid")


@pytest.mark.parametrize(
    ("stage", "tasks", "dependency"), [("train", 2, "afterany:1001"), ("prepare", 1, None)]
)
def test_containerized_sbatch_scripts_match_the_stored_copies(
    stage, tasks, dependency, tmp_path, monkeypatch
):
    """Set BABELSUM_UPDATE_EXPECTED=1 to rewrite tests/orchestration/sbatch/ after a deliberate change."""
    fake_srun = tmp_path / "bin" / "srun"  # submitit's SlurmExecutor looks for srun; never run
    fake_srun.parent.mkdir()
    fake_srun.write_text("#!/bin/sh\nexit 1\n")
    fake_srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_srun.parent}:{os.environ['PATH']}")
    config = validate_config(yaml.safe_load(yaml.safe_dump(paper_like_config())))
    text = rendered_sbatch(config, Path("/scratch/me/sweeps/paper"), stage, tasks, dependency)
    expected = EXPECTED / f"{stage}_container.sbatch"
    if os.environ.get("BABELSUM_UPDATE_EXPECTED") == "1":
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(text)
    assert text == expected.read_text()
