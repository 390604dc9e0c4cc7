"""Benchmark data: the loaders that turn each dataset's published format into Question records, and the bundled
sample benchmark. Other stages import only this module's public API:

- :func:`load_benchmark` — questions from ``sample``, a local fs1-format file, or the published hub dataset;
- :func:`load_questions` — the same for a command, and :func:`load_for_scoring` — the questions by ID with the
  records the loader skipped (``ScoringBenchmark``), for the commands that score predictions;
- :func:`read_dataset` — questions from a file in any supported native format (``FORMATS``);
- :func:`convert` — a native file to a fs1-format JSONL file (written atomically), Freebase-id-only answers
  labelled through a caller-given function (the CLI passes one built on the KG; this package never imports kg);
- :func:`conversion_line` — the one-line report of a conversion (loaded, skipped by reason, format recognised);
- :func:`sample_path` — where the bundled sample benchmark lies.

``question_entities``/``answer_entities`` hold Wikidata QIDs (``Q76``) for Wikidata-based datasets and Freebase
MIDs in the datasets' own form (``m.02mjmr``) for the Freebase-based ones (CWQ, WebQSP, GrailQA).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from fs1.data.common import (
    EXCLUDED_IDS_ONLY,
    EXCLUDED_SKIPPED,
    IDS_ONLY,
    LEGACY_IDS_ONLY,
    NO_GOLD,
    SOURCES,
    UNLABELLED,
    Loaded,
    exclusion_reason,
    is_kg_id,
    skipped_path,
)
from fs1.data.detect import FORMATS, detect_format, reader_of
from fs1.errors import ConfigError
from fs1.io import InputError, collector_paused, write_jsonl_atomic
from fs1.records import Question

__all__ = [
    "EXCLUDED_IDS_ONLY",
    "EXCLUDED_SKIPPED",
    "FORMATS",
    "IDS_ONLY",
    "SOURCES",
    "FreebaseLabeller",
    "Loaded",
    "NoQuestionsError",
    "ScoringBenchmark",
    "conversion_line",
    "convert",
    "detect_format",
    "exclusion_reason",
    "label_freebase_answers",
    "load_questions",
    "load_benchmark",
    "load_for_scoring",
    "question_index",
    "read_dataset",
    "require_scorable",
    "sample_path",
    "skipped_path",
]

log = logging.getLogger("fs1.data")

# KG ids (Freebase m.…/g.…, Wikidata Q…) → their English labels, best first; an id missing from the result has none.
FreebaseLabeller = Callable[[list[str]], Mapping[str, list[str]]]
IDS_ONLY_WARNING = (
    "{n} question(s) have only KG ids as gold answers (e.g. {example}); they are kept with the ids in "
    "answer_entities and marked meta.{mark}, and scoring leaves them out of every number (counted as excluded in "
    "summary.json and the report) until they have labels: {remedy}"
)
REMEDY_KG = "convert again with --kg (Freebase ids are mapped to Wikidata labels through P646, Wikidata ids labelled directly)"
REMEDY_BIGGER_KG = (
    "the --kg given has no label for them (Freebase: no P646 item); try a fuller KG (sparql: = Wikidata)"
)


class NoQuestionsError(InputError):
    """A benchmark input that yields no question at all (a test split, an empty file, every record skipped)."""


SAMPLE_SPEC = "sample"
_SOURCE_ALIASES = {
    "cwq": "ComplexWebQuestions",
    "timequestions": "ExaQT",
    "webquestionssp": "WebQSP",
    **{s.lower(): s for s in SOURCES},
}


def sample_path() -> Path:
    """Path of the bundled sample benchmark (about 60 questions, ten in the style of each dataset)."""
    return Path(__file__).resolve().parent / "bundled" / "sample_benchmark.jsonl"


def read_dataset(path: str | Path, fmt: str = "auto") -> Loaded:
    """Questions from a file in a native dataset format (or ``fs1``); ``fmt="auto"`` detects the format."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return reader_of(detect_format(path) if fmt == "auto" else fmt)(path)


def require_questions(loaded: Loaded, path: str | Path) -> None:
    """Raise ``NoQuestionsError`` saying why when ``loaded`` holds no question."""
    if loaded.questions:
        return
    skipped = loaded.skipped_ids
    if skipped and set(loaded.skipped) == {NO_GOLD}:
        raise NoQuestionsError(
            f"{path} has no gold answers — a test split? None of its {len(skipped)} records carries an answer "
            f"({loaded.variant}); use the train/dev split, or a copy that has the answers."
        )
    if skipped:
        raise NoQuestionsError(f"{path}: 0 questions ({_skip_text(loaded)}; {loaded.variant})")
    raise NoQuestionsError(f"{path}: holds no records — no questions to read")


SKIPPED_SHOWN = 3  # skipped IDs named per reason on the console (all of them go to the side file)


def _skip_text(loaded: Loaded, shown: int = 0) -> str:
    parts = []
    for reason, ids in loaded.skipped.items():
        named = ""
        if shown:
            more = f", … {len(ids) - shown} more" if len(ids) > shown else ""
            named = f": {', '.join(ids[:shown])}{more}"
        parts.append(f"skipped {len(ids)} ({reason}{named})")
    return ", ".join(parts) or "skipped 0"


def conversion_line(path: str | Path, loaded: Loaded) -> str:
    """The one line every conversion prints: loaded, skipped by reason (the first IDs of each), format recognised."""
    skipped = _skip_text(loaded, SKIPPED_SHOWN)
    return f"{path}: loaded {len(loaded.questions)} questions, {skipped}; format: {loaded.variant}"


def label_freebase_answers(loaded: Loaded, labeller: FreebaseLabeller) -> int:
    """Give questions whose answers are unlabelled KG ids (Freebase or Wikidata) the labels ``labeller`` finds.

    A found label becomes a main answer (further labels of the same id: aliases), the id leaves
    ``meta[UNLABELLED]``, and an id-only question loses its mark once one answer has a label; its raw ids stay in
    ``answer_entities`` either way. Returns the number of questions that gained a label."""
    wanted = sorted({i for q in loaded.questions for i in q.meta.get(UNLABELLED, []) if is_kg_id(i)})
    if not wanted:
        return 0
    labels = labeller(wanted)
    changed = 0
    for question in loaded.questions:
        found = {i: [x for x in labels.get(i, []) if x] for i in question.meta.get(UNLABELLED, [])}
        found = {i: names for i, names in found.items() if names}
        if found:
            _apply_labels(question, found)
            changed += 1
    return changed


def _apply_labels(question: Question, found: dict[str, list[str]]) -> None:
    """Labels of some unlabelled answer ids: first label → main answer, others → aliases; ids stay entities."""
    ids_only = question.meta.get(IDS_ONLY) or question.meta.get(LEGACY_IDS_ONLY)
    main = [] if ids_only else list(question.main_answers)  # id placeholders go
    question.main_answers = list(dict.fromkeys(main + [names[0] for names in found.values()]))
    aliases = question.answer_aliases + [n for names in found.values() for n in names[1:]]
    question.answer_aliases = [a for a in dict.fromkeys(aliases) if a not in question.main_answers]
    left = [i for i in question.meta.pop(UNLABELLED) if i not in found]
    if left:
        question.meta[UNLABELLED] = left
    question.meta.pop(IDS_ONLY, None)
    question.meta.pop(LEGACY_IDS_ONLY, None)
    question.meta["answer_labels_from"] = "Wikidata (P646 for Freebase ids)"


def warn_ids_only(
    loaded: Loaded, warn: Callable[[str], None] | None = None, *, kg_given: bool = False
) -> None:
    """Warn once when questions' gold answers are only KG ids (containment scoring needs labels)."""
    ids = loaded.ids_only
    if ids:
        remedy = REMEDY_BIGGER_KG if kg_given else REMEDY_KG
        (warn or log.warning)(
            IDS_ONLY_WARNING.format(n=len(ids), example=ids[0], mark=IDS_ONLY, remedy=remedy)
        )


def require_scorable(questions: list[Question], where: str | Path) -> None:
    """Raise ``NoQuestionsError`` when every question of ``questions`` is excluded from scoring (gold answers that are
    only KG ids, ``exclusion_reason``): a run on them would generate answers no number could ever count."""
    if questions and all(exclusion_reason(q) for q in questions):
        raise NoQuestionsError(
            f"{where}: none of its {len(questions)} question(s) can be scored: their gold answers are only KG ids "
            f"(e.g. {questions[0].ID}: {', '.join(questions[0].main_answers[:3])}); {REMEDY_KG}"
        )


LEGACY_ID = "row_id"  # meta key of an ID fs1 gave a question before (SimpleQA's row positions)


def question_index(questions: list[Question]) -> dict[str, Question]:
    """Questions by ID, plus the older IDs some were known by (``meta["row_id"]``: SimpleQA's row positions, before
    IDs came from content), so predictions written against an older conversion still find their question. An older
    ID never shadows a current one."""
    index = {q.ID: q for q in questions}
    for question in questions:
        old = question.meta.get(LEGACY_ID)
        if isinstance(old, str) and old not in index:
            index[old] = question
    return index


def _canonical_sources(sources: list[str]) -> set[str]:
    out = set()
    for name in sources:
        canonical = _SOURCE_ALIASES.get(name.strip().lower())
        if canonical is None:
            raise InputError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
        out.add(canonical)
    return out


def _load_spec(spec: str, fmt: str) -> Loaded:
    from fs1.data.fs1_format import load_fs1_file
    from fs1.data.hub import is_hub_spec, load_hub

    if spec == SAMPLE_SPEC:
        return load_fs1_file(sample_path())
    path = Path(spec).expanduser()
    if path.is_file():
        chosen = detect_format(path) if fmt == "auto" else fmt
        if chosen == "fs1":
            return load_fs1_file(path)
        loaded = read_dataset(path, chosen)  # a dataset's own file, converted in memory
        require_questions(loaded, path)
        log.warning(conversion_line(path, loaded))
        warn_ids_only(loaded)
        return loaded
    if is_hub_spec(spec):
        return load_hub(spec)
    raise InputError(f"{spec}: no such file (and not a Hugging Face dataset id such as owner/name)")


def _read_benchmark(spec: str, fmt: str) -> Loaded:
    """Every question of ``spec`` (``load_benchmark``), with the records its loader skipped."""
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} or auto")
    loaded = _load_spec(spec, fmt)
    if loaded.variant == "fs1 benchmark format":  # a dataset's own file has warned already, when read
        warn_ids_only(loaded)
    return loaded


def load_benchmark(
    spec: str, *, limit: int | None = None, sources: list[str] | None = None, fmt: str = "auto"
) -> list[Question]:
    """Benchmark questions from ``spec``: ``"sample"`` (bundled), a local fs1-format ``.jsonl``/``.json``/
    ``.parquet`` file, a dataset's own file (``fmt``: one of ``FORMATS``, or ``auto`` to tell from its contents),
    or a hub dataset id (``owner/name[:split]``, e.g. ``jjzha/fs1-benchmark-2708``).

    ``sources`` keeps only those ``source_of_data`` values (full names or cwq/exaqt/… short names, any case);
    ``limit`` keeps the first questions after that filter. Duplicate IDs are an error naming the file.
    """
    if limit is not None and limit < 0:
        raise InputError(f"limit must be non-negative, got {limit}")
    questions = _read_benchmark(str(spec), fmt).questions
    if sources:
        wanted = _canonical_sources(sources)
        questions = [q for q in questions if q.source_of_data in wanted]
    return questions if limit is None else questions[:limit]


def load_questions(spec: str | Path, *, fmt: str = "auto", limit: int | None = None) -> list[Question]:
    """The questions a command works on: ``load_benchmark`` (``fs1.data.question_index`` indexes them by ID), with
    a ``limit`` of at least one and an empty result refused as ``NoQuestionsError``."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be positive, got {limit}")
    # Loading makes no reference cycles, but 100,000s of new records set off the cycle collector again and again, each
    # pass walking all of them so far (a third of the loading time of the paper's benchmark): it is paused meanwhile.
    with collector_paused():
        questions = load_benchmark(str(spec), limit=limit, fmt=fmt)
    if not questions:
        raise NoQuestionsError(f"{spec}: no questions")
    return questions


@dataclass(frozen=True)
class ScoringBenchmark:
    """What the commands that score predictions (``fs1 score``, ``fs1 judge``) know of a benchmark: its questions by
    ID and older ID (``question_index``), and the records its loader skipped, ID → the loader's reason (``NO_GOLD``;
    file order; never an ID of a question). A prediction of a skipped record is scored as one of an excluded
    question, excluded as ``EXCLUDED_SKIPPED`` with that reason: counted and named, never a stop."""

    questions: Mapping[str, Question]
    skipped: Mapping[str, str]


def load_for_scoring(spec: str | Path, *, fmt: str = "auto") -> ScoringBenchmark:
    """The whole benchmark ``spec`` (as ``load_questions`` reads it) and the records its loader skipped: a
    dataset's own file knows them; a fs1-format file has them in the side file its conversion wrote beside it
    (``skipped_path``; none without one); the bundled sample and hub datasets have none."""
    with collector_paused():  # (as in load_questions)
        loaded = _read_benchmark(str(spec), fmt)
    if not loaded.questions:
        raise NoQuestionsError(f"{spec}: no questions")
    index = question_index(loaded.questions)
    skipped = {
        qid: reason
        for reason, ids in loaded.skipped.items()
        for qid in ids
        if qid not in index  # (a question with the same ID is the one predictions mean)
    }
    return ScoringBenchmark(index, MappingProxyType(skipped))


def convert(
    input: str | Path, fmt: str, out: str | Path, *, labeller: FreebaseLabeller | None = None
) -> Loaded:
    """Convert ``input`` (format ``fmt``, or ``auto``) into a fs1-format JSONL file ``out``, written atomically.

    Records without a gold answer are skipped: counted by reason in the result and listed, one ``{"id", "reason"}``
    per line, in ``skipped_path(out)`` (written every time, empty when nothing was skipped, so it always belongs to
    ``out``). Answers that are only KG ids get labels from ``labeller`` when given; otherwise those questions keep the
    ids, are marked, and a warning says so once. ``NoQuestionsError`` (nothing written) when no question remains."""
    loaded = read_dataset(input, fmt)
    require_questions(loaded, input)
    if labeller is not None:
        label_freebase_answers(loaded, labeller)
    write_jsonl_atomic(out, loaded.questions)
    skipped = ({"id": qid, "reason": reason} for reason, ids in loaded.skipped.items() for qid in ids)
    write_jsonl_atomic(skipped_path(out), skipped)
    return loaded
