"""The token-count contract over a server (``fs1.backends.openai.counting``): a completion counts the generated tokens
that spell its text, without the end-of-sequence token and without the stop string's tokens, whatever the server
reports in ``usage`` (vLLM and llama.cpp count both). Replies are built as vLLM returns them (``return_token_ids``)
with SmolLM2's real tokenizer; the real server is checked end to end in tests/backends/test_vllm_cpu.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from fs1.backends.openai.counting import choice_tokens
from fs1.backends.openai.protocol import Choice

ANSWER = "The atomic number of gold is 79."
PROMPT = "<|im_start|>user\nWhat is the atomic number of gold?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture
def tokenizer(smollm2_tokenizer: Any) -> Any:
    return smollm2_tokenizer


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer.encode(text, add_special_tokens=False))


def _decoder(tokenizer: Any) -> Any:
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=False)


def _counter(tokenizer: Any) -> Any:
    return lambda text: len(_encode(tokenizer, text))


def _choice(tokenizer: Any, text: str, ids: list[int], finish: str, stop_reason: Any = None) -> Choice:
    return Choice(text=text, finish_reason=finish, stop_reason=stop_reason, token_ids=ids,
                  prompt_token_ids=_encode(tokenizer, PROMPT))  # fmt: skip


def test_an_end_of_sequence_is_not_counted(tokenizer: Any) -> None:
    ids = [*_encode(tokenizer, ANSWER), tokenizer.eos_token_id]  # vLLM returns the EOS id, not its text
    choice = _choice(tokenizer, ANSWER, ids, "stop")
    assert choice_tokens(choice, _decoder(tokenizer), _counter(tokenizer)) == len(ids) - 1 == 10


def test_a_stop_token_id_is_not_counted(tokenizer: Any) -> None:
    ids = [*_encode(tokenizer, ANSWER), tokenizer.eos_token_id]
    choice = _choice(tokenizer, ANSWER, ids, "stop", stop_reason=tokenizer.eos_token_id)
    assert choice_tokens(choice, _decoder(tokenizer), _counter(tokenizer)) == 10


def test_a_stop_string_on_a_token_boundary_leaves_its_tokens_out(tokenizer: Any) -> None:
    """The model said the s1 answer marker: vLLM's ids hold its tokens, its text does not."""
    marker = "<|im_start|>answer"
    ids = _encode(tokenizer, ANSWER + marker)
    choice = _choice(tokenizer, ANSWER, ids, "stop", stop_reason=marker)
    assert len(ids) > 10 and choice_tokens(choice, _decoder(tokenizer), _counter(tokenizer)) == 10


def test_a_stop_string_inside_a_token_counts_the_tokens_of_the_text_before_it(tokenizer: Any) -> None:
    """``umber`` begins inside the token `` number``: the text is ``The atomic n``, counted as its own tokens (as
    transformers and llama.cpp, which roll back to the text, count it), not as the two whole ids before the cut."""
    ids = _encode(tokenizer, ANSWER)
    choice = _choice(tokenizer, "The atomic n", ids, "stop", stop_reason="umber")
    assert choice_tokens(choice, _decoder(tokenizer), _counter(tokenizer)) == len(
        _encode(tokenizer, "The atomic n")
    )


def test_a_cut_by_the_cap_counts_every_generated_id(tokenizer: Any) -> None:
    ids = _encode(tokenizer, ANSWER)[:6]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    assert (
        choice_tokens(_choice(tokenizer, text, ids, "length"), _decoder(tokenizer), _counter(tokenizer)) == 6
    )


def test_a_server_without_ids_counts_a_stopped_text_and_leaves_a_cut_to_its_usage(tokenizer: Any) -> None:
    """llama.cpp's server returns no ids: a stop is counted from the text; a cut by the cap is the server's count."""
    stopped = Choice(text=ANSWER, finish_reason="stop")
    cut = Choice(text="The atomic", finish_reason="length")
    assert choice_tokens(stopped, _decoder(tokenizer), _counter(tokenizer)) == 10
    assert choice_tokens(cut, _decoder(tokenizer), _counter(tokenizer)) is None


def test_without_a_detokenizer_a_stop_string_end_is_counted_from_the_text(tokenizer: Any) -> None:
    """No local tokenizer and no ``/detokenize``: the ids cannot be decoded, the text's tokens are counted."""
    ids = _encode(tokenizer, ANSWER + "<|im_start|>answer")
    choice = _choice(tokenizer, ANSWER, ids, "stop", stop_reason="<|im_start|>answer")
    assert choice_tokens(choice, lambda ids: None, _counter(tokenizer)) == 10
    assert choice_tokens(choice, lambda ids: None, lambda text: None) is None
