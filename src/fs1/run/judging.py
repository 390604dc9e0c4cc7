"""The judge stage of a run: an LLM judge over ``score/<run>/`` into ``judge/<run>/`` (rule-first cascade).

One verdict cache per run directory (``cache/judge_verdicts.jsonl``) serves every run, so an answer repeated across
runs is judged once, and a killed judge stage resumes from the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.run.pipeline import Pipeline


def judge_run(pipe: Pipeline, run: str) -> Path:
    """Judge the scored predictions of ``run`` with the experiment's judge; returns the stage directory."""
    spec = pipe.exp.judge
    if spec is None:
        raise ConfigError("the experiment has no judge")
    config = {
        "score": pipe.fingerprints[f"score/{run}"],
        "judge": spec.fingerprint(),
        "ks": pipe.exp.ks,
        "seed": pipe.exp.seed,
    }

    def work(d: Path) -> None:
        from fs1.judge.judge import load_judge
        from fs1.judge.rules import get_rules
        from fs1.judge.stage import judge_file

        judge = load_judge(
            spec.judge_ref(),
            prompt=spec.prompt,
            sampling=judge_sampling(spec, pipe.exp.seed),
            cache_path=pipe.rundir / "cache" / "judge_verdicts.jsonl",
            batch_size=spec.batch_size,
        )
        questions = {q.ID: q for q in pipe.questions()}
        judge_file(
            pipe.rundir / "score" / run,
            questions,
            d,
            judge,
            mode=spec.mode,
            rules=get_rules(spec.rules),
            ks=pipe.exp.ks,
            judge_info={"model": spec.model, "prompt": spec.prompt, "backend": spec.resolved_backend()},
            seed=pipe.exp.seed,
            extract=pipe.exp.extract,
        )

    return pipe.stage(f"judge/{run}", config, work, kind="judge", model=spec)


def judge_sampling(spec: Any, run_seed: int) -> Any:
    """The experiment's judge sampling, its seed the run seed unless the experiment file sets one."""
    sampling = spec.sampling_only()
    if "seed" in spec.model_fields_set:
        return sampling
    return sampling.model_copy(update={"seed": run_seed})
