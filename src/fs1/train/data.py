"""SFT data for `fs1 train`: load it, check its columns, filter it, turn each row into prompt/completion.

Input is what ``fs1 build-sft`` writes (a dataset directory: Parquet + card, columns ``id, question, kg_path, model,
reasoning_trace, model_attempt, valid, gold_answer, label, text, ...``), a single .jsonl/.json/.parquet/.csv file, or
a hub id. The filtering itself is build-sft's job; here the trainer refuses data that cannot have been filtered
(no ``label``/``valid`` columns) unless told otherwise, keeps only ``label == 1, valid == 1`` rows (with the filter off:
every row with an answer, the others counted as ``unanswered``), and drops examples longer than ``max_length``
tokens under the student's tokenizer (docs/protocol.md §1). Every error names the source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fs1.io import InputError, parse_json_document, read_jsonl_rows
from fs1.prompts import s1_assistant_text
from fs1.train.chat import ChatFormat

TEXT_COLUMNS = ("question", "reasoning_trace", "model_attempt")
FILTER_COLUMNS = ("label", "valid")
_FILE_BUILDERS = {".parquet": "parquet", ".csv": "csv"}
_JSON_SUFFIXES = (".jsonl", ".json")


@dataclass
class SFTRows:
    """Raw rows of the SFT data and how to name each in an error (``file:line`` or ``file row i``)."""

    source: str
    rows: list[dict[str, Any]]
    columns: list[str]
    locate: Callable[[int], str]


@dataclass
class PreparedData:
    """Prompt/completion examples ready for TRL, and what filtering did."""

    source: str
    examples: list[dict[str, Any]]
    total_rows: int
    dropped: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def completion_lengths(self) -> list[int]:
        return [e["completion_tokens"] for e in self.examples]


def load_rows(source: str) -> SFTRows:
    """Read the SFT data from a dataset directory, a single file, or a hub id."""
    path = Path(source)
    if path.is_dir():
        return _from_dataset(source, _load_dir(path))
    if path.suffix in _JSON_SUFFIXES and path.exists():
        return _load_json_file(path)
    if path.suffix in _FILE_BUILDERS:
        if not path.exists():
            raise InputError(f"{path}: no such file")
        return _from_dataset(
            source, _load_with_datasets(source, _FILE_BUILDERS[path.suffix], data_files=str(path))
        )
    if path.suffix or "/" not in source or source.startswith((".", "/")):
        raise InputError(f"{source}: no such file or directory (nor a hub dataset id like 'org/name')")
    return _from_dataset(source, _load_with_datasets(source, source))


def _load_json_file(path: Path) -> SFTRows:
    """JSONL (or JSON lines under .json) read with fs1.io, so a malformed line is named ``file:line``."""
    linenos, rows = [], []
    try:
        for lineno, row in read_jsonl_rows(path):
            linenos.append(lineno)
            rows.append(row)
    except InputError:
        if path.suffix != ".json":
            raise
        data = parse_json_document(path.read_text(encoding="utf-8"), path)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError(f"{path}: expected a JSON list of objects or one object per line") from None
        rows, linenos = data, []
    columns = sorted({k for row in rows for k in row})
    if linenos:
        return SFTRows(str(path), rows, columns, lambda i: f"{path}:{linenos[i]}")
    return SFTRows(str(path), rows, columns, lambda i: f"{path} item {i}")


def _load_dir(path: Path) -> Any:
    """A ``save_to_disk`` directory, or a directory of Parquet/JSON files with a dataset card (build-sft)."""
    if (path / "dataset_info.json").exists() and (path / "state.json").exists():
        from datasets import load_from_disk

        return load_from_disk(str(path))
    return _load_with_datasets(str(path), str(path))


def _load_with_datasets(source: str, name: str, **kwargs: Any) -> Any:
    """``datasets.load_dataset`` with errors as one line naming the source, rows read into memory.

    Local data is built in a throw-away cache: datasets keys its cache of local files on their paths, so a
    directory rewritten in place (or a new one at a reused temporary path) could otherwise serve stale rows.
    """
    import tempfile

    from datasets import load_dataset

    local = Path(name).exists() or "data_files" in kwargs
    with tempfile.TemporaryDirectory(prefix="fs1-train-data-") as cache:
        try:
            dataset = load_dataset(name, cache_dir=cache if local else None, **kwargs)
            return _in_memory(dataset)
        except Exception as exc:  # datasets raises many types; the user needs one line naming the source
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{source}: cannot load the SFT data ({first})") from None


def _in_memory(dataset: Any) -> Any:
    """Rows of every split as plain lists (the on-disk cache they came from is about to be deleted)."""
    from datasets import Dataset

    if isinstance(dataset, dict):
        return {split: Dataset.from_list(part.to_list()) for split, part in dataset.items()}
    return Dataset.from_list(dataset.to_list())


def _from_dataset(source: str, dataset: Any) -> SFTRows:
    """Pick the train split of a DatasetDict (or its only split) and list its rows."""
    if isinstance(dataset, dict):  # a DatasetDict
        splits = list(dataset.keys())
        if "train" in splits:
            dataset = dataset["train"]
        elif len(splits) == 1:
            dataset = dataset[splits[0]]
        else:
            raise InputError(f"{source}: several splits ({', '.join(splits)}) and none named 'train'")
    rows = dataset.to_list()
    return SFTRows(source, rows, list(dataset.column_names), lambda i: f"{source} row {i}")


def check_columns(data: SFTRows, *, filter_check: bool = True) -> None:
    """Refuse data that lacks the text columns, or (unless ``filter_check`` is off) the label/valid columns."""
    if not data.rows:
        raise InputError(f"{data.source}: the SFT data is empty")
    missing = [c for c in TEXT_COLUMNS if c not in data.columns]
    if missing:
        raise InputError(
            f"{data.source}: missing column(s) {', '.join(missing)} (expected fs1 build-sft output)"
        )
    if filter_check:
        missing = [c for c in FILTER_COLUMNS if c not in data.columns]
        if missing:
            raise InputError(
                f"{data.source}: missing column(s) {', '.join(missing)}, so the traces cannot be known to be "
                "correct and well-formed; pass --no-filter-check to train on them anyway"
            )


def _is_one(value: Any) -> bool:
    """label/valid are 1 for a kept trace; JSON may carry them as bools, floats or strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    try:
        return int(float(value)) == 1
    except (TypeError, ValueError):
        return False


def unanswered(row: dict[str, Any]) -> bool:
    """A trace whose teacher gave no final answer (no ``model_attempt``): with the filter off it is skipped and
    counted, by ``fs1 train --no-filter-check`` and the run's train stage alike (with the filter on, its label and
    valid flags leave it out already)."""
    value = row.get("model_attempt")
    return not isinstance(value, str) or not value.strip()


def _text(data: SFTRows, index: int, row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{data.locate(index)}: column {column} must be a non-empty string, got {value!r}")
    return value


def prepare(
    data: SFTRows, chat: ChatFormat, *, max_length: int, filter_check: bool = True, progress: bool = True
) -> PreparedData:
    """Filter rows and convert each kept one to ``{"prompt", "completion"}`` plus its token counts."""
    check_columns(data, filter_check=filter_check)
    dropped = {"label": 0, "valid": 0, "unanswered": 0, "too_long": 0}
    out = PreparedData(source=data.source, examples=[], total_rows=len(data.rows), dropped=dropped)
    for index, row in enumerate(_progress(data.rows, "Preparing SFT examples", enabled=progress)):
        if filter_check and not _is_one(row.get("label")):
            dropped["label"] += 1
            continue
        if filter_check and not _is_one(row.get("valid")):
            dropped["valid"] += 1
            continue
        if not filter_check and unanswered(row):
            dropped["unanswered"] += 1
            continue
        question = _text(data, index, row, "question")
        assistant = s1_assistant_text(
            _text(data, index, row, "reasoning_trace"), _text(data, index, row, "model_attempt")
        )
        prompt, completion = chat.prompt(question), chat.completion(assistant)
        n_prompt, n_completion = chat.split_lengths(prompt, completion)
        if n_prompt + n_completion > max_length:
            dropped["too_long"] += 1
            continue
        out.examples.append(
            {
                "id": str(row.get("id", index)),
                "prompt": prompt,
                "completion": completion,
                "prompt_tokens": n_prompt,
                "completion_tokens": n_completion,
            }
        )
        out.prompt_tokens += n_prompt
        out.completion_tokens += n_completion
    if not out.examples:
        reasons = ", ".join(f"{n} dropped for {why}" for why, n in dropped.items() if n)
        raise InputError(
            f"{data.source}: no training examples left after filtering ({len(data.rows)} rows: {reasons}; "
            f"max_length {max_length} tokens)"
        )
    return out


def _progress(rows: list[Any], label: str, *, enabled: bool) -> Any:
    """A rich progress bar for long data sets; plain iteration for short ones or when disabled."""
    if not enabled or len(rows) < 500:
        return rows
    from rich.progress import track

    return track(rows, description=label, transient=True)


def to_dataset(prepared: PreparedData) -> Any:
    """The examples as a ``datasets.Dataset`` with the two columns TRL's prompt/completion path reads."""
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": [e["prompt"] for e in prepared.examples],
            "completion": [e["completion"] for e in prepared.examples],
        }
    )
