"""The distillation loop: ask a teacher for reasoning traces in rt or fs1 mode, label them, append them to JSONL.

Work unit = one (question, sample). Units run with a bounded number of concurrent requests (remote teachers) or
one at a time (local models, which are not thread-safe); each finished trace is appended and fsynced at once, so a
``kill -9`` loses at most the requests in flight, and ``resume`` asks only for the (question, sample) pairs not yet
in the output: every pair ends up there exactly once. Transport retries (429 with ``Retry-After``, 5xx) belong to
the backend; a unit that still fails is written to ``<out>.errors.jsonl`` and the run goes on (``on_error="record"``,
the default; a resumed run retries it) or stops (``on_error="abort"``).

Side files next to ``OUT.jsonl``: ``OUT.errors.jsonl`` (failed units) and ``OUT.summary.json`` (counts, tokens,
cost, label rates of the whole file).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from fs1.backends import Backend, BackendError, Completion, backend_info, load_backend
from fs1.backends.embedded import is_embedded
from fs1.data.common import check_unique_ids
from fs1.distill.config import WEAK_TEACHER_NOTE, DistillConfig, DistillSummary
from fs1.distill.labelling import label_trace
from fs1.distill.teacher import TeacherPrompt, split_reply, teacher_prompt
from fs1.errors import ConfigError
from fs1.io import (
    InputError,
    JsonlAppender,
    check_resume_config,
    completed_keys,
    read_jsonl_rows,
    require_regular_file,
    write_json_atomic,
)
from fs1.records import PathRecord, Question, Trace
from fs1.redact import redact_text
from fs1.scoring.match import scoring_gold
from fs1.seeding import derive_seed
from fs1.stage import not_described

__all__ = ["DistillConfig", "DistillSummary", "open_teacher", "run_distillation"]

# Why a run records no engine: a teacher is opened (a local model loaded, a server asked) only for units to ask.
NOTHING_ASKED = "no teacher call: every planned trace was already in the file"


@dataclass
class Unit:
    """One (question, sample) to ask the teacher."""

    question: Question
    prompt: TeacherPrompt
    sample: int
    seed: int


def open_teacher(config: DistillConfig) -> Backend:
    """Open the teacher the config names (a remote one with the run's server settings, ``teacher_ref``)."""
    return load_backend(config.teacher_ref())


def side_path(out: Path, suffix: str) -> Path:
    """``traces.jsonl`` -> ``traces.errors.jsonl`` / ``traces.summary.json``."""
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def plan_units(
    questions: list[Question],
    config: DistillConfig,
    paths: dict[str, PathRecord] | None,
    done: set[tuple[str, int]],
    summary: DistillSummary,
) -> list[Unit]:
    """The units still to do, in question order; counts skipped/flagged no-path questions into ``summary``."""
    units = []
    for question in questions:
        prompt = teacher_prompt(question, config.mode, paths, config.no_path)
        if prompt is None:
            summary.skipped_no_path += 1
            continue
        if prompt.flags:
            summary.flagged_no_path += 1
        for sample in range(config.samples):
            summary.planned += 1
            if (question.ID, sample) in done:
                summary.already_done += 1
                continue
            units.append(Unit(question, prompt, sample, unit_seed(config.seed, question.ID, sample)))
    return units


def unit_seed(run_seed: int, question_id: str, sample: int) -> int:
    """The teacher's seed for one (question, sample): independent of batching, order and resumes.

    rt and fs1 traces of the same question share it, so the two modes differ by their prompts only."""
    return derive_seed(run_seed, "distill", question_id, sample)


def make_trace(unit: Unit, completion: Completion, config: DistillConfig) -> Trace:
    """Build the labelled trace of one unit from the teacher's completion."""
    reply = split_reply(completion)
    trace = Trace(
        id=unit.question.ID,
        question=unit.question.question,
        mode=config.mode,
        model=config.teacher,
        reasoning_trace=reply.reasoning,
        model_attempt=reply.attempt,
        kg_path=unit.prompt.kg_path,
        sample=unit.sample,
        gold_answer=list(scoring_gold(unit.question)),  # the evaluation's gold; [] for an id-only question
        flags=[*unit.prompt.flags, *reply.flags],
        tokens_in=completion.prompt_tokens,
        tokens_out=completion.tokens,
        meta={"reasoning_source": reply.source, "finish_reason": completion.finish_reason, "seed": unit.seed},
    )
    return label_trace(trace)


def ask_teacher(backend: Backend, batch: list[Unit], config: DistillConfig) -> list[Trace]:
    """One backend call for a batch of units, each with its own seed; one trace per unit."""
    conversations = []
    for unit in batch:
        system = [{"role": "system", "content": config.system_prompt}] if config.system_prompt else []
        conversations.append([*system, {"role": "user", "content": unit.prompt.text}])
    outputs = backend.chat(conversations, config.sampling_params(), seeds=[unit.seed for unit in batch])
    traces = []
    for unit, out in zip(batch, outputs, strict=True):
        completion = out[0]
        if completion.prompt_tokens is None:
            completion = dataclasses.replace(completion, prompt_tokens=_prompt_tokens(backend, unit, config))
        traces.append(make_trace(unit, completion, config))
    return traces


def _prompt_tokens(backend: Backend, unit: Unit, config: DistillConfig) -> int | None:
    """Prompt tokens counted with the teacher's tokenizer, for backends that report none (local models)."""
    try:
        return backend.count_tokens(backend.chat_prompt(unit.prompt.text, system=config.system_prompt))
    except (BackendError, NotImplementedError):
        return None  # no tokenizer at hand: the summary says how many requests lack a count


def _results(
    backend: Backend, batches: list[list[Unit]], config: DistillConfig, workers: int
) -> Iterator[tuple[list[Unit], list[Trace] | BaseException]]:
    """Run the batches, ``workers`` at a time; yield each batch with its traces or its exception as it finishes."""
    if workers == 1:
        for batch in batches:
            try:
                yield batch, ask_teacher(backend, batch, config)
            except Exception as exc:  # one failed unit is recorded; the run goes on (on_error decides)
                yield batch, exc
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fs1-distill")
    try:
        pending: dict[Future[list[Trace]], list[Unit]] = {}
        queue = iter(batches)
        # Submit lazily so no more than ``workers`` requests are ever in flight (the concurrency bound).
        for batch in queue:
            pending[pool.submit(ask_teacher, backend, batch, config)] = batch
            if len(pending) >= workers:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                batch = pending.pop(future)
                failure = future.exception()
                yield batch, (failure if failure is not None else future.result())
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(ask_teacher, backend, nxt, config)] = nxt
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# Settings that change how traces are fetched, not what they are: a resume may change them.
OPERATIONAL_FIELDS = {
    "samples", "concurrency", "batch_size", "on_error", "price_in", "price_out", "max_failures_in_a_row", "stream",
    "api_key_env", "base_url", "options",
}  # fmt: skip


def resume_config(config: DistillConfig) -> dict:
    """What decides a trace's content, kept beside the output so a resume cannot mix teachers or settings."""
    # Resolved sampling, as earlier versions recorded it (concrete values), so their outputs still resume.
    settings = config.resolved().model_dump(exclude=OPERATIONAL_FIELDS)
    settings["teacher"] = settings.pop("model")  # the key outputs of earlier versions carry
    return {"command": "distill", **settings}


def prepare_output(
    out: Path, config: DistillConfig, *, resume: bool, overwrite: bool
) -> set[tuple[str, int]]:
    """Check the output file against the flags; return the (id, sample) keys already done when resuming."""
    if resume:
        require_regular_file(out)
    if not out.exists() or not out.is_file() or out.stat().st_size == 0:
        check_resume_config(out, resume_config(config), resume=resume)
        return set()
    if overwrite:
        out.open("w").close()  # emptied in place: a symlink stays a link, the file keeps its mode
        check_resume_config(out, resume_config(config), resume=False)
        return set()
    if not resume:
        raise InputError(f"{out}: already exists; pass --resume to continue it or --overwrite to start again")
    check_resume_config(out, resume_config(config), resume=True)
    # completed_keys first: it cuts a torn last line (left by kill -9) before anything parses the file.
    done = completed_keys(out, key=lambda row: (str(row["id"]), int(row.get("sample", 0))))
    for lineno, row in read_jsonl_rows(out):
        if row.get("mode") != config.mode or row.get("model") != config.teacher:
            raise InputError(
                f"{out}:{lineno}: made with mode={row.get('mode')!r} teacher={row.get('model')!r}, not "
                f"mode={config.mode!r} teacher={config.teacher!r}; resume needs the same run"
            )
        break
    return done


def run_distillation(
    questions: list[Question],
    config: DistillConfig,
    out: str | Path,
    *,
    paths: dict[str, PathRecord] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    backend: Backend | None = None,
    show_progress: bool = True,
) -> DistillSummary:
    """Distil traces for ``questions`` into ``out`` (append-only JSONL of ``Trace``); returns the run's summary.

    ``paths`` (fs1 mode): path records by question ID. ``backend``: an already loaded teacher (else loaded from the
    config). Raises ``BackendError`` on the first failed unit when ``config.on_error == "abort"``.
    """
    out = Path(out)
    _check_inputs(questions, config, paths)
    name = backend.name if backend is not None else config.resolved_backend()
    summary = DistillSummary(teacher=config.teacher, mode=config.mode, backend=name)
    if is_embedded(config.teacher):
        summary.note = WEAK_TEACHER_NOTE
    done = prepare_output(out, config, resume=resume, overwrite=overwrite)
    units = plan_units(questions, config, paths, done, summary)
    started = time.monotonic()
    summary.engine = not_described(NOTHING_ASKED)
    if units:
        backend = backend or open_teacher(config)
        summary.engine = backend.describe()  # before the run: the engine that makes the traces
        workers = config.concurrency if backend_info(name).remote else 1
        batches = [units[i : i + config.batch_size] for i in range(0, len(units), config.batch_size)]
        _execute(backend, batches, config, workers, out, summary, show_progress)
    summary.wall_s = round(time.monotonic() - started, 3)
    summary.cost = summary.usage.cost(config.price_in, config.price_out)
    count_file(out, summary)
    write_json_atomic(side_path(out, ".summary.json"), summary.to_dict())
    return summary


def _check_inputs(
    questions: list[Question], config: DistillConfig, paths: dict[str, PathRecord] | None
) -> None:
    if config.mode == "fs1" and paths is None:
        raise ConfigError("fs1 mode needs KG paths (--paths PATHS.jsonl, written by `fs1 paths`)")
    check_unique_ids(questions, "the benchmark")  # resume keys are (id, sample)


def _execute(
    backend: Backend,
    batches: list[list[Unit]],
    config: DistillConfig,
    workers: int,
    out: Path,
    summary: DistillSummary,
    show_progress: bool,
) -> None:
    """Run the batches, appending traces (and failures) as they finish, under a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    errors_path = side_path(out, ".errors.jsonl")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with (
        JsonlAppender(out) as traces,
        Progress(*columns, console=Console(stderr=True), disable=not show_progress) as progress,
    ):
        task = progress.add_task(f"distil {config.mode} ({config.teacher})", total=sum(map(len, batches)))
        in_a_row = 0
        for batch, result in _results(backend, batches, config, workers):
            if isinstance(result, BaseException):
                _record_failure(errors_path, batch, result, summary)
                in_a_row += len(batch)
                _stop_if_needed(config, batch[0], result, in_a_row)
            else:
                in_a_row = 0
                for trace in result:
                    traces.write(trace)
                    summary.usage.add(trace.tokens_in, trace.tokens_out)
                    summary.written += 1
            progress.advance(task, len(batch))


def _stop_if_needed(config: DistillConfig, unit: Unit, exc: BaseException, in_a_row: int) -> None:
    """Raise when a failure must end the run: ``on_error="abort"``, or too many failures in a row."""
    where = f"question {unit.question.ID} sample {unit.sample}"
    if config.on_error == "abort":
        raise BackendError(f"{where}: {exc}") from exc
    if config.max_failures_in_a_row and in_a_row >= config.max_failures_in_a_row:
        raise BackendError(
            f"{in_a_row} units failed in a row (last: {where}: {exc}); stopping: is the teacher reachable and "
            "is the configuration right?"
        ) from exc


def _record_failure(
    errors_path: Path, batch: list[Unit], exc: BaseException, summary: DistillSummary
) -> None:
    summary.failed += len(batch)
    summary.errors_path = str(errors_path)
    with JsonlAppender(errors_path) as errors:
        for unit in batch:
            errors.write(
                {"id": unit.question.ID, "sample": unit.sample, "error": redact_text(f"{type(exc).__name__}: {exc}"),
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            )  # fmt: skip


def count_file(out: Path, summary: DistillSummary) -> None:
    """Count the traces of the whole file ``out`` (and the valid and correct ones) into ``summary``."""
    if not out.exists():
        return
    for _, row in read_jsonl_rows(out):
        summary.file_traces += 1
        summary.file_valid += int(row.get("valid") or 0)
        summary.file_correct += int(row.get("label") or 0)
