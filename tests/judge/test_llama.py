"""One short end-to-end judge run on a real model: SmolLM2-135M behind llama-cpp-python's server.

The model is far too small to be a good judge; the test checks the path (real HTTP, real chat template, real
5-token replies), that every reply becomes a verdict or a counted error, and that a re-run is served by the
cache.
"""

from __future__ import annotations

import pytest

from fs1.judge.judge import VERDICTS, load_judge
from fs1.judge.stage import MODE_ALL, judge_scores
from fs1.records import Question, Score

pytestmark = pytest.mark.slow

QUESTION = Question(
    ID="q", question="What is the capital of France?", main_answers=["Paris"], source_of_data="t"
)


def test_embedded_model_judges_through_llama_cpp_server(llama_server, tmp_path) -> None:
    answers = ["Paris", "Lyon", "It is Paris, the largest French city"]
    batch = [Score(id="q", sample=i, extracted=a, correct=False, match="none") for i, a in enumerate(answers)]
    cache = tmp_path / "cache.jsonl"
    # The SimpleQA-style prompt: SmolLM2 answers it with a letter (the 0/1 prompt makes it ramble: error verdicts).
    options = {"base_url": llama_server.base_url, "cache_path": cache, "prompt": "simpleqa"}
    judge = load_judge(llama_server.model_alias, **options)
    rows, stats = judge_scores(batch, {"q": QUESTION}, judge, mode=MODE_ALL)
    assert judge.counters.calls == 3 and judge.counters.completion_tokens <= 3 * 5
    assert judge.counters.prompt_tokens > 3 * 100  # the real prompt, tokenised by the server
    assert all(r.verdict in VERDICTS for r in rows)
    assert stats.errors == judge.counters.errors == sum(r.verdict == "error" for r in rows)
    again = load_judge(llama_server.model_alias, **options)
    rows_again, _ = judge_scores(batch, {"q": QUESTION}, again, mode=MODE_ALL)
    assert again.counters.calls == stats.errors  # only the unparseable replies are asked again
    valid = [i for i, r in enumerate(rows) if r.verdict != "error"]
    assert [rows_again[i].verdict for i in valid] == [rows[i].verdict for i in valid]
