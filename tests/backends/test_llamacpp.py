"""The llama.cpp backend on the embedded SmolLM2 GGUF: batched multi-sequence decoding, continuation without
re-prefill, parking when sequences outnumber slots, stop strings, seeds, and budget forcing on top of it."""

from __future__ import annotations

import pytest

from fs1.backends import load_backend
from fs1.backends.base import BackendError, SamplingParams
from fs1.backends.llamacpp import LlamaCppBackend
from fs1.errors import ConfigError
from fs1.generate.budget import BudgetConfig, budget_forcing
from fs1.prompts import ANSWER_MARKER, THINK_START

pytestmark = pytest.mark.slow

GREEDY = SamplingParams(max_tokens=16)
SAMPLED = SamplingParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=10)
QUESTIONS = ("What is the capital of France?", "Who wrote Hamlet?", "Name a prime number.")


@pytest.fixture(scope="module")
def backend():  # noqa: ANN201
    # The shipped Q4_1 weights as they are: some expectations below are that model's greedy text.
    engine = LlamaCppBackend("smollm2-135m", threads=1, slots=8, ctx_per_sequence=1024, weights="as-is")
    yield engine
    engine.shutdown()


@pytest.fixture(scope="module")
def prompts(backend):  # noqa: ANN001, ANN201
    return [backend.chat_prompt(q) for q in QUESTIONS]


def test_chat_template_matches_transformers(backend, smollm2_tokenizer):  # noqa: ANN001
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    expected = smollm2_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert backend.chat_prompt(QUESTIONS[0]) == expected
    assert backend.count_tokens("<|im_start|>answer") == 2  # the marker's special token is parsed


def test_greedy_answer_and_end_of_turn(backend):  # noqa: ANN001
    prompt = backend.chat_prompt("What is the capital of Germany?")
    (out,) = backend.generate([prompt], SamplingParams(max_tokens=40))[0]
    assert (
        "Berlin" in out.text
        and out.finish_reason == "stop"
        and out.stop is None
        and "<|im_end|>" not in out.text
    )


def test_batch_and_split_equal_single_calls(backend, prompts):  # noqa: ANN001
    batched = [o[0].text for o in backend.generate(prompts, GREEDY)]
    single = [backend.generate([p], GREEDY)[0][0].text for p in prompts]
    assert batched == single
    seqs = backend.open(prompts)
    backend.continue_(seqs, SamplingParams(max_tokens=6))
    backend.continue_(seqs, SamplingParams(max_tokens=10))
    assert [s.text for s in seqs] == batched
    backend.close(seqs)


def test_prefill_accounting(backend, prompts):  # noqa: ANN001
    length = len(backend._encode_prompt(prompts[1]))
    before = backend.stats.prefilled_tokens
    seqs = backend.open([prompts[1]], n=4, seeds=[1, 2, 3, 4])
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    assert backend.stats.prefilled_tokens - before == length - 1 + 4
    before = backend.stats.prefilled_tokens
    backend.append(seqs, [" Wait,"] * 4)
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    assert backend.stats.prefilled_tokens - before == 4 * backend.count_tokens(" Wait,")
    backend.close(seqs)


def test_more_sequences_than_slots_park_and_restore(prompts):  # noqa: ANN001
    small = LlamaCppBackend("smollm2-135m", threads=1, slots=2, ctx_per_sequence=512, weights="as-is")
    large = LlamaCppBackend("smollm2-135m", threads=1, slots=8, ctx_per_sequence=512, weights="as-is")
    seeds = list(range(6))
    texts = []
    for engine in (small, large):
        seqs = engine.open(prompts[:2], n=3, seeds=seeds)
        engine.continue_(seqs, SAMPLED)
        engine.append(seqs, [" Wait,"] * 6)
        engine.continue_(seqs, SAMPLED)
        texts.append([s.text for s in seqs])
        engine.shutdown()
    assert texts[0] == texts[1] and len(set(texts[0])) > 1


def test_stop_string_rolls_back_state(backend, prompts):  # noqa: ANN001
    seqs = backend.open([prompts[0]])
    (out,) = backend.continue_(seqs, SamplingParams(max_tokens=40, stop=["Marseillaise"]))
    assert out.finish_reason == "stop" and out.stop == "Marseillaise" and out.text.endswith("la ")
    backend.append(seqs, ["Marseillaise"])
    held = b"".join(backend._piece(t) for t in seqs[0].state.ids).decode("utf-8")
    assert held == seqs[0].prompt + seqs[0].text  # the cut stop string left nothing behind in the sequence
    backend.close(seqs)


def test_seeds_reproducible(backend, prompts):  # noqa: ANN001
    runs = [backend.open(prompts[:1], n=3, seeds=[7, 8, 9]) for _ in range(2)]
    texts = [[o.text for o in backend.continue_(seqs, SAMPLED)] for seqs in runs]
    assert texts[0] == texts[1] and len(set(texts[0])) > 1


def test_budget_forcing_sweep_on_llamacpp(backend):  # noqa: ANN001
    prompts = [backend.chat_prompt(q) + THINK_START for q in QUESTIONS[:2]]
    common = {"min_think_tokens": 40, "answer_max_tokens": 12}
    cont = list(budget_forcing(backend, prompts, 1, SamplingParams(), BudgetConfig([16, 48], **common)))
    scratch = list(
        budget_forcing(
            backend, prompts, 1, SamplingParams(), BudgetConfig([16, 48], continue_sweep=False, **common)
        )
    )
    key = lambda o: (o.budget, o.prompt_index)  # noqa: E731
    assert [vars(o) for o in sorted(cont, key=key)] == [vars(o) for o in sorted(scratch, key=key)]
    for out in cont:
        assert ANSWER_MARKER in out.text and out.think_tokens <= out.budget


def test_load_errors(tmp_path):  # noqa: ANN001
    with pytest.raises(BackendError, match="GGUF"):
        load_backend("llamacpp", str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="weights"):
        load_backend("llamacpp", "smollm2-135m", weights="q3_z")


@pytest.mark.parametrize(
    ("model", "flags", "expected"),
    [
        ("smollm2-135m", {"avx2", "fma"}, "f16"),  # no native BF16: f16, converted inside the matmul
        ("smollm2-135m", {"avx2", "avx512f"}, "f16"),
        ("smollm2-135m", {"avx512f", "avx512_bf16"}, "bf16"),
        ("smollm2-135m", {"amx_bf16"}, "bf16"),
        ("/models/own.gguf", {"avx512_bf16"}, "as-is"),  # a user's file is never rewritten behind their back
    ],
)
def test_auto_weights_follow_cpu_flags(model, flags, expected):  # noqa: ANN001
    from fs1.backends.llamacpp import auto_weights

    kind, why = auto_weights(model, frozenset(flags))
    assert kind == expected and why


def test_converted_weights_cached_and_answering(tmp_path, monkeypatch, capsys):  # noqa: ANN001
    monkeypatch.setenv("FS1_CACHE_DIR", str(tmp_path))
    engine = LlamaCppBackend("smollm2-135m", threads=1, slots=2, ctx_per_sequence=256, weights="f16")
    (converted,) = tmp_path.glob("models/*.f16.gguf")
    stamp = converted.stat().st_mtime_ns
    assert engine.describe()["weights"] == "F16" and "f16" in engine.weights_note
    prompt = engine.chat_prompt("What is the capital of France? Answer in one word.")
    (out,) = engine.generate([prompt], SamplingParams(max_tokens=8))[0]
    assert "Paris" in out.text
    engine.shutdown()
    again = LlamaCppBackend("smollm2-135m", threads=1, slots=2, ctx_per_sequence=256, weights="f16")
    assert converted.stat().st_mtime_ns == stamp and not list(tmp_path.glob("models/.*tmp"))  # reused
    again.shutdown()
    shipped = LlamaCppBackend("smollm2-135m", threads=1, slots=2, ctx_per_sequence=256, weights="as-is")
    assert shipped.describe()["weights"] == "Q4_1"
    shipped.shutdown()
    assert (
        "llamacpp:" not in capsys.readouterr().err
    )  # chosen weights are announced only when auto chose them
    chosen = LlamaCppBackend("smollm2-135m", threads=1, slots=2, ctx_per_sequence=256)
    assert chosen.weights_note in capsys.readouterr().err.splitlines() and "(auto: " in chosen.weights_note
    chosen.shutdown()


def test_greedy_n_samples_are_decoded_once_and_copied(backend, prompts):  # noqa: ANN001
    before = backend.stats.generated_tokens
    [outs] = backend.generate(prompts[:1], SamplingParams(n=3, temperature=0.0, max_tokens=6))
    assert len(outs) == 3 and len({o.text for o in outs}) == 1
    assert backend.stats.generated_tokens - before == outs[0].tokens  # decoded once, as on every backend
