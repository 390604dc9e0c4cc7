"""The transformers backend: batched decoding over per-sequence KV caches must equal plain full recomputation,
continue without re-prefilling, honour stop strings / EOS / caps / seeds, and fork cleanly."""

from __future__ import annotations

import json

import pytest
import torch

from fs1.backends.base import BackendError, SamplingParams
from fs1.backends.hf import TransformersBackend
from fs1.generate.budget import BudgetConfig, budget_forcing
from fs1.prompts import THINK_START

GREEDY = SamplingParams(max_tokens=12)
SAMPLED = SamplingParams(temperature=0.8, top_p=0.9, top_k=30, repetition_penalty=1.05, max_tokens=12)


@pytest.fixture(scope="module")
def backend(tiny_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(tiny_model_dir), threads=1, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def scripted(scripted_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(scripted_model_dir), threads=1, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def prompts(backend):  # noqa: ANN001, ANN201
    # Different lengths, so rows are padded differently in the batch; the chat ones contain <|im_end|> tokens.
    return [
        backend.chat_prompt("What is the capital of France?"),
        backend.chat_prompt("Who?"),
        "hello world, this is",
    ]


def reference_greedy(backend: TransformersBackend, text: str, steps: int) -> str:
    """Greedy decoding by full recomputation of the whole sequence each step (no cache, no batching)."""
    ids = torch.tensor([backend._encode_prompt(text)])
    start = ids.shape[1]
    with torch.inference_mode():
        for _ in range(steps):
            nxt = backend.lm(input_ids=ids.to(backend.device)).logits[0, -1].argmax().cpu()
            ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
    return backend._decode(ids[0, start:].tolist())


def test_batched_greedy_equals_full_recomputation(backend, prompts):  # noqa: ANN001
    outs = backend.generate(prompts, GREEDY)
    for prompt, (out,) in zip(prompts, outs, strict=True):
        assert out.text == reference_greedy(backend, prompt, GREEDY.max_tokens)
        assert out.tokens == GREEDY.max_tokens and out.finish_reason == "length"


def test_split_continuation_equals_one_call(backend, prompts):  # noqa: ANN001
    whole = backend.generate(prompts, GREEDY)
    seqs = backend.open(prompts)
    backend.continue_(seqs, SamplingParams(max_tokens=5))
    backend.continue_(seqs, SamplingParams(max_tokens=GREEDY.max_tokens - 5))
    assert [s.text for s in seqs] == [w[0].text for w in whole]


def test_prompt_prefilled_once_per_prompt_and_appends_only_new_tokens(backend, prompts):  # noqa: ANN001
    prompt = prompts[0]
    length = len(backend._encode_prompt(prompt))
    before = backend.stats.prefilled_tokens
    seqs = backend.open([prompt], n=4, seeds=[1, 2, 3, 4])
    backend.continue_(seqs, SamplingParams(max_tokens=6))
    # Shared prefix once, then each sample's last prompt token.
    assert backend.stats.prefilled_tokens - before == (length - 1) + 4
    before = backend.stats.prefilled_tokens
    backend.continue_(seqs, SamplingParams(max_tokens=3))
    assert backend.stats.prefilled_tokens == before  # the last sampled token is decoded, not prefilled
    forced = " Wait, let me think."
    backend.append(seqs, [forced] * 4)
    before = backend.stats.prefilled_tokens
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    assert backend.stats.prefilled_tokens - before == 4 * backend.count_tokens(forced)


def test_continuation_after_forced_text_equals_recomputation(backend, prompts):  # noqa: ANN001
    seqs = backend.open(prompts)
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    backend.append(seqs, ["\n<|im_start|>answer\n"] * len(seqs))
    backend.continue_(seqs, SamplingParams(max_tokens=6))
    for seq in seqs:
        ids = seq.state.ids
        assert backend._decode(ids) == seq.prompt + seq.text
        # The 6 tokens decoded over the kept cache equal recomputing everything before them from scratch.
        assert backend._decode(ids[-6:]) == reference_greedy_ids(backend, ids[:-6], 6)


def reference_greedy_ids(backend: TransformersBackend, ids: list[int], steps: int) -> str:
    tensor = torch.tensor([ids])
    with torch.inference_mode():
        for _ in range(steps):
            nxt = backend.lm(input_ids=tensor.to(backend.device)).logits[0, -1].argmax().cpu()
            tensor = torch.cat([tensor, nxt.view(1, 1)], dim=1)
    return backend._decode(tensor[0, len(ids) :].tolist())


def test_stop_string_cut_and_reported(scripted):  # noqa: ANN001
    prompt = scripted.chat_prompt("Q") + "<|im_start|>think\n"
    seqs = scripted.open([prompt])
    (out,) = scripted.continue_(seqs, SamplingParams(max_tokens=50, stop=["<|im_start|>answer"]))
    assert (out.text, out.tokens, out.finish_reason, out.stop) == (
        " one two three",
        3,
        "stop",
        "<|im_start|>answer",
    )
    # The cut marker is gone from the state too: forced text continues right after " three".
    scripted.append(seqs, [" Wait,"])
    (again,) = scripted.continue_(seqs, SamplingParams(max_tokens=50, stop=["<|im_start|>answer"]))
    assert again.text == " one two three"
    assert scripted._decode(seqs[0].state.ids) == prompt + " one two three Wait, one two three"


def test_stop_string_inside_a_token_rolls_back_to_text(scripted):  # noqa: ANN001
    prompt = scripted.chat_prompt("Q") + "<|im_start|>think\n"
    seqs = scripted.open([prompt])
    (out,) = scripted.continue_(seqs, SamplingParams(max_tokens=50, stop=["hree"]))
    assert out.text == " one two t" and out.finish_reason == "stop"
    assert scripted._decode(seqs[0].state.ids) == prompt + " one two t"
    scripted.continue_(seqs, SamplingParams(max_tokens=3))  # the re-encoded fragment is fed without error
    assert scripted._decode(seqs[0].state.ids).startswith(prompt + " one two t")


def test_end_of_sequence_and_caps(scripted):  # noqa: ANN001
    prompt = scripted.chat_prompt("Q") + "<|im_start|>think\n"
    (out,) = scripted.generate([prompt], SamplingParams(max_tokens=50))[0]
    assert out.text == " one two three<|im_start|>answer" and out.finish_reason == "stop" and out.stop is None
    seqs = scripted.open([prompt, prompt])
    seqs[0].max_tokens = 2
    outs = scripted.continue_(seqs, SamplingParams(max_tokens=3))
    assert [(o.text, o.finish_reason) for o in outs] == [(" one two", "length"), (" one two three", "length")]


def test_seeds_reproducible_and_independent_of_batch(backend, prompts):  # noqa: ANN001
    seqs = backend.open(prompts[:2], n=3, seeds=[11, 12, 13, 21, 22, 23])
    first = [o.text for o in backend.continue_(seqs, SAMPLED)]
    again = backend.open(prompts[:2], n=3, seeds=[11, 12, 13, 21, 22, 23])
    assert [o.text for o in backend.continue_(again, SAMPLED)] == first
    assert len(set(first[:3])) == 3  # different seeds, different samples
    alone = backend.open([prompts[1]], n=1, seeds=[22])
    assert backend.continue_(alone, SAMPLED)[0].text == first[4]
    # A sequence that finishes early draws nothing more while its batch-mates go on.
    pair = backend.open(prompts[:2], seeds=[5, 6])
    pair[0].max_tokens = 2
    backend.continue_(pair, SAMPLED)
    pair[0].max_tokens = None
    backend.continue_(pair[:1], SAMPLED)
    single = backend.open(prompts[:1], seeds=[5])
    backend.continue_(single, SamplingParams(**{**SAMPLED.__dict__, "max_tokens": 2}))
    backend.continue_(single, SAMPLED)
    assert pair[0].text == single[0].text


def test_fork_continues_independently(backend, prompts):  # noqa: ANN001
    seqs = backend.open(prompts[:2])
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    before = [s.text for s in seqs]
    forks = backend.fork(seqs)
    backend.append(forks, [" Wait,"] * 2)
    backend.continue_(forks, SamplingParams(max_tokens=4))
    backend.continue_(seqs, SamplingParams(max_tokens=4))
    whole = backend.generate(prompts[:2], SamplingParams(max_tokens=8))
    assert [s.text for s in seqs] == [w[0].text for w in whole]
    for fork, head in zip(forks, before, strict=True):
        assert fork.text.startswith(head + " Wait,") and len(fork.text) > len(head + " Wait,")


def test_rejects_what_it_cannot_honour(backend, prompts):  # noqa: ANN001
    seqs = backend.open(prompts[:1])
    with pytest.raises(BackendError):
        backend.continue_(seqs, SamplingParams(n=2))
    with pytest.raises(BackendError):
        backend.continue_(seqs, SamplingParams(top_p=0.0))
    with pytest.raises(BackendError):
        backend.open(prompts, seeds=[1])
    backend.close(seqs)
    with pytest.raises(BackendError):
        backend.continue_(seqs, GREEDY)


def test_load_errors_are_backend_errors(tmp_path, tiny_model_dir):  # noqa: ANN001
    with pytest.raises(BackendError, match="cannot load"):
        TransformersBackend(str(tmp_path / "missing"))
    with pytest.raises(BackendError, match="dtype"):
        TransformersBackend(str(tiny_model_dir), dtype="nn")


@pytest.mark.slow
def test_embedded_checkpoint_rebuilt_from_gguf(tmp_path, monkeypatch):  # noqa: ANN001
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fs1.backends import embedded

    monkeypatch.setenv("FS1_CACHE_DIR", str(tmp_path))
    path = embedded.hf_dir()
    assert path.is_relative_to(tmp_path) and embedded.resolve_for_transformers("smollm2-135m") == str(path)
    assert embedded.resolve_for_transformers("org/other") == "org/other"
    assert embedded.resolve_for_llamacpp("smollm2-135m") == str(embedded.gguf_path())
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config and "gguf_file" not in config
    stamp = (path / "config.json").stat().st_mtime_ns
    assert (
        embedded.hf_dir() == path and (path / "config.json").stat().st_mtime_ns == stamp
    )  # cached, not rebuilt
    gguf = embedded.gguf_path()
    plain = AutoModelForCausalLM.from_pretrained(path)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ids = AutoTokenizer.from_pretrained(path)("The capital of France is", return_tensors="pt").input_ids
    with torch.inference_mode():
        assert torch.allclose(plain(ids).logits, quantized(ids).logits, atol=1e-4)


@pytest.mark.slow
def test_embedded_smollm2_answers():
    backend = TransformersBackend("smollm2-135m")
    prompt = backend.chat_prompt("What is the capital of France? Answer in one word.")
    (out,) = backend.generate([prompt], SamplingParams(max_tokens=8))[0]
    assert "Paris" in out.text


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cuda_decoding_and_budget_forcing(tiny_model_dir, backend, prompts, dtype):  # noqa: ANN001
    gpu = TransformersBackend(str(tiny_model_dir), device="cuda", dtype=dtype)
    outs = [o[0] for o in gpu.generate(prompts, GREEDY)]
    assert all(o.tokens == GREEDY.max_tokens and o.finish_reason == "length" for o in outs)
    if dtype == "float32":
        assert [o.text for o in outs] == [reference_greedy(gpu, p, GREEDY.max_tokens) for p in prompts]
        assert [o.text for o in outs] == [o[0].text for o in backend.generate(prompts, GREEDY)]  # CPU agrees
    think = [p + THINK_START for p in prompts]
    runs = [
        sorted(
            (
                vars(o)
                for o in budget_forcing(
                    gpu, think, 2, SAMPLED, BudgetConfig([6, 12], continue_sweep=c), [1, 2] * 3
                )
            ),
            key=lambda o: (o["budget"], o["prompt_index"], o["sample"]),
        )
        for c in (True, False)
    ]
    assert len(runs[0]) == 12 and all(o["think_tokens"] <= o["budget"] for o in runs[0])
    if dtype == "float32":
        assert runs[0] == runs[1]


CPUINFO = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 fma {extra}\nbogomips\t: 4000\n"
)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", torch.float32),  # AVX2 only: bf16 would be emulated
        ("avx512f avx512bw", torch.float32),  # AVX-512 without its BF16 extension
        ("avx512f avx512_bf16", torch.bfloat16),
        ("amx_bf16 amx_tile", torch.bfloat16),
    ],
)
def test_auto_dtype_follows_cpu_flags(tmp_path, extra, expected):  # noqa: ANN001
    from fs1.backends.decoding import cpu_flags
    from fs1.backends.hf import auto_dtype

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra))
    flags = cpu_flags(cpuinfo)
    assert "avx2" in flags and "bogomips" not in flags
    dtype, why = auto_dtype("cpu", flags)
    assert dtype == expected
    assert ("emulated" in why) == (expected == torch.float32)


def test_auto_dtype_without_cpuinfo_and_on_cuda(tmp_path):  # noqa: ANN001
    from fs1.backends.decoding import cpu_flags
    from fs1.backends.hf import auto_dtype

    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert auto_dtype("cpu", frozenset())[0] == torch.float32
    # CUDA keeps its own rule, whatever the host CPU has.
    assert auto_dtype("cuda", frozenset(), cuda_bf16=True)[0] == torch.bfloat16
    assert auto_dtype("cuda:0", frozenset({"avx512_bf16"}), cuda_bf16=False)[0] == torch.float32


def test_auto_dtype_note_names_the_choice(tiny_model_dir, capsys):  # noqa: ANN001
    from fs1.backends.decoding import cpu_flags
    from fs1.backends.hf import auto_dtype

    backend = TransformersBackend(str(tiny_model_dir), threads=1, device="cpu")
    expected, why = auto_dtype("cpu", cpu_flags())
    assert backend.describe()["dtype"] == str(expected).removeprefix("torch.")
    err = capsys.readouterr().err.splitlines()
    assert err.count(backend.dtype_note) == 1  # one line (transformers' own progress lines may come with it)
    assert why in backend.dtype_note and "auto" in backend.dtype_note
    assert backend.lm.dtype == expected
