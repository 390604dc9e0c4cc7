"""Labelling of teacher traces with the scorer: ``label`` (the attempt's answer matches a gold answer) and ``valid``.

A trace is **valid** (well-formed) when it has reasoning, was not cut off, and its attempt holds one final boxed
answer (boxes that disagree with the final one make it invalid). ``label`` uses the same extraction and matching as
the evaluation (``fs1.scoring``), applied to the attempt, against the question's gold answers as the evaluation scores
them (``fs1.scoring.match.scoring_gold``: main answers, aliases, date-precision years). A question whose gold answers
are only KG ids has none (``gold_answer`` empty): its traces get no label (``None``, match ``excluded``), so the SFT
filter (``label == 1``) never keeps them on a verdict against raw ids.
"""

from __future__ import annotations

from fs1.distill.teacher import INVALID_FLAGS, form_flags
from fs1.records import Trace
from fs1.scoring.extract import extract
from fs1.scoring.match import EXCLUDED_RESULT, match_answer


def label_trace(trace: Trace) -> Trace:
    """Set ``trace.label`` and ``trace.valid`` (0/1), adding any form flag the texts show; returns the same trace.

    Flags already on the trace (``truncated``, ``unclosed_think`` from the reply's finish) are kept, so labelling a
    stored trace again gives the same result.
    """
    for flag in form_flags(trace.reasoning_trace, trace.model_attempt):
        if flag not in trace.flags:
            trace.flags.append(flag)
    trace.valid = int(not any(flag in INVALID_FLAGS for flag in trace.flags))
    extraction = extract(trace.model_attempt)
    result = match_answer(extraction.answer, trace.gold_answer) if trace.gold_answer else EXCLUDED_RESULT
    trace.label = None if result is EXCLUDED_RESULT else int(result.correct)
    trace.meta["extracted"] = extraction.answer
    trace.meta["match"] = result.match
    return trace
