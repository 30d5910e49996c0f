"""babelsum: multilingual and cross-lingual summarization studies on SLURM clusters."""

__version__ = "0.1.0"
