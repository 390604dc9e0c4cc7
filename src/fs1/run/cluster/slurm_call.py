"""The callable a Slurm job runs, apart from ``on_slurm.py``: a job process unpickles it, and so imports this module,
submitit (which it runs under anyway) and ``executors`` (light) — not the run's configuration models, which
``on_slurm`` needs for submitting (a fifth of a second of every job's start-up)."""

from __future__ import annotations

import submitit

from fs1.run.cluster.executors import JobCall


class RequeueableCall(JobCall, submitit.helpers.Checkpointable):
    """Requeued as is on preemption/timeout: the job resumes from its own records."""
