"""Every error a user can cause, under one base: `UserError`.

`launch` catches UserError once and prints its lines (`error: ...`), exit code 2, no
traceback. The runner records a UserError's message as the task's failure reason, without a
traceback. Anything else is a bug and keeps its traceback.

Raise these where the problem enters (a config field, a file, a record, a model name) with
one line that names the culprit and what is allowed.
"""

from __future__ import annotations


class UserError(Exception):
    """Anything the user can fix; `lines()` is what `launch` prints, one `error:` line each."""

    def lines(self) -> list[str]:
        return str(self).splitlines() or [type(self).__name__]


class ConfigError(UserError):
    """A config the user must fix; `problems` holds one message per problem, all at once.

    `sources` names, per problem, the file (or "command line") its value came from; by
    default every problem comes from `source`."""

    def __init__(
        self, problems: list[str], source: str = "config", sources: list[str] | None = None
    ):
        self.problems = list(problems)
        self.source = source
        self.sources = list(sources) if sources else [source] * len(self.problems)
        super().__init__(
            "\n".join(f"{s}: {line}" for s, line in zip(self.sources, self.problems, strict=True))
        )


# ---------------------------------------------------------------- the login node


class SweepError(UserError):
    """A sweep folder or a command's arguments that cannot be used."""


class SweepBusy(SweepError):
    """Another `launch` holds the sweep's lock (submitting, or running a local sweep)."""


class SubmitError(UserError):
    """Submission could not start (no sbatch, bad container, sbatch refused)."""


class ContainerError(SubmitError):
    """The container cannot run tasks (missing image or apptainer)."""


class TrackingError(UserError):
    """A tracking store that cannot be used for what was asked."""


class PrefetchError(UserError):
    """Some models or datasets could not be downloaded (one line each)."""


class ScoreInputError(UserError):
    """`launch score` files that cannot be scored (missing, empty, different lengths)."""


class MergeError(UserError):
    """An adapter that cannot be merged, or an output folder that is in use."""


class PushError(UserError):
    """`launch push`: not a train task's output, a bad repo id, no token, the Hub refused."""


# ---------------------------------------------------------------- inside a task


class StageError(UserError):
    """A task failure with a reason the researcher can act on (bad data, NaN loss, ...)."""


class SourceError(StageError):
    """A data source that cannot be read (missing file, unknown column, bad recording)."""


class SplitError(StageError):
    """Split sizes the data cannot satisfy; the message names the config field to change."""


class TeacherOutputError(StageError):
    """Teacher shard outputs that do not fit the prepared articles."""


class ModelLoadError(StageError):
    """A model or tokenizer that cannot be loaded as configured."""


class TargetModuleError(ModelLoadError):
    """LoRA target modules the model does not have."""


class PromptError(StageError):
    """A prompt template that is missing or leaves no room for the article."""
