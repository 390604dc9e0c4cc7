"""Benchmark data: the loaders that turn each dataset's published format into Question records, and the bundled
sample benchmark. Other stages import only this module's public API:

- :func:`load_benchmark` — questions from ``sample``, a local fs1-format file, or the published hub dataset;
- :func:`read_dataset` — questions from a file in any supported native format (``FORMATS``);
- :func:`convert` — a native file to a fs1-format JSONL file (written atomically);
- :func:`sample_path` — where the bundled sample benchmark lies.

``question_entities``/``answer_entities`` hold Wikidata QIDs (``Q76``) for Wikidata-based datasets and Freebase
MIDs in the datasets' own form (``m.02mjmr``) for the Freebase-based ones (CWQ, WebQSP, GrailQA).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fs1.data.common import SOURCES, Loaded
from fs1.data.detect import FORMATS, detect_format
from fs1.io import InputError, write_jsonl_atomic
from fs1.records import Question

__all__ = [
    "FORMATS",
    "SOURCES",
    "Loaded",
    "convert",
    "detect_format",
    "load_benchmark",
    "read_dataset",
    "sample_path",
]

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


def _reader(fmt: str) -> Callable[[Path], Loaded]:
    # Imported on demand so that choosing one format never imports the others' dependencies.
    if fmt == "fs1":
        from fs1.data.fs1_format import load_fs1_file as reader
    elif fmt == "mintaka":
        from fs1.data.mintaka import load_mintaka as reader
    elif fmt == "simpleqa":
        from fs1.data.simpleqa import load_simpleqa as reader
    elif fmt == "cwq":
        from fs1.data.cwq import load_cwq as reader
    elif fmt == "webqsp":
        from fs1.data.webqsp import load_webqsp as reader
    elif fmt == "grailqa":
        from fs1.data.grailqa import load_grailqa as reader
    elif fmt == "exaqt":
        from fs1.data.exaqt import load_exaqt as reader
    else:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} or auto")
    return reader


def read_dataset(path: str | Path, fmt: str = "auto") -> Loaded:
    """Questions from a file in a native dataset format (or ``fs1``); ``fmt="auto"`` detects the format."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return _reader(detect_format(path) if fmt == "auto" else fmt)(path)


def _canonical_sources(sources: list[str]) -> set[str]:
    out = set()
    for name in sources:
        canonical = _SOURCE_ALIASES.get(name.strip().lower())
        if canonical is None:
            raise InputError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
        out.add(canonical)
    return out


def _load_spec(spec: str) -> Loaded:
    from fs1.data.fs1_format import load_fs1_file
    from fs1.data.hub import is_hub_spec, load_hub

    if spec == SAMPLE_SPEC:
        return load_fs1_file(sample_path())
    path = Path(spec).expanduser()
    if path.is_file():
        fmt = detect_format(path)
        if fmt != "fs1":
            raise InputError(
                f"{path}: this is a {fmt} file, not the fs1 benchmark format; convert it first with "
                f"`fs1 data convert {path} --format {fmt} --out FILE.jsonl`"
            )
        return load_fs1_file(path)
    if is_hub_spec(spec):
        return load_hub(spec)
    raise InputError(f"{spec}: no such file (and not a Hugging Face dataset id such as owner/name)")


def load_benchmark(
    spec: str, *, limit: int | None = None, sources: list[str] | None = None
) -> list[Question]:
    """Benchmark questions from ``spec``: ``"sample"`` (bundled), a local fs1-format ``.jsonl``/``.json``/
    ``.parquet`` file, or a hub dataset id (``owner/name[:split]``, e.g. ``jjzha/fs1-benchmark-2708``).

    ``sources`` keeps only those ``source_of_data`` values (full names or cwq/exaqt/… short names, any case);
    ``limit`` keeps the first questions after that filter. Duplicate IDs are an error naming the file.
    """
    if limit is not None and limit < 0:
        raise InputError(f"limit must be non-negative, got {limit}")
    questions = _load_spec(str(spec)).questions
    if sources:
        wanted = _canonical_sources(sources)
        questions = [q for q in questions if q.source_of_data in wanted]
    return questions if limit is None else questions[:limit]


def convert(input: str | Path, fmt: str, out: str | Path) -> int:
    """Convert ``input`` (format ``fmt``, or ``auto``) into a fs1-format JSONL file ``out``, written atomically;
    returns the number of questions written. Records without a gold answer are skipped and logged."""
    loaded = read_dataset(input, fmt)
    return write_jsonl_atomic(out, loaded.questions)
