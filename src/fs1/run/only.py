"""``fs1 run EXP --out RUNDIR --only STAGE [--shard I/N]``: one job of a run, by hand or from ``fs1 plan``'s scripts.

The experiment's stages are walked as ``fs1 run`` walks them, but only to learn their fingerprints; then STAGE runs —
the whole of it, or shard ``I`` of ``N`` through the same ``run_piece`` a cluster job of ``fs1 run`` uses, so its
records are the same bytes. What STAGE reads must be there: a heavy stage it needs (paths, distill, train, generate)
must be done, else the job stops naming it; a light one (the benchmark, an SFT set, a score) is made here if missing,
one job at a time. The job whose shard completes the stage merges it. The job does not take the driver's lock: the
jobs of one run run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fs1.errors import ConfigError
from fs1.io import file_lock
from fs1.run.driver import Shard
from fs1.run.jobs import run_piece
from fs1.run.markers import fingerprint, read_marker
from fs1.run.stages import HEAVY, Part, family, part_for
from fs1.shards import done_path, shard_files

if TYPE_CHECKING:
    from fs1.run.pipeline import Pipeline

STAGES_LOCK = ".stages.lock"  # RUNDIR: jobs open stages and make light ones one at a time


class OnlyDone(Exception):
    """The one stage has run: the walk stops here."""


@dataclass
class Only:
    """The stage to run, the shard (None: every shard), and what the walk learnt of the stages before it."""

    stage: str
    shard: Shard | None = None
    seen: dict[str, tuple[dict[str, Any], Part | None, set[str]]] = field(default_factory=dict)

    def visit(self, pipe: Pipeline, name: str, config: dict[str, Any], part: Part | None) -> Path:
        """One stage of the walk: note its fingerprint and inputs; run it if it is the one."""
        pipe.fingerprints[name] = fingerprint(config)
        self.seen[name] = (config, part, set(pipe.fingerprints.reads))
        if name == self.stage:
            with file_lock(pipe.rundir / STAGES_LOCK):
                self.ensure_inputs(pipe, name)
                result = pipe.open(name, config)
            if result.status != "skipped":
                self.run(pipe, result, config, part or part_for(pipe, name))
            raise OnlyDone
        return pipe.rundir / name

    def ensure_inputs(self, pipe: Pipeline, name: str) -> None:
        """Every stage ``name`` reads is done with the fingerprint the experiment gives it; light ones missing are
        made here (they are cheap and every job would make the same)."""
        for needed in sorted(self.seen[name][2]):
            state = read_marker(pipe.rundir / needed) or {}
            if state.get("done") and state.get("fingerprint") == pipe.fingerprints[needed]:
                continue
            if family(needed) in HEAVY or state.get("done"):
                why = "made with another experiment" if state.get("done") else "not done yet"
                raise ConfigError(
                    f"{self.stage} needs {needed}, which is {why}: run `fs1 run ... --only {needed}` (all its "
                    "shards) first, or `fs1 run` for the whole experiment"
                )
            self.ensure_inputs(pipe, needed)
            config, part, _ = self.seen[needed]
            only, pipe.only = pipe.only, None
            try:
                pipe.stage(needed, config, part)
            finally:
                pipe.only = only

    def run(self, pipe: Pipeline, result: Any, config: dict[str, Any], part: Part) -> None:
        """Run the requested shard (or every pending one), then merge the stage if all its shards are done."""
        from fs1.run.pipeline import PendingStage

        if self.shard is not None:
            if part.stage is None or not part.stage.shardable:
                raise ConfigError(f"{self.stage} runs as one job; it has no shards (leave out --shard)")
            part.count = self.shard.count
            other = sorted(set(shard_files(result.directory / part.stage.output)) - {part.count})
            if other:
                raise ConfigError(
                    f"{self.stage}: shards of {other[0]} are there already; use --shard I/{other[0]}"
                )
            shards: list[Shard | None] = [self.shard]
        elif part.stage is not None and part.count > 1:
            shards = list(pipe.unfinished(result, part))
        else:
            shards = [None]
        for shard in shards:
            pipe.log(f"▶ {self.stage}{'' if shard is None else f'[{shard.label}]'}: running")
            run_piece(
                part,
                result.directory,
                shard,
                pipe.verbose,
                seed=pipe.exp.seed,
                experiment=pipe.experiment_file,
            )
        if part.stage is not None and part.count > 1:
            out = result.directory / part.stage.output
            left = [i for i in range(part.count) if not done_path(Shard(i, part.count).file(out)).exists()]
            if left:
                pipe.log(
                    f"  {self.stage}: {part.count - len(left)} of {part.count} shards done; the last merges"
                )
                return
        pipe.finish(PendingStage(result, config, part, []))
