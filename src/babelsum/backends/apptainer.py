"""Tasks inside an Apptainer image: the `python` command submitit runs, and checks at submission.

submitit runs each array task as `srun ... <python> -u -m submitit.core._submit <job folder>`.
With a container, <python> is `apptainer exec --nv --bind ... IMAGE python`, so:
- the image must hold babelsum and submitit (containers/babelsum.def installs both);
- the sweep folder, which holds submitit's job folders, is bound, and so is the model cache;
- Apptainer passes the host environment in (SLURM_*, MLFLOW_TRACKING_URI, HF_HUB_OFFLINE), but
  an image's %environment wins over inherited values: HF_HUB_CACHE goes in with `--env`.

`launch` itself runs outside the container, on the login node: submitting needs `sbatch`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from babelsum.config import ContainerConfig, SweepConfig
from babelsum.errors import ContainerError

REMOTE_IMAGES = ("docker://", "docker-archive:", "oras://", "library://", "shub://", "http")
PROBE = "import babelsum, submitit"


def image_path(container: ContainerConfig) -> Path:
    # absolute: jobs start in another folder than `launch`
    return Path(os.path.abspath(os.path.expanduser(container.image)))


def _host_path(path: str | Path) -> str:
    return os.path.abspath(os.path.expanduser(str(path)))


def container_binds(
    container: ContainerConfig,
    sweep_dir: Path,
    hf_cache: str | None,
    extra_binds: Sequence[str] = (),
) -> list[str]:
    """Bind specs (`src[:dst[:opts]]`): the sweep folder, the cache, the config's, the extras."""
    binds = [_host_path(sweep_dir)]
    if hf_cache:
        binds.append(_host_path(hf_cache))
    binds += [*container.binds, *extra_binds]
    return list(dict.fromkeys(binds))  # once each, in order


def config_binds(config: SweepConfig, config_dir: Path | None = None) -> list[str]:
    """Host folders the config reads from (local models, data files, recordings, prompts,
    DeepSpeed configs): bound so that tasks see them inside the container too. Prompt folders
    are relative to `config_dir`, the config file's folder, when it is known."""
    paths = [spec.path for spec in config.models.values()]
    if config.data.files is not None:
        paths += [str(Path(p).parent) for p in config.data.files.paths]
    if config.data.hf is not None:
        paths.append(config.data.hf.name)
    paths.append(config.data.wikipedia.recording or "")
    prompts = [config.prompts.teacher, config.prompts.student]
    prompts += [config.teacher.prompt_dir if config.teacher else None]
    prompts += [spec.prompts for spec in config.models.values()]
    paths += [  # a shipped set's name is no folder here: it is left out below
        str(config_dir / p) if config_dir and not Path(p).expanduser().is_absolute() else p
        for p in prompts
        if p
    ]
    paths += [str(Path(m.deepspeed).parent) for m in config.train.methods if m.deepspeed]
    found = [_host_path(p) for p in paths if p and Path(_host_path(p)).exists()]
    folders = [p if Path(p).is_dir() else str(Path(p).parent) for p in found]
    return list(dict.fromkeys(folders))


def python_command(
    container: ContainerConfig,
    sweep_dir: Path,
    hf_cache: str | None,
    extra_binds: Sequence[str] = (),
) -> str:
    """The shell words submitit runs instead of `python` (its `python=` option)."""
    words = [container.apptainer, "exec"]
    if container.nv:
        words.append("--nv")
    words += container.options
    for bind in container_binds(container, sweep_dir, hf_cache, extra_binds):
        words += ["--bind", bind]
    env = dict(container.env)
    if hf_cache:
        env["HF_HUB_CACHE"] = _host_path(hf_cache)
    for name, value in sorted(env.items()):
        words += ["--env", f"{name}={value}"]
    words += [str(image_path(container)), "python"]
    return shlex.join(words)


def check_container(container: ContainerConfig) -> None:
    """Raise ContainerError, naming the culprit and the fix, if tasks could not start in it."""
    if shutil.which(container.apptainer) is None:
        raise ContainerError(
            f"`{container.apptainer}` is not on PATH: load it (e.g. `module load apptainer`) "
            "or set container.apptainer to its full path"
        )
    if container.image.startswith(REMOTE_IMAGES):
        raise ContainerError(
            f"container.image must be a local image file, not {container.image}: every array "
            f"task would fetch it; run `apptainer pull babelsum.sif {container.image}` once and "
            "set container.image to babelsum.sif"
        )
    image = image_path(container)
    if not image.exists():
        raise ContainerError(
            f"container image {image} does not exist; build it with "
            f"`containers/build.sh {image}` (containers/README.md) or fix container.image"
        )
    for bind in container.binds:
        source = bind.split(":")[0]
        if not Path(_host_path(source)).exists():
            raise ContainerError(f"container.binds: {source} does not exist on this machine")
    if container.probe:
        _probe(container, image)


def _probe(container: ContainerConfig, image: Path) -> None:
    """Run the image once: a task that cannot import babelsum or submitit fails with no log."""
    command = [container.apptainer, "exec", str(image), "python", "-c", PROBE]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise ContainerError(
            f"`{shlex.join(command)}` took over 10 minutes; set container.probe: false to skip "
            "this check"
        ) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise ContainerError(
            f"{image} cannot run `python -c {PROBE!r}`: {lines[-1]}; rebuild it with "
            "containers/build.sh (or set container.probe: false if this node cannot run it)"
        )
