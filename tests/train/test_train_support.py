"""Builders shared by the `fs1 train` tests (no tests here): SFT rows and files in fs1 build-sft's columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fs1.prompts import s1_assistant_text


def sft_row(i: int, **overrides: Any) -> dict[str, Any]:
    """One row in fs1 build-sft's columns (correct and valid unless overridden)."""
    trace = f"The river of town {i} is River{i}. The path confirms River{i}."
    row = {
        "id": f"q{i}",
        "question": f"Which river flows through town {i}?",
        "kg_path": f"town {i}, river, River{i}",
        "model": "teacher",
        "reasoning_trace": trace,
        "model_attempt": f"\\boxed{{River{i}}}",
        "valid": 1,
        "gold_answer": [f"River{i}"],
        "label": 1,
        "text": "",
        "total_length": 0,
        "think_length": 0,
        "answer_length": 0,
    }
    row.update(overrides)
    return row


def assistant_text(row: dict[str, Any]) -> str:
    return s1_assistant_text(row["reasoning_trace"], row["model_attempt"])


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_sft_dir(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A Hugging Face dataset directory like build-sft's: Parquet shard + dataset card."""
    from datasets import Dataset

    path.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows).to_parquet(str(path / "train-00000-of-00001.parquet"))
    (path / "README.md").write_text(
        "---\nlicense: apache-2.0\n---\n# fs1 SFT traces (test)\n", encoding="utf-8"
    )
    return path


def write_traces(path: Path, n: int, *, wrong: int = 0) -> Path:
    """A TRACES.jsonl of ``fs1 distill`` (Trace records, labelled): ``n`` correct ones then ``wrong`` incorrect."""
    rows = []
    for i in range(n + wrong):
        row = sft_row(i)
        rows.append(
            {
                "id": row["id"],
                "question": row["question"],
                "mode": "fs1",
                "model": "teacher",
                "reasoning_trace": row["reasoning_trace"],
                "model_attempt": row["model_attempt"],
                "kg_path": row["kg_path"],
                "gold_answer": row["gold_answer"],
                "label": 1 if i < n else 0,
                "valid": 1,
            }
        )
    return write_jsonl(path, rows)
