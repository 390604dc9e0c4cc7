"""The cascade's rules: verdicts a rule gives surely, so that only the remaining answers go to the LLM judge.

Every rule looks at one extracted answer and the gold list (main answers + aliases) and either decides (a
verdict) or abstains. A rule is kept in the cascade only when the labelled set
(``benchmarks/data/judge_labelled.jsonl``, human labels of containment) measures it at about 100% agreement;
``benchmarks/bench_judge.py`` prints the measurement of every candidate, kept or not, so the choice can be
checked and redone on new data.

Candidates (``CANDIDATE_RULES``; the cascade, ``CASCADE_RULES``, uses the first of its rules that decides, in
this order; ``KEEP_PRECISION`` is the bar a candidate must clear to be in it):

- ``refusal`` -> not_attempted: the answer begins with a refusal ("I don't know", "unknown", "I'm not sure",
  ...), holds no hedged guess ("probably", "maybe", ...) and no gold answer.
- ``exact`` -> correct: equal to a gold answer after normalisation (``fs1.scoring.normalize``).
- ``compact_exact`` -> correct: equal to a gold once spaces and symbols are dropped (``FeS_2`` = ``FeS2``).
- ``contains_clean`` -> correct: a gold occurs on token boundaries, the answer is short (<= 10 tokens) and
  carries no negation, hedge or relation cue ("not", "or", "maybe", "before", "instead", ...) that could turn
  the mention around (measured just under the bar: a place that shares its name with the gold, so not kept by
  default).
- ``contains_any`` -> correct: a gold occurs on token boundaries, nothing else checked (measured, not kept:
  negations).
- ``yes_no_mismatch`` -> incorrect: the gold is yes (no) and the answer says no (yes).
- ``value_mismatch`` -> incorrect: every gold is a number or date, the answer states numbers, no gold is
  contained, and no gold's numbers all appear in the answer (``26/12/1991`` keeps ``1991-12-26`` for the
  judge).
- ``no_overlap`` -> incorrect: a short answer (<= 6 tokens) that shares no content token with any gold, has no
  token that looks like a gold token (same 4-letter prefix or a close spelling: ``Columbia``/``Colombia``,
  ``Mexican``/``Mexico``), is no acronym of a gold, and is not a word answer to a numeric gold.
- ``no_overlap_loose`` -> incorrect: shares no token with any gold, nothing else checked (measured, not kept).

The refusal tables (``REFUSAL_STARTS``, ``GUESS_CUES``) live in ``fs1.scoring.outcome``, shared with the rule
scorer's attempted rate; the other cue-word tables are named constants below. Extending them only makes rules
abstain more often (safer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from fs1.errors import ConfigError
from fs1.judge.judge import VERDICT_CORRECT, VERDICT_INCORRECT, VERDICT_NOT_ATTEMPTED
from fs1.scoring.match import MATCH_CONTAINS, MATCH_EXACT, MatchResult, match_answer
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.outcome import is_refusal
from fs1.scoring.tables import NO, YES

# Words that can turn a mention of the gold around (negation, hedge, comparison, succession, former names).
REVERSAL_CUES = frozenset(
    (
        "not", "no", "never", "neither", "nor", "none", "without", "isnt", "wasnt", "arent", "werent",
        "doesnt", "didnt", "dont", "cannot", "cant", "except", "excluding", "rather", "instead", "unlike",
        "than", "or", "either", "maybe", "perhaps", "possibly", "probably", "likely", "unclear", "unsure",
        "guess", "before", "after", "preceded", "succeeded", "replaced", "predecessor", "successor", "former",
        "formerly", "previously", "originally", "later", "until", "since", "versus", "vs",
    )
)  # fmt: skip
# Function words that do not make two names overlap.
STOPWORDS = frozenset(
    (
        "of", "and", "or", "in", "on", "at", "to", "for", "from", "by", "with", "de", "la", "le", "du", "del",
        "der", "von", "van",
    )
)  # fmt: skip

CONTAINS_MAX_TOKENS = 10
NO_OVERLAP_MAX_TOKENS = 6
SIMILAR_PREFIX = 4  # tokens that share this many first letters may be forms of one word (Mexic-an / Mexic-o)
# difflib ratio above which two tokens may be spellings of one word (Columbia / Colombia).
SIMILAR_RATIO = 0.75
MIN_SIMILAR_LENGTH = 3
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class RuleInput:
    """What a rule sees: the answer (raw and normalised), the normalised golds, the rule matcher's result."""

    answer: str
    norm: str
    golds: tuple[str, ...]
    match: MatchResult

    @property
    def tokens(self) -> list[str]:
        return self.norm.split()


@dataclass(frozen=True)
class Rule:
    """A named rule: ``decides(x)`` is true when the rule gives ``verdict`` for ``x``."""

    name: str
    verdict: str
    decides: Callable[[RuleInput], bool]
    description: str


def rule_input(answer: str, gold: Sequence[str]) -> RuleInput:
    """Prepare one answer for the rules (normalisation and matching are cached: answers repeat)."""
    return _rule_input(answer, tuple(gold))


@lru_cache(maxsize=1 << 16)
def _rule_input(answer: str, gold: tuple[str, ...]) -> RuleInput:
    golds = tuple(dict.fromkeys(g for g in map(normalize_answer, gold) if g))
    return RuleInput(answer, normalize_answer(answer), golds, match_answer(answer, gold))


def _is_refusal(x: RuleInput) -> bool:
    return is_refusal(x.norm, x.match.correct)


def _is_exact(x: RuleInput) -> bool:
    return x.match.match == MATCH_EXACT


def _compact(text: str) -> str:
    return _NON_ALNUM.sub("", text)


def _is_compact_exact(x: RuleInput) -> bool:
    compact = _compact(x.norm)
    return bool(compact) and any(compact == _compact(g) for g in x.golds)


def _contains_any(x: RuleInput) -> bool:
    return x.match.match == MATCH_CONTAINS


def _contains_clean(x: RuleInput) -> bool:
    tokens = x.tokens
    return _contains_any(x) and len(tokens) <= CONTAINS_MAX_TOKENS and not REVERSAL_CUES.intersection(tokens)


def _is_yes_no_mismatch(x: RuleInput) -> bool:
    if not x.golds or any(g not in (YES, NO) for g in x.golds) or len(set(x.golds)) != 1:
        return False
    opposite = NO if x.golds[0] == YES else YES
    tokens = x.tokens
    return bool(tokens) and tokens[0] == opposite and x.golds[0] not in tokens


def _numbers(text: str) -> list[float]:
    return [float(t) for t in text.split() if _NUMBER.match(t)]


def _is_value_mismatch(x: RuleInput) -> bool:
    gold_numbers = [_numbers(g) for g in x.golds]
    answer_numbers = _numbers(x.norm)
    if not x.golds or not all(gold_numbers) or not answer_numbers or x.match.correct:
        return False
    # A gold whose numbers all appear in the answer may be the same value written differently (a date order).
    return not any(set(numbers) <= set(answer_numbers) for numbers in gold_numbers)


def _similar(a: str, b: str) -> bool:
    if min(len(a), len(b)) < MIN_SIMILAR_LENGTH:
        return False
    if a[:SIMILAR_PREFIX] == b[:SIMILAR_PREFIX] and min(len(a), len(b)) >= SIMILAR_PREFIX:
        return True
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    # The two quick ratios are upper bounds of ratio(): most pairs are rejected before the costly exact ratio.
    return (
        matcher.real_quick_ratio() >= SIMILAR_RATIO
        and matcher.quick_ratio() >= SIMILAR_RATIO
        and matcher.ratio() >= SIMILAR_RATIO
    )


def _is_acronym(short: str, long_tokens: list[str]) -> bool:
    return len(long_tokens) >= 2 and short == "".join(t[0] for t in long_tokens if t not in STOPWORDS)


def _content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS]


def _no_overlap_loose(x: RuleInput) -> bool:
    answer = set(_content(x.tokens))
    return bool(answer) and not x.match.correct and all(not answer & set(g.split()) for g in x.golds)


def _no_overlap(x: RuleInput) -> bool:
    if not _no_overlap_loose(x) or len(x.tokens) > NO_OVERLAP_MAX_TOKENS:
        return False
    if all(_numbers(g) for g in x.golds) and not _numbers(x.norm):
        return False  # a word answer to a numeric gold ("a dozen" for 12) is for the judge
    answer = _content(x.tokens)
    compact = _compact(x.norm)
    for gold in x.golds:
        gold_tokens = gold.split()
        if any(_similar(a, g) for a in answer for g in _content(gold_tokens)):
            return False
        if _is_acronym(compact, gold_tokens) or _is_acronym(_compact(gold), x.tokens):
            return False
    return True


CANDIDATE_RULES: tuple[Rule, ...] = (
    Rule("refusal", VERDICT_NOT_ATTEMPTED, _is_refusal, "a refusal with no guess and no gold in it"),
    Rule("exact", VERDICT_CORRECT, _is_exact, "equal to a gold after normalisation"),
    Rule("compact_exact", VERDICT_CORRECT, _is_compact_exact, "equal to a gold without spaces and symbols"),
    Rule(
        "contains_clean", VERDICT_CORRECT, _contains_clean, "short answer containing a gold, no reversal cue"
    ),
    Rule("contains_any", VERDICT_CORRECT, _contains_any, "any answer containing a gold (not kept)"),
    Rule(
        "yes_no_mismatch", VERDICT_INCORRECT, _is_yes_no_mismatch, "yes for a no gold, or no for a yes gold"
    ),
    Rule("value_mismatch", VERDICT_INCORRECT, _is_value_mismatch, "other numbers or date than every gold"),
    Rule(
        "no_overlap",
        VERDICT_INCORRECT,
        _no_overlap,
        "short answer sharing no word or word form with any gold",
    ),
    Rule("no_overlap_loose", VERDICT_INCORRECT, _no_overlap_loose, "any answer sharing no token (not kept)"),
)
RULES_BY_NAME = {rule.name: rule for rule in CANDIDATE_RULES}
# A candidate is kept when its decisions agree with the human labels at least this often on the labelled set.
KEEP_PRECISION = 0.99
# The rules kept after measurement (benchmarks/bench_judge.py checks this list against KEEP_PRECISION).
# Not kept: contains_clean (47/48: "Washington, D.C." contains the gold "Washington" but is another place),
# contains_any (55/57, also negations), no_overlap_loose (122/128: misspellings, demonyms, word forms).
CASCADE_RULE_NAMES = (
    "refusal",
    "exact",
    "compact_exact",
    "yes_no_mismatch",
    "value_mismatch",
    "no_overlap",
)
CASCADE_RULES: tuple[Rule, ...] = tuple(RULES_BY_NAME[name] for name in CASCADE_RULE_NAMES)


def get_rules(names: Sequence[str] | None = None) -> tuple[Rule, ...]:
    """The rules called ``names``, in order (default: the cascade's); ``ValueError`` for an unknown name."""
    if names is None:
        return CASCADE_RULES
    unknown = [n for n in names if n not in RULES_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES_BY_NAME)}")
    return tuple(RULES_BY_NAME[n] for n in names)


def decide(answer: str, gold: Sequence[str], rules: Sequence[Rule] = CASCADE_RULES) -> Rule | None:
    """The first rule deciding ``answer`` against ``gold``, or ``None`` when all abstain (ask the judge)."""
    x = rule_input(answer, gold)
    if not x.norm:
        return None
    return next((rule for rule in rules if rule.decides(x)), None)
