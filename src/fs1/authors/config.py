"""The settings of ``fs1 import`` (a light module: the CLI binds it without importing the importer)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fs1.vocab import DEFAULT_KS, ExtractMode

# "auto" or one of fs1.authors.formats.FORMATS (a test holds the two together).
ImportFormat = Literal["auto", "outputs", "budget-forcing", "batch", "judge-prompts", "judge-outputs"]


class ImportConfig(BaseModel):
    """How ``fs1 import`` reads the authors' files and scores what it imports."""

    model_config = ConfigDict(extra="forbid")

    format: ImportFormat = Field(
        "auto",
        description="Shape of the files: auto (told from each file's first line), outputs (<model_dir>/outputs.jsonl),"
        " budget-forcing (budget_force_<model>_<budget>.jsonl), batch (vLLM batch-runner output), judge-prompts, "
        "judge-outputs.",
    )
    strict: bool = Field(
        False, description="Stop at a question ID the benchmark lacks (else: count and list it)."
    )
    extract: ExtractMode = Field(
        "fs1",
        description="Extraction the imported predictions are scored with: fs1, or authors (the paper's rule).",
    )
    k: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: list(DEFAULT_KS),
        description="Comma-separated k for pass@k and maj@k; k above the samples per question are left out.",
    )
    seed: int = Field(0, description="Seed of the bootstrap intervals of the summaries.")
    workers: int = Field(1, ge=0, description="Processes that score each imported run; 0: one per core.")
