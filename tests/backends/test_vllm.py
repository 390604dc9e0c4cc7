"""VLLMBackend on a stand-in ``vllm`` module injected into ``sys.modules``.

Why a stand-in: vLLM cannot run without a CUDA GPU, and this suite runs on CPU. The stand-in
(tests/support/fake_vllm.py, mirroring vLLM 0.33) keeps vLLM's API shape and contracts (validation on
``SamplingParams``, the context limit, prompt-primed decoding, stop strings cut from the text but not from the token
ids, EOS ids, finish reasons, prefix-cache hits, no equality across batch compositions without batch invariance)
with real tokenizers (SmolLM2's byte-level BPE and a Metaspace one built here), so the backend's own code path runs
unchanged. The real engine is exercised by scripts/gpu_check_vllm.py on a GPU machine.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import pytest

from fs1.backends import load_backend
from fs1.backends.base import BackendError, SamplingParams
from fs1.backends.vllm import BATCH_INVARIANT_ENV
from fs1.prompts import ANSWER_MARKER, FORCED_ANSWER, THINK_START, WAIT
from tests.support import fake_vllm

MODEL = "org/tiny-model"  # never read: the stand-in LLM only records it
THOUGHT = "Rome is the capital of Italy."
SECOND_THOUGHT = " It has been the capital since 1871, and it is also the largest city in the country."


def script(context: str, rng: random.Random) -> str:
    """The stand-in model: answers at once, reconsiders after a Wait, answers after the forced marker."""
    if context.endswith(FORCED_ANSWER):
        return "Answer: \\boxed{Rome}"
    if context.endswith(WAIT):
        return SECOND_THOUGHT + ANSWER_MARKER + "\nRome"
    if context.endswith(THINK_START):
        return THOUGHT + ANSWER_MARKER + "\nRome"
    return rng.choice(["Paris", "Lyon", "Nice", "Lille"]) + " is a city."


@pytest.fixture(autouse=True)
def engine_output_in_tmp_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """vLLM's output file (a temporary file outside a stage, kept when an error names it) goes to the test's own
    directory, not the system's temporary one."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def vllm_module(monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any) -> Any:
    return fake_vllm.install(monkeypatch, smollm2_tokenizer, script)


@pytest.fixture
def backend(vllm_module: Any) -> Any:
    return load_backend("vllm", MODEL, seed=3)


def engine(vllm_module: Any) -> fake_vllm.LLM:
    return vllm_module.engines[-1]


def generated_ids(vllm_module: Any) -> list[int]:
    """The token ids the engine returned for its last output (stop string and EOS included, as vLLM's are)."""
    return list(engine(vllm_module).outputs[-1].token_ids)


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(BackendError, match=r"fs1\[vllm\]"):
        load_backend("vllm", MODEL)


def test_engine_gets_prefix_caching_and_seed(backend: Any, vllm_module: Any) -> None:
    llm = engine(vllm_module)
    assert llm.model == MODEL
    assert llm.engine_args["enable_prefix_caching"] is True and llm.engine_args["seed"] == 3
    assert "max_model_len" not in llm.engine_args  # None means the model's own, so it is not passed


def test_generate_fans_out_one_seeded_request_per_sample(backend: Any, vllm_module: Any) -> None:
    prompts = [backend.chat_prompt("Name a French city."), backend.chat_prompt("Name another French city.")]
    params = SamplingParams(
        n=3, temperature=0.8, top_p=0.95, top_k=40, repetition_penalty=1.05, max_tokens=20, seed=9
    )
    grouped = backend.generate(prompts, params)
    requests = engine(vllm_module).requests
    # sample j of prompt i draws with seed + i*n + j, as on every other local backend; the prompt's blocks are shared
    assert [sp.seed for _, sp in requests] == [9, 10, 11, 12, 13, 14]
    assert all((sp.n, sp.top_k, sp.repetition_penalty, sp.skip_special_tokens) == (1, 40, 1.05, False)
               for _, sp in requests)  # fmt: skip
    assert requests[0][0] == backend.tokenizer.encode(prompts[0], add_special_tokens=False)
    assert len({o.text for o in grouped[0]}) > 1
    assert all(o.finish_reason == "stop" and o.text.endswith("is a city.") for g in grouped for o in g)
    assert backend.stats.prefilled_tokens < sum(len(ids) for ids, _ in requests)


def test_greedy_n_samples_are_decoded_once_and_copied(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Name a French city.")
    [outs] = backend.generate([prompt], SamplingParams(n=3, temperature=0.0, max_tokens=20))
    assert len(engine(vllm_module).requests) == 1  # vLLM itself would reject n=3 at temperature 0
    assert len(outs) == 3 and len({o.text for o in outs}) == 1 and outs[0] is not outs[1]


@pytest.mark.parametrize(
    ("change", "named"),
    [({"temperature": 2.5}, "temperature"), ({"top_p": 0.0}, "top_p"), ({"stop": [""]}, "stop"),
     ({"repetition_penalty": 0.0}, "repetition_penalty")],
)  # fmt: skip
def test_vllm_validation_errors_become_backend_errors(backend: Any, change: dict, named: str) -> None:
    [seq] = backend.open([backend.chat_prompt("A city?")])
    with pytest.raises(BackendError, match=f"vLLM rejected the sampling parameters: {named}"):
        backend.continue_([seq], SamplingParams(max_tokens=5, **change))


def test_engine_that_cannot_start_is_a_backend_error(vllm_module: Any) -> None:
    with pytest.raises(BackendError, match="could not start an engine.*max_model_len"):
        load_backend("vllm", MODEL, max_model_len=1 << 20)


def test_batch_invariance_is_set_before_the_engine_starts(
    monkeypatch: pytest.MonkeyPatch, vllm_module: Any
) -> None:
    monkeypatch.setenv(BATCH_INVARIANT_ENV, "0")  # restored after the test
    plain = load_backend("vllm", MODEL)
    assert not engine(vllm_module).batch_invariant
    invariant = load_backend("vllm", MODEL, batch_invariant=True)
    assert engine(vllm_module).batch_invariant and os.environ[BATCH_INVARIANT_ENV] == "1"
    prompt = invariant.chat_prompt("Name a French city.")
    params = SamplingParams(temperature=0.8, max_tokens=20, seed=4)
    alone = invariant.generate([prompt], params)[0][0].text
    in_a_batch = invariant.generate([prompt, invariant.chat_prompt("Another?")], params)[0][0].text
    assert alone == in_a_batch  # same seed, other batch composition: same text only under batch invariance
    assert plain.options.batch_invariant is False


def test_stop_string_is_cut_from_text_and_from_the_ids(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    [seq] = backend.open([prompt], seeds=[5])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    assert out.text == THOUGHT and out.stop == ANSWER_MARKER and out.finish_reason == "stop"
    generated = engine(vllm_module).requests  # the engine's tokens include the marker's; the state must not
    assert backend.tokenizer.decode(seq.state.ids, skip_special_tokens=False) == prompt + THOUGHT
    # the marker's tokens were generated but are not counted: tokens spell the text, as on every backend
    assert out.tokens == backend.count_tokens(THOUGHT) < len(generated_ids(vllm_module))
    assert generated[0][1].seed == 5


def test_continuation_feeds_ids_and_hits_the_prefix_cache(backend: Any, vllm_module: Any) -> None:
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    [seq] = backend.open([prompt])
    backend.continue_([seq], SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    before = list(seq.state.ids)
    backend.append([seq], [WAIT])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=8, stop=[ANSWER_MARKER]))
    second_ids, second_sp = engine(vllm_module).requests[1]
    assert second_ids == before + backend.tokenizer.encode(WAIT, add_special_tokens=False)
    assert second_sp.max_tokens == 8 and out.finish_reason == "length" and out.tokens == 8
    assert seq.text == THOUGHT + WAIT + out.text and SECOND_THOUGHT.startswith(out.text)
    total_prompt = len(engine(vllm_module).requests[0][0]) + len(second_ids)
    # the second round re-sent the first prompt's blocks: only its tail and the new tokens were prefilled
    assert backend.stats.prefilled_tokens <= total_prompt - (len(before) // fake_vllm.BLOCK) * fake_vllm.BLOCK


def test_end_of_sequence_is_not_kept_in_the_ids(backend: Any) -> None:
    [seq] = backend.open([backend.chat_prompt("Say something.")], seeds=[1])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=50, temperature=0.7))
    assert out.stop is None and out.finish_reason == "stop"
    assert seq.state.ids[-1] != backend.tokenizer.eos_token_id


def test_sequence_caps_become_per_request_max_tokens(backend: Any, vllm_module: Any) -> None:
    seqs = backend.open([backend.chat_prompt("A city?")], n=3, seeds=[1, 2, 3])
    seqs[0].max_tokens, seqs[1].max_tokens = 2, 0
    outs = backend.continue_(seqs, SamplingParams(max_tokens=30, temperature=0.7))
    caps = [sp.max_tokens for _, sp in engine(vllm_module).requests]
    assert caps == [2, 30] and outs[1].tokens == 0 and outs[0].tokens == 2
    assert [sp.seed for _, sp in engine(vllm_module).requests] == [1, 3]


def test_budget_forcing_through_the_backend(backend: Any, vllm_module: Any) -> None:
    from fs1.generate.budget import BudgetConfig, budget_forcing

    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    cfg = BudgetConfig(budgets=[64], min_think_tokens=20, answer_max_tokens=32)
    [out] = list(budget_forcing(backend, [prompt], 1, SamplingParams(max_tokens=64), cfg))
    assert out.waits == 1 and out.meta["think_end"] == "natural"
    assert out.text == THOUGHT + WAIT + SECOND_THOUGHT + FORCED_ANSWER + "Answer: \\boxed{Rome}"
    requests = engine(vllm_module).requests
    assert [sp.stop for _, sp in requests] == [[ANSWER_MARKER], [ANSWER_MARKER], []]
    # each round extends the previous ids: nothing of the history is re-tokenised differently
    assert all(requests[i + 1][0][: len(requests[i][0])] == requests[i][0] for i in range(len(requests) - 1))
    resent = sum(len(ids) for ids, _ in requests)
    assert backend.stats.prefilled_tokens < resent  # the prefix cache saved part of the re-sent history


# --- the context limit ----------------------------------------------------------------------------------------


def small_context(monkeypatch: pytest.MonkeyPatch, tokenizer: Any, length: int) -> tuple[Any, Any]:
    module = fake_vllm.install(monkeypatch, tokenizer, script, model_len=length)
    return module, load_backend("vllm", MODEL)


def test_a_sequence_that_fills_the_context_finishes_with_reason_context(
    monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any
) -> None:
    probe = fake_vllm.install(monkeypatch, smollm2_tokenizer, script)
    prompt_len = load_backend("vllm", MODEL).count_tokens(
        load_backend("vllm", MODEL).chat_prompt("Capital of Italy?") + THINK_START
    )
    assert probe.engines
    module, backend = small_context(monkeypatch, smollm2_tokenizer, prompt_len + 4)
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    long_prompt = backend.chat_prompt("Capital of Italy? " + "Think hard. " * 3) + THINK_START
    seqs = backend.open([prompt, long_prompt])
    outs = backend.continue_(seqs, SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    # the first fits 4 more tokens and is cut there; the second never fits: not sent, and it fails nothing else
    assert (outs[0].finish_reason, outs[0].tokens) == ("context", 4)
    assert (outs[1].finish_reason, outs[1].tokens) == ("context", 0)
    [(sent, sp)] = engine(module).requests
    assert len(sent) == prompt_len and sp.max_tokens == 4
    again = backend.continue_(seqs[:1], SamplingParams(max_tokens=100))
    assert again[0].finish_reason == "context" and len(engine(module).requests) == 1  # full: not sent again


def test_a_refusal_by_vllm_itself_is_a_backend_error(
    monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any
) -> None:
    module, backend = small_context(monkeypatch, smollm2_tokenizer, 16)
    backend.max_model_len = None  # an engine whose length could not be read: vLLM's own check is what remains
    [seq] = backend.open([backend.chat_prompt("Capital of Italy?")])
    with pytest.raises(BackendError, match="vLLM refused the request: The decoder prompt"):
        backend.continue_([seq], SamplingParams(max_tokens=4))


def test_a_budget_cap_below_the_room_is_still_a_spent_budget(
    monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any
) -> None:
    module, backend = small_context(monkeypatch, smollm2_tokenizer, 4096)
    [seq] = backend.open([backend.chat_prompt("Capital of Italy?") + THINK_START])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=3, stop=[ANSWER_MARKER]))
    assert (out.finish_reason, out.tokens) == ("length", 3)


def test_budget_forcing_never_reads_a_full_context_as_a_spent_budget(
    monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any
) -> None:
    from fs1.generate.budget import BudgetConfig, budget_forcing

    fake_vllm.install(monkeypatch, smollm2_tokenizer, script)
    prompt_len = load_backend("vllm", MODEL).count_tokens(
        load_backend("vllm", MODEL).chat_prompt("Capital of Italy?") + THINK_START
    )
    module, backend = small_context(monkeypatch, smollm2_tokenizer, prompt_len + 5)
    prompt = backend.chat_prompt("Capital of Italy?") + THINK_START
    cfg = BudgetConfig(budgets=[64], min_think_tokens=40, answer_max_tokens=32)
    [out] = list(budget_forcing(backend, [prompt], 1, SamplingParams(max_tokens=64), cfg))
    # no Wait appended into a full context, no forced answer read as "budget reached": the record says why
    assert out.meta["think_end"] == "context" and out.finish_reason == "context"
    assert out.waits == 0 and out.think_tokens == 5 and out.answer_tokens == 0


# --- finish reasons -----------------------------------------------------------------------------------------


def test_a_retryable_error_is_asked_again_once(backend: Any, vllm_module: Any) -> None:
    [seq] = backend.open([backend.chat_prompt("Capital of Italy?") + THINK_START], seeds=[2])
    engine(vllm_module).inject.append("error")
    [out] = backend.continue_([seq], SamplingParams(max_tokens=100, stop=[ANSWER_MARKER]))
    assert out.text == THOUGHT and len(engine(vllm_module).requests) == 2


@pytest.mark.parametrize("reasons", [["error", "error"], ["abort"]])
def test_errors_and_aborts_raise(backend: Any, vllm_module: Any, reasons: list[str]) -> None:
    [seq] = backend.open([backend.chat_prompt("Capital of Italy?")])
    engine(vllm_module).inject.extend(reasons)
    with pytest.raises(BackendError, match=f"finish reason '{reasons[-1]}'"):
        backend.continue_([seq], SamplingParams(max_tokens=10))


def test_repetition_is_reported_as_such(backend: Any, vllm_module: Any) -> None:
    [seq] = backend.open([backend.chat_prompt("Capital of Italy?")])
    engine(vllm_module).inject.append("repetition")
    [out] = backend.continue_([seq], SamplingParams(max_tokens=10))
    assert out.finish_reason == "repetition" and out.tokens == 1


def test_eos_at_the_cap_reported_as_length_by_old_vllm_is_a_stop(backend: Any) -> None:
    eos = backend.tokenizer.eos_token_id
    ids = backend.tokenizer.encode("Rome", add_special_tokens=False) + [eos]
    text = "Rome" + backend.tokenizer.decode([eos], skip_special_tokens=False)
    old = fake_vllm.CompletionOutput(0, text, ids, None, None, "length")  # what vLLM 0.10/0.11 return
    assert backend._finish(old, False) == ("stop", ids, "Rome")


# --- decoding in context (SentencePiece / Metaspace tokenizers) ---------------------------------------------


@pytest.fixture(scope="module")
def metaspace_tokenizer() -> Any:
    """A small BPE tokenizer with a Metaspace pre-tokenizer and decoder, as Llama-2 and Mistral have."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    core.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
    corpus = [THOUGHT, SECOND_THOUGHT, "Paris Lyon Nice Lille is a city. Answer: Rome Wait, Question:"] * 20
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>", ANSWER_MARKER])
    core.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def test_metaspace_continuation_keeps_the_generated_ids(
    monkeypatch: pytest.MonkeyPatch, metaspace_tokenizer: Any
) -> None:
    module = fake_vllm.install(monkeypatch, metaspace_tokenizer, script)
    backend = load_backend("vllm", MODEL)
    encoded: list[str] = []
    encode = backend._encode
    monkeypatch.setattr(backend, "_encode", lambda text: encoded.append(text) or encode(text))
    prompt = "Question: Capital of Italy? Answer:"
    [seq] = backend.open([prompt], seeds=[1])
    [out] = backend.continue_([seq], SamplingParams(max_tokens=40, temperature=0.7))
    [(sent, _)] = engine(module).requests
    [made] = engine(module).outputs
    assert out.text.startswith(" ")  # vLLM's primed decoding keeps the leading space of "\u2581Paris"
    # the ids carried to the next round are the engine's own (EOS cut), the text was never re-encoded
    assert (
        seq.state.ids == sent + made.token_ids[:-1] and out.tokens == len(made.token_ids) - 1
    )  # EOS not counted
    assert out.text not in encoded and all(not text for text in encoded)
    backend.append([seq], [WAIT])
    backend.continue_([seq], SamplingParams(max_tokens=5, temperature=0.7))
    second, _ = engine(module).requests[1]
    assert second[: len(sent) + len(made.token_ids) - 1] == sent + made.token_ids[:-1]


# --- CPU defaults, options, checks before the engine starts ---------------------------------------------------


def test_sampling_is_checked_before_an_engine_starts(vllm_module: Any, tmp_path: Any) -> None:
    """--temperature 2.5 is refused by vLLM's own SamplingParams, before the (minute-long on CPU) engine start."""
    from fs1.data import load_benchmark
    from fs1.generate.predictions import GenerateConfig
    from fs1.generate.progress import generate_with_progress

    config = GenerateConfig(backend="vllm", model=MODEL, temperature=2.5)
    refused = r"vLLM rejected the sampling parameters: temperature must be in \[0, 2\]"
    with pytest.raises(BackendError, match=refused):
        generate_with_progress(load_benchmark("sample", limit=1), config, tmp_path / "p.jsonl", resume=False)
    assert vllm_module.engines == [] and not (tmp_path / "p.jsonl").exists()


def cpu_host(flags: frozenset[str] = frozenset(), available_gib: float = 12.0, env: str | None = None) -> Any:
    from fs1.backends.vllm_engine import GiB, Host

    return Host(on_cpu=True, cpu_flags=flags, available_bytes=int(available_gib * GiB), kv_cache_env=env)


@pytest.mark.parametrize(
    ("flags", "available", "dtype", "kv_gib"),
    [(frozenset({"avx2"}), 12.0, "float32", 3.0), (frozenset({"avx512_bf16"}), 40.0, "bfloat16", 8.0),
     (frozenset({"amx_bf16"}), 2.0, "bfloat16", 1.0)],
)  # fmt: skip
def test_cpu_defaults_follow_the_host(
    flags: frozenset[str], available: float, dtype: str, kv_gib: float
) -> None:
    from fs1.backends.vllm_engine import GiB, VLLMOptions, engine_args

    args, note = engine_args(VLLMOptions(), cpu_host(flags, available))
    assert args["dtype"] == dtype and args["enforce_eager"] is True and args["block_size"] == 32
    assert args["kv_cache_memory_bytes"] == int(kv_gib * GiB)
    assert note is not None and note.startswith("vllm on CPU: ") and "\n" not in note
    assert dtype in note and f"KV cache {kv_gib:g} GiB" in note


def test_given_options_win_over_cpu_defaults_and_gpu_gets_none() -> None:
    from fs1.backends.vllm_engine import GiB, Host, VLLMOptions, engine_args

    given = VLLMOptions(dtype="float32", kv_cache_gib=0.5, enforce_eager=False, block_size=32)
    args, note = engine_args(given, cpu_host(frozenset({"avx512_bf16"})))
    assert (args["dtype"], args["kv_cache_memory_bytes"], args["enforce_eager"]) == (
        "float32",
        GiB // 2,
        False,
    )
    assert args["block_size"] == 32 and note is None  # nothing chosen for the user: nothing said
    _, env_note = engine_args(VLLMOptions(dtype="float32"), cpu_host(env="3"))
    assert env_note == (
        "vllm on CPU: eager mode, 32-token KV blocks, KV cache 3 GiB (VLLM_CPU_KVCACHE_SPACE from the environment)"
    )
    gpu, gpu_note = engine_args(VLLMOptions(), Host(False, frozenset({"avx512_bf16"}), None, None))
    assert gpu_note is None and gpu["dtype"] == "auto" and "enforce_eager" not in gpu
    assert "kv_cache_memory_bytes" not in gpu and "block_size" not in gpu  # vLLM's own defaults on a GPU


@pytest.mark.parametrize(
    ("options", "named"),
    [({"block_size": 20}, "block_size"), ({"dtype": "fp8"}, "dtype"), ({"kv_cache_gib": 0}, "kv_cache_gib"),
     ({"swap_space": 4}, "swap_space")],
)  # fmt: skip
def test_engine_options_are_a_declared_validated_list(vllm_module: Any, options: dict, named: str) -> None:
    from fs1.errors import BackendError, ConfigError

    with pytest.raises((ConfigError, BackendError), match=named):  # by the model reference, or on open
        load_backend("vllm", MODEL, **options)
    assert vllm_module.engines == []


def test_cpu_platform_starts_with_the_cpu_defaults_and_says_so(
    monkeypatch: pytest.MonkeyPatch, smollm2_tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    module = fake_vllm.install(monkeypatch, smollm2_tokenizer, script, cpu=True)
    load_backend("vllm", MODEL, block_size=64)
    args = engine(module).engine_args
    assert args["enforce_eager"] is True and args["block_size"] == 64 and args["kv_cache_memory_bytes"] > 0
    assert args["dtype"] in ("float32", "bfloat16")
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("vllm on CPU")]
    assert "eager mode" in line and "KV cache" in line
    with pytest.raises(BackendError, match="batch_invariant needs vLLM's GPU kernels"):
        load_backend("vllm", MODEL, batch_invariant=True)
    assert len(module.engines) == 1  # refused before a second engine started


def test_the_root_cause_is_what_the_engine_said_went_wrong_not_a_pointer() -> None:
    """Excerpts of real vLLM 0.32 CPU output: a failed start, and the model worker killed mid-run."""
    from fs1.backends.vllm_engine import root_cause

    failed_start = """\
(EngineCore pid=18312) INFO 12-06 07:06:26 [core.py:133] Initializing a V1 LLM engine (v0.32.0)
(EngineCore pid=18312) ERROR 12-06 07:07:18 [core.py:1100] EngineCore failed to start.
(EngineCore pid=18312) ERROR 12-06 07:07:18 [core.py:1100] Traceback (most recent call last):
(EngineCore pid=18312) ERROR 12-06 07:07:18 [core.py:1100]   File "vllm/v1/engine/core.py", line 90, in __init__
(EngineCore pid=18312) ERROR 12-06 07:07:18 [core.py:1100] ValueError: To serve at least one request (0.09 GiB KV cache is needed)
(EngineCore pid=18312) ERROR 12-06 07:07:23 [multiproc_executor.py:315] Worker proc VllmWorker-0 died unexpectedly (exit code: None), shutting down executor.
Traceback (most recent call last):
  File "probe.py", line 5, in <module>
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
"""
    assert (
        root_cause(failed_start) == "ValueError: To serve at least one request (0.09 GiB KV cache is needed)"
    )
    killed = """\
(EngineCore pid=20401) ERROR 12-06 08:11:25 [multiproc_executor.py:315] Worker proc VllmWorker-0 died unexpectedly (exit code: -9), shutting down executor.
(EngineCore pid=20401) ERROR 12-06 08:11:25 [dump_input.py:72] Dumping input data for V1 LLM engine (v0.32.0) with config: ...
(EngineCore pid=20401) ERROR 12-06 08:11:25 [core.py:1512] EngineCore encountered a fatal error.
(EngineCore pid=20401) ERROR 12-06 08:11:25 [core.py:1512] Traceback (most recent call last):
(EngineCore pid=20401) ERROR 12-06 08:11:25 [core.py:1512]     raise RuntimeError("cancelled")
(EngineCore pid=20401) ERROR 12-06 08:11:25 [core.py:1512] RuntimeError: cancelled
"""
    assert (
        root_cause(killed)
        == "Worker proc VllmWorker-0 died unexpectedly (exit code: -9), shutting down executor."
    )
    dead = "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue. See stack trace (above)\n"
    assert root_cause("(EngineCore pid=7) torch.OutOfMemoryError: out of memory\n" + dead) == (
        "OutOfMemoryError: out of memory"
    )
    assert (
        root_cause("INFO all fine\n" + dead) is None
    )  # nothing but the pointer: the caller says what it knows
