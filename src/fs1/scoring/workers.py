"""The processes that score a predictions file's ranges (``batches.py``): how many, how started, what if one dies.

- **How many.** At most the cores this process may use (``fs1.cores.usable_cores``: its CPU affinity and its
  cgroup's CPU quota, as a container or a Slurm job sets them) and at most one per range; a larger request is
  capped (``capped_workers`` says so, the CLI prints it).
- **Started by fork** where the platform has it and this process runs no other thread: workers then share the
  parent's gold answers copy-on-write instead of each unpickling its own copy (20 workers on a 250K-question
  benchmark held 7.2 GB of copies), and start without importing anything. Elsewhere ``spawn`` (each worker gets
  the gold answers, not the whole benchmark). Workers never run the cycle collector, so it does not touch (and copy)
  the pages they share.
- **A dead worker** (killed by the out-of-memory killer, say) fails the run with one line, at once: the pool is a
  ``ProcessPoolExecutor``, which notices a worker that vanished (``BrokenProcessPool``) where ``multiprocessing.Pool``
  waited for its result for ever. Outputs are written atomically, so nothing half-written is left.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from fs1.cores import usable_cores
from fs1.errors import Fs1Error
from fs1.records import Question
from fs1.scoring import batches
from fs1.scoring.accounting import NO_SKIPS
from fs1.scoring.batches import Golds, RangeResult, RangeScorer, absolute, line_ranges
from fs1.scoring.extract import EXTRACT_FS1


class WorkerDiedError(Fs1Error, RuntimeError):
    """A scoring worker process ended without returning its range (killed, out of memory, crashed)."""


def score_ranges(
    path: Path,
    questions: Mapping[str, Question],
    workers: int,
    extract: str = EXTRACT_FS1,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> Iterator[RangeResult]:
    """Score every range of ``path`` in file order, with up to ``workers`` processes (1: in this process), answers
    extracted by rule ``extract``; predictions of records the loader skipped (``skipped``) as excluded questions'.

    Each result's ``error`` names a line of the file (the first line is 1).
    """
    ranges = -(-path.stat().st_size // batches.RANGE_BYTES)
    workers = min(capped_workers(workers)[0], ranges)  # and one per range at most
    if workers <= 1:
        scorer = RangeScorer(str(path), Golds(questions, skipped), extract)
        yield from absolute((scorer(start, end) for start, end in line_ranges(path)), path)
    else:
        yield from absolute(_pooled(path, Golds(questions, skipped), workers, extract), path)


def capped_workers(requested: int) -> tuple[int, str | None]:
    """``requested`` workers (0: one per usable core) capped at the usable cores, and a note when it was capped."""
    cores = usable_cores()
    if requested <= 0:
        return cores, None
    if requested > cores:
        return cores, f"--workers {requested} capped at {cores}: the CPU cores this process may use"
    return requested, None


def _pooled(path: Path, golds: Golds, workers: int, extract: str) -> Iterator[RangeResult]:
    """The ranges' results, in file order, scored by ``workers`` processes; at most 2 × workers + 1 in flight."""
    pool = _start_pool(_Job(str(path), extract, questions=golds), workers)
    pending: deque[Future[RangeResult]] = deque()
    try:
        for start, end in line_ranges(path):
            pending.append(pool.submit(_score_in_worker, start, end))
            if len(pending) > 2 * workers:  # a bounded window keeps memory flat
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:  # (from a result, or from submitting to a pool that lost a worker)
        raise WorkerDiedError(
            f"{path}: a scoring worker process died before its part of the file was scored (killed, e.g. for lack "
            "of memory); nothing was written - rerun, with fewer --workers if memory is short"
        ) from None
    finally:
        # Leaving early (a bad line, a dead worker): ranges not started are dropped, running ones finish (at most one
        # per worker), then the workers exit.
        pool.shutdown(wait=True, cancel_futures=True)
        _set_inherited(None)


@dataclass(frozen=True)
class _Job:
    """What a worker scores: the file, by which rule, against the benchmark's questions (``Golds``: a forked worker
    shares its parent's) or their gold answers alone (sent to a spawned worker)."""

    path: str
    extract: str
    questions: Golds | None = None
    golds: dict[str, tuple[str, ...]] | None = None

    def scorer(self) -> RangeScorer:
        golds = self.golds if self.golds is not None else (self.questions or Golds({}))
        return RangeScorer(self.path, golds, self.extract)


# What a forked worker inherits from its parent (set just before the workers start).
_inherited: _Job | None = None
_worker_scorer: RangeScorer | None = None


def _start_pool(job: _Job, workers: int) -> ProcessPoolExecutor:
    if _can_fork():
        _set_inherited(job)  # until the pool is shut down (some Pythons start a worker when work reaches it)
        return ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
        )
    # Spawned workers are sent what they need: the gold answers (none for a skipped record), not the whole benchmark.
    golds = job.questions or Golds({})
    compact = _Job(job.path, job.extract, golds={qid: golds[qid] for qid in golds})
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(compact,))


def _set_inherited(job: _Job | None) -> None:
    global _inherited
    _inherited = job


def _can_fork() -> bool:
    """Fork is safe where it exists and no other thread runs (one could hold a lock the child would inherit)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _init_worker(job: _Job | None = None) -> None:
    global _worker_scorer
    gc.disable()  # (it would walk, and so copy, every object shared with the parent; scoring makes no cycles)
    job = job or _inherited
    assert job is not None, "a forked worker starts with its parent's job"
    _worker_scorer = job.scorer()
    # A forked worker must not flush what its parent had buffered for the console (it would be printed twice), and
    # has nothing of its own to print.
    sys.stdout = sys.stderr = None


def _score_in_worker(start: int, end: int) -> RangeResult:
    assert _worker_scorer is not None, "worker not initialised"
    return _worker_scorer(start, end)
