"""The published fs1 benchmark on the Hugging Face hub, read with ``datasets.load_dataset``.

A spec is ``owner/name`` or ``owner/name:split`` (default split ``test``). Every failure to fetch (offline,
no network, unknown dataset) becomes one ``InputError`` line telling the user to pass a local file instead.
"""

from __future__ import annotations

import re

from fs1.data.common import Loaded
from fs1.data.fs1_format import questions_from_rows
from fs1.io import InputError

# The fs1 authors' benchmark (their prepare_vllm_batch.py default): columns ID, question, main_answers,
# answer_aliases, source_of_data; one split, "test".
FS1_BENCHMARK_HUB_ID = "jjzha/fs1-benchmark-2708"
DEFAULT_SPLIT = "test"
HUB_SPEC = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(:[\w.-]+)?$")


def is_hub_spec(spec: str) -> bool:
    """Whether ``spec`` reads as a hub dataset id (``owner/name[:split]``)."""
    return bool(HUB_SPEC.match(spec)) and not spec.endswith((".jsonl", ".json", ".parquet"))


def load_hub(spec: str) -> Loaded:
    """Load a fs1-format benchmark from the hub; a clear one-line ``InputError`` when it cannot be fetched."""
    repo, _, split = spec.partition(":")
    split = split or DEFAULT_SPLIT
    try:
        from datasets import load_dataset

        dataset = load_dataset(repo, split=split)
    except OSError as exc:  # ConnectionError (offline / no network) and FileNotFoundError (unknown dataset)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            f"cannot load {repo!r} (split {split!r}): the Hugging Face hub cannot be reached or has no such "
            f"dataset ({reason}); pass a local .jsonl/.json/.parquet file in the fs1 format instead"
        ) from None
    except Exception as exc:  # noqa: BLE001  (datasets raises many types; the user needs one line, not a trace)
        raise InputError(
            f"cannot load {repo!r} (split {split!r}) from the Hugging Face hub ({type(exc).__name__}); "
            "pass a local .jsonl/.json/.parquet file in the fs1 format instead"
        ) from None
    rows = ((f"hf:{repo}[{split}] row {i}", dict(row)) for i, row in enumerate(dataset))
    return questions_from_rows(rows, f"hf:{repo}[{split}]")
