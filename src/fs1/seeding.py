"""The one way fs1 turns a run seed into the seeds of its random draws.

Every stochastic stage (teacher distillation, evaluation generation, training data order and initialisation) takes
the run seed (default ``DEFAULT_SEED``) and derives the seed of each unit of work with ``derive_seed(run_seed, stage,
*unit_keys)``: a SHA-256 of the keys, so the seed of one (question, sample) does not depend on which other units run
with it, in which order or in which process (Python's ``hash`` is salted per process and never used here). A resumed
or re-batched run therefore draws exactly what the first run would have.

Imports nothing from fs1.
"""

from __future__ import annotations

import hashlib

DEFAULT_SEED = 0
SEED_BITS = 31  # fits every backend: torch generators, llama.cpp, vLLM and OpenAI-style `seed` fields
_SEPARATOR = "\x1f"  # ASCII unit separator: ("a", "bc") and ("ab", "c") hash differently


def derive_seed(run_seed: int, *unit_keys: str | int) -> int:
    """A stable non-negative 31-bit seed for one unit of work of a run.

    ``unit_keys`` name the unit, most general first, e.g. ``("distill", "rt", question_id, sample)``; the same
    arguments give the same seed on every machine and in every process.
    """
    text = _SEPARATOR.join(str(part) for part in (int(run_seed), *unit_keys))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & ((1 << SEED_BITS) - 1)
