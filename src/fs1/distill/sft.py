"""SFT export: labelled traces -> a Hugging Face dataset (Parquet + dataset card) in the published fs1 columns.

Layout of ``DIR`` (the same as the Hub's for two configs, so ``datasets.load_dataset(DIR)`` works)::

    DIR/README.md                          dataset card; its YAML ``configs`` name the two sets below
    DIR/data/train-<digest>.parquet        config "default", split "train": label == 1, valid == 1, length <= max
    DIR/full/train-<digest>.parquet        config "full", split "train": every trace, same columns
    DIR/leakage.json                       training questions that duplicate benchmark questions (with --benchmark)
    DIR/stats.json                         counts behind the card

``text`` is the s1 chat text: user turn = the bare question, assistant turn = ``s1_assistant_text(reasoning,
attempt)``, rendered by the student's chat template (its default system prompt included, e.g. Qwen's).
``total_length`` counts the tokens of ``text``, ``think_length`` of the reasoning, ``answer_length`` of the attempt,
all with the student's tokenizer. The directory is built next to ``DIR`` and renamed into place when complete.
``<digest>`` (of the file's bytes) keeps ``datasets``' cache from serving an older build of a same-named folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fs1.distill.card import render_card
from fs1.distill.labelling import label_trace
from fs1.distill.stats import DEFAULT_MAX_LENGTH, SftStats
from fs1.errors import ConfigError
from fs1.io import InputError, new_dir_mode, read_jsonl_rows
from fs1.prompts import s1_assistant_text
from fs1.records import RecordError, Trace

COLUMNS = (
    "id", "question", "kg_path", "model", "reasoning_trace", "model_attempt", "valid", "gold_answer", "label",
    "text", "total_length", "think_length", "answer_length",
)  # fmt: skip
FILTERED_CONFIG, FULL_CONFIG = "default", "full"
CONFIG_DIRS = {FILTERED_CONFIG: "data", FULL_CONFIG: "full"}
SPLIT = "train"
DIGEST_CHARS = 16


def load_traces(files: Iterable[str | Path]) -> list[Trace]:
    """Read trace files; traces without a label are labelled now. Errors name the file and line."""
    traces = []
    seen: dict[tuple[str, int, str, str], str] = {}
    for path in files:
        for lineno, row in read_jsonl_rows(path):
            try:
                trace = Trace.from_dict(row)
                if trace.label is None or trace.valid is None:
                    label_trace(trace)
            except (RecordError, TypeError, ValueError) as exc:
                raise InputError(f"{path}:{lineno}: {exc}") from None
            # One trace per (question, sample) of a teacher and mode: a repeat would count twice in training.
            key = (trace.id, trace.sample, trace.mode, trace.model)
            if key in seen:
                raise InputError(
                    f"{path}:{lineno}: duplicate trace for question {trace.id!r} sample {trace.sample} "
                    f"(mode {trace.mode}, teacher {trace.model}); first at {seen[key]}"
                )
            seen[key] = f"{path}:{lineno}"
            traces.append(trace)
    return traces


def load_student_tokenizer(student: str) -> Any:
    """The student's tokenizer (short names such as ``smollm2-135m`` resolve to the embedded model)."""
    from transformers import AutoTokenizer

    from fs1.backends.embedded import resolve_for_transformers

    tokenizer = AutoTokenizer.from_pretrained(resolve_for_transformers(student))
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"student {student!r}: its tokenizer has no chat template (an instruct model is needed)"
        )
    return tokenizer


def chat_messages(question: str, reasoning_trace: str, model_attempt: str) -> list[dict[str, str]]:
    """The two turns of an SFT example: the bare question, and the s1 think/answer assistant turn."""
    return [
        {"role": "user", "content": question},
        {"role": "assistant", "content": s1_assistant_text(reasoning_trace, model_attempt)},
    ]


def render_text(tokenizer: Any, question: str, reasoning_trace: str, model_attempt: str) -> str:
    """The s1 chat text of one example under the student's chat template."""
    return tokenizer.apply_chat_template(
        chat_messages(question, reasoning_trace, model_attempt), tokenize=False
    )


def _token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(x) for x in ids]


def trace_rows(traces: list[Trace], tokenizer: Any, show_progress: bool = True) -> list[dict[str, Any]]:
    """One row per trace in the published columns, texts rendered and lengths counted (in chunks, with progress)."""
    from rich.console import Console
    from rich.progress import Progress

    rows: list[dict[str, Any]] = []
    chunk = 256
    with Progress(console=Console(stderr=True), disable=not show_progress) as progress:
        task = progress.add_task("render + tokenise", total=len(traces))
        for start in range(0, len(traces), chunk):
            part = traces[start : start + chunk]
            texts = [render_text(tokenizer, t.question, t.reasoning_trace, t.model_attempt) for t in part]
            totals = _token_counts(tokenizer, texts)
            thinks = _token_counts(tokenizer, [t.reasoning_trace for t in part])
            answers = _token_counts(tokenizer, [t.model_attempt for t in part])
            for trace, text, total, think, answer in zip(part, texts, totals, thinks, answers, strict=True):
                rows.append(
                    {"id": trace.id, "question": trace.question, "kg_path": trace.kg_path, "model": trace.model,
                     "reasoning_trace": trace.reasoning_trace, "model_attempt": trace.model_attempt,
                     "valid": int(trace.valid or 0), "gold_answer": list(trace.gold_answer),
                     "label": int(trace.label or 0), "text": text, "total_length": total, "think_length": think,
                     "answer_length": answer}
                )  # fmt: skip
            progress.advance(task, len(part))
    return rows


def keep_for_training(row: dict[str, Any], max_length: int) -> bool:
    """The SFT filter of the paper: correct, well-formed, and no longer than ``max_length`` tokens."""
    return row["label"] == 1 and row["valid"] == 1 and row["total_length"] <= max_length


def features() -> Any:
    """The ``datasets`` schema of the published columns."""
    from datasets import Features, List, Value

    kinds = {"valid": "int64", "label": "int64", "total_length": "int64", "think_length": "int64"}
    kinds["answer_length"] = "int64"
    spec = {name: (List(Value("string")) if name == "gold_answer" else Value(kinds.get(name, "string"))) for name in
            COLUMNS}  # fmt: skip
    return Features(spec)


def write_parquet(rows: list[dict[str, Any]], root: Path, folder: str) -> str:
    """Write rows in the published columns to ``root/folder/train-<digest>.parquet``; returns that relative path.

    The file name carries a digest of its bytes because ``datasets`` caches a local dataset under its folder name and
    data-file patterns only: a rebuilt ``DIR`` (or another ``DIR`` of the same name) with fixed file names would be
    served from the stale cache. An empty set still gets its schema.
    """
    import hashlib

    from datasets import Dataset
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    (root / folder).mkdir(parents=True, exist_ok=True)
    scratch = root / folder / f".{SPLIT}.parquet.tmp"
    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()  # a bar per tiny write is noise next to our own progress output
    try:
        Dataset.from_dict(columns, features=features()).to_parquet(str(scratch))
    finally:
        if not was_disabled:
            enable_progress_bars()
    digest = hashlib.sha256(scratch.read_bytes()).hexdigest()[:DIGEST_CHARS]
    relative = f"{folder}/{SPLIT}-{digest}.parquet"
    scratch.rename(root / relative)
    return relative


def publish_dir(build: Path, target: Path, overwrite: bool) -> None:
    """Move a finished build directory to ``target``; an existing one is replaced only with ``overwrite``."""
    if target.exists():
        if not overwrite:
            shutil.rmtree(build)
            raise InputError(f"{target}: already exists; pass --overwrite to replace it")
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        target.rename(old / target.name)
        build.rename(target)
        shutil.rmtree(old)
    else:
        build.rename(target)


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build_sft_dataset(
    trace_files: Sequence[str | Path],
    student: str,
    out_dir: str | Path,
    *,
    max_length: int = DEFAULT_MAX_LENGTH,
    benchmark: list[Any] | None = None,
    embedding: bool = False,
    threshold: float | None = None,
    drop_leaked: bool = False,
    overwrite: bool = False,
    show_progress: bool = True,
) -> SftStats:
    """Export traces to ``out_dir`` (layout in the module docstring); ``benchmark``: questions for the leakage check."""
    from fs1.distill.leakage import EMBED_THRESHOLD, find_leaks

    if max_length <= 0:
        raise ConfigError(f"--max-length must be positive, got {max_length}")
    traces = load_traces(trace_files)
    if not traces:
        raise InputError(f"no traces in {', '.join(map(str, trace_files))}")
    tokenizer = load_student_tokenizer(student)
    rows = trace_rows(traces, tokenizer, show_progress)
    leaks = []
    if benchmark is not None:
        pairs = [(row["id"], row["question"]) for row in rows]
        leaks = find_leaks(pairs, benchmark, embedding=embedding, threshold=threshold or EMBED_THRESHOLD)
    leaked_questions = {leak.train_question for leak in leaks}
    kept = [row for row in rows if keep_for_training(row, max_length)]
    stats = _stats(traces, rows, kept, max_length, student, trace_files)
    stats.leaks = len(leaks)
    if drop_leaked:
        stats.dropped_leaked = sum(row["question"] in leaked_questions for row in kept)
        kept = [row for row in kept if row["question"] not in leaked_questions]
    stats.kept = len(kept)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.build-", dir=out_dir.parent))
    try:
        build.chmod(new_dir_mode())  # mkdtemp makes it 0700; a shared results directory must stay readable
        files = {
            FILTERED_CONFIG: write_parquet(kept, build, CONFIG_DIRS[FILTERED_CONFIG]),
            FULL_CONFIG: write_parquet(rows, build, CONFIG_DIRS[FULL_CONFIG]),
        }
        if benchmark is not None:
            write_json(build / "leakage.json", [leak.to_dict() for leak in leaks])
        write_json(build / "stats.json", stats.to_dict())
        (build / "README.md").write_text(
            render_card(stats, files, leaks if benchmark is not None else None), "utf-8"
        )
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    publish_dir(build, out_dir, overwrite)
    return stats


def _stats(
    traces: list[Trace], rows: list[dict[str, Any]], kept: list[dict[str, Any]], max_length: int, student: str,
    files: Sequence[str | Path],
) -> SftStats:  # fmt: skip
    return SftStats(
        traces=len(rows),
        correct=sum(row["label"] == 1 for row in rows),
        valid=sum(row["valid"] == 1 for row in rows),
        too_long=sum(row["total_length"] > max_length for row in rows),
        kept=len(kept),
        max_length=max_length,
        student=student,
        sources=[str(f) for f in files],
        teachers=sorted({t.model for t in traces}),
        modes=sorted({t.mode for t in traces}),
    )


def push_to_hub(out_dir: str | Path, repo_id: str, *, private: bool = True) -> str:
    """Upload the dataset directory as it is (Parquet files, card with its configs, leakage report) to a Hub dataset
    repo, creating it if needed; the token comes from the environment (``HF_TOKEN``) or the local login."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    commit = api.upload_folder(
        folder_path=str(out_dir), repo_id=repo_id, repo_type="dataset", commit_message="fs1 build-sft"
    )
    return str(getattr(commit, "commit_url", repo_id))
