"""Scoring: answer extraction, normalisation, gold matching, pass@k / maj@k and the summary (the judge lives in
``judge*.py``). Public API re-exported here."""

from fs1.scoring.extract import Extraction, extract, extract_answer
from fs1.scoring.match import MatchResult, match_answer
from fs1.scoring.metrics import majority_vote, pass_at_k
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.prediction import score_prediction
from fs1.scoring.score import score_file, score_predictions
from fs1.scoring.summary import DEFAULT_KS, VerdictColumns, aggregate, summarise

__all__ = [
    "DEFAULT_KS",
    "Extraction",
    "MatchResult",
    "VerdictColumns",
    "aggregate",
    "extract",
    "extract_answer",
    "majority_vote",
    "match_answer",
    "normalize_answer",
    "pass_at_k",
    "score_file",
    "score_prediction",
    "score_predictions",
    "summarise",
]
