"""Prompt sets: the folder of Jinja templates a teacher or a student model reads.

A config chooses them (`prompts: {teacher: SET, student: SET}`, or `models.X.prompts`): a
shipped set's name (a folder under `sets/`) or a folder of the researcher's own, relative to
the config file's folder. A set holds its templates itself, or in `teacher/` and `student/`
subfolders for prompts that differ by role; files both roles share stay at the set's top.
sets/README.md says what a template may contain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from babelsum.errors import PromptError

if TYPE_CHECKING:
    from babelsum.config import SweepConfig

SETS = Path(__file__).parent / "sets"
DEFAULT = "default"
Role = Literal["teacher", "student"]
# the config file's folder, or a function giving it: a stage reads it only for a folder
ConfigDir = Path | Callable[[], Path | None] | None


@dataclass(frozen=True)
class PromptSet:
    """Where a role's templates are looked up: each file name in `folders`, in order."""

    name: str  # as the config gave it: "paper", or a folder
    folders: tuple[Path, ...]

    @classmethod
    def of_folder(cls, folder: Path | str) -> PromptSet:
        """A set that is one folder of templates, named by its path."""
        return cls(str(folder), (Path(folder),))

    def find(self, filename: str) -> Path | None:
        return next((f / filename for f in self.folders if (f / filename).is_file()), None)

    def shown(self) -> str:
        where = ", ".join(str(f) for f in self.folders)
        return f"prompt set {self.name!r} ({where})"


def shipped_sets() -> list[str]:
    return sorted(f.name for f in SETS.iterdir() if f.is_dir() and not f.name.startswith("_"))


def prompt_set(
    choice: str | None, role: Role, config_dir: ConfigDir = None, where: str = "prompts"
) -> PromptSet:
    """The set `choice` names for `role`: a shipped set (a bare name), else a folder (relative
    to `config_dir`, the config file's folder, or the working folder when there is none)."""
    name = choice or DEFAULT
    if "/" not in name and (SETS / name).is_dir():
        root = SETS / name
    else:
        root = Path(name).expanduser()
        if not root.is_absolute():
            base = config_dir() if callable(config_dir) else config_dir
            root = (base or Path.cwd()) / root
        if not root.is_dir():
            raise PromptError(
                f"{where}: {name!r} is neither a shipped prompt set "
                f"({', '.join(shipped_sets())}) nor a folder (looked for {root})"
            )
    own = root / role
    return PromptSet(name, (own, root) if own.is_dir() else (root,))


def chosen_prompts(
    config: SweepConfig, role: Role, model: str | None, config_dir: ConfigDir
) -> PromptSet:
    """The prompt set the config chooses for `model` as teacher or student."""
    choice, where = config.prompt_choice(role, model)
    return prompt_set(choice, role, config_dir, where)


DEFAULT_SET = PromptSet(DEFAULT, (SETS / DEFAULT,))
