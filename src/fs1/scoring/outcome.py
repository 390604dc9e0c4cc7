"""The three-way outcome of one predicted answer: correct, incorrect or not attempted (SimpleQA's grades).

A prediction is **not attempted** when it has no extractable answer, or when its answer is a refusal ("I don't
know", "unknown", "I'm not sure", ...) that holds no hedged guess and no gold answer. Every other prediction is
attempted, and an attempted prediction that is not correct is **incorrect** (a hallucination, in the sense of
Zhao et al., 2509.06861). The refusal rule is shared: the judge cascade (``judge_rules``) decides
``not_attempted`` with it, and the rule scorer's summary counts abstentions with it, so both paths agree.
"""

from __future__ import annotations

# Normalised beginnings of a refusal (apostrophes are gone after normalisation: "I'm" -> "im").
REFUSAL_STARTS = (
    "i dont know", "i do not know", "dont know", "unknown", "not known", "no answer", "no information",
    "no data", "im not sure", "i am not sure", "not sure", "im unsure", "i am unsure", "unsure", "im sorry",
    "i am sorry", "sorry", "i cannot", "i cant", "i can not", "cannot be determined", "cannot determine",
    "cannot answer", "unable to", "im unable", "i am unable", "insufficient information",
    "not enough information", "there is no information", "there is not enough information",
    "i have no information", "na", "n a",
)  # fmt: skip
# Words that turn a refusal into a hedged guess ("I'm not sure, probably Paris"): then it is an attempt.
GUESS_CUES = frozenset(
    (
        "probably", "maybe", "perhaps", "possibly", "likely", "think", "believe", "guess", "might", "could",
        "suspect", "presumably",
    )
)  # fmt: skip


# One C-level test per answer: called for every distinct answer of a run (millions at the paper's scale).
_REFUSAL_WHOLE = frozenset(REFUSAL_STARTS)
_REFUSAL_PREFIXES = tuple(start + " " for start in REFUSAL_STARTS)


def starts_as_refusal(norm: str) -> bool:
    """True when the normalised answer ``norm`` begins with a refusal and names no hedged guess."""
    if norm not in _REFUSAL_WHOLE and not norm.startswith(_REFUSAL_PREFIXES):
        return False
    return not GUESS_CUES.intersection(norm.split())


def is_refusal(norm: str, correct: bool) -> bool:
    """The refusal rule: a normalised answer that refuses, guesses nothing and is not matched to a gold."""
    return not correct and starts_as_refusal(norm)
