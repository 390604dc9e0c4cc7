"""What a stage is, declared once: the record the one driver (``fs1.run.driver``) drives for the command line, ``fs1
run``, the cluster executors, ``fs1 plan`` and ``fs1 status`` alike.

A stage turns questions into one JSONL file of records, appended record by record so that a rerun resumes it. Each
stage package declares its ``Stage`` next to the function that runs it (``fs1.kg.stage``, ``fs1.distill.stage``,
``fs1.generate.stage``, ``fs1.judge.stage``, ``fs1.scoring.stage``); the driver owns everything the stages share:
slicing the questions into shards, resume, the ``.done`` marker of a finished shard, the merge (every key once), the
side manifest and the log. ``S`` is the stage's own run settings (which teacher, which KG, ...): plain data the stage
package defines and the driver passes through untouched.

What made a stage's records where fs1's package versions cannot tell (the server a model ran on, its version and
context; a SPARQL endpoint's engine and caps) is declared once per stage (``Described``) and recorded by the driver:
in the side manifest of a standalone command, in each job's manifest of a sharded or cluster run, and in a file
beside the records of a stage ``fs1 run`` runs whole (``engine.json``), whose inline stages keep no manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from fs1.records import Question, Record

S = TypeVar("S")
Key = Hashable


ENGINE_FILE = "engine.json"  # fs1 run: the engine that made a whole stage's records, beside them
ENGINE_ENTRY = "engine"  # the manifest entry holding it


def not_described(reason: str) -> dict[str, Any]:
    """The engine entry of a part that called no engine (every answer cached, nothing left to do): describing
    one would start it for nothing, so the entry says why it is unknown instead."""
    return {"described": False, "reason": reason}


@dataclass(frozen=True)
class Described:
    """How a stage's summary tells what made its records beyond the package versions: ``facts(summary)`` (a
    ``Backend.describe()`` read before the run, ``not_described(...)`` when no engine was called, ``None``/empty:
    nothing to record), recorded under ``entry`` in a manifest and as ``file`` beside a whole stage's records."""

    facts: Callable[[Any], dict[str, Any] | None]
    entry: str = ENGINE_ENTRY
    file: str = ENGINE_FILE


def nothing_excused(part: Path) -> set[Key]:
    """A stage without recorded failures: every expected key must be in the merged file."""
    return set()


@dataclass(frozen=True)
class Stage(Generic[S]):
    """One stage of the pipeline as the driver sees it.

    ``run(questions, settings, out, resume)`` writes the records of ``questions`` into the file ``out`` (a shard's
    file when the driver slices), skipping the keys already there when ``resume``, and returns the stage's summary.
    ``expected(questions, settings)`` is every key a complete output holds; ``excused(shard_file)`` the keys a shard
    recorded as failed (its side files), which the merge accepts missing; ``after_merge(out, count)`` joins the
    shards' side files once their records are merged and returns the summary of the whole. ``side_files`` are the
    suffixes of those side files (``traces.jsonl`` → ``traces.errors.jsonl``). ``manifest(summary)``: entries a
    standalone command records in its side manifest beside the provenance (what the part did). ``described``:
    what made the records (the driver records it; see ``Described``).
    """

    name: str
    output: str
    record: type[Record] | None
    key: Callable[[dict[str, Any]], Key]
    run: Callable[[list[Question], S, Path, bool], Any]
    expected: Callable[[Sequence[Question], S], AbstractSet[Key]] | None = None
    excused: Callable[[Path], AbstractSet[Key]] = nothing_excused
    after_merge: Callable[[Path, int], Any] | None = None
    side_files: tuple[str, ...] = ()
    shardable: bool = True
    manifest: Callable[[Any], dict[str, Any]] | None = None
    described: Described | None = None

    def side_path(self, out: Path, suffix: str) -> Path:
        """A side file of the output ``out``: ``traces.jsonl`` + ``.errors.jsonl`` → ``traces.errors.jsonl``."""
        return out.with_name(out.name.removesuffix(".jsonl") + suffix)
