"""The options of the local engines whose modules load torch at import (transformers, llama.cpp), kept here so that an
experiment file is checked against them without loading an engine. A backend whose module is light (vllm, openai)
declares its options beside its class; ``fs1.backends.BACKENDS`` names each backend's options model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Rows decoded together at most by the transformers backend; larger calls run in chunks (bounds memory).
MAX_BATCH_ROWS = 64
# llama.cpp: sequences decoded together (each its own KV stream) and context tokens per sequence.
DEFAULT_SLOTS = 16
DEFAULT_CTX_PER_SEQUENCE = 4096
BATCH_TOKENS = 2048
# GGUF tensor types the embedded model can be converted to (llama.cpp file-type names). The shipped Q4_1 has no
# batched (GEMM) CPU kernel, so 16 sequences per decode cost ~1.5x one; bf16/f16 go through llama.cpp's tiled
# matmul and 16 cost ~3.5-5.5x one, fp32-exact to the shipped weights up to bf16/f16 rounding.
WEIGHT_TYPES = {
    "q4_0": "MOSTLY_Q4_0",
    "q8_0": "MOSTLY_Q8_0",
    "f16": "MOSTLY_F16",
    "bf16": "MOSTLY_BF16",
    "f32": "ALL_F32",
}
LlamaCppWeights = Literal["auto", "as-is", "q4_0", "q8_0", "f16", "bf16", "f32"]


class TransformersOptions(BaseModel):
    """Options of the ``transformers`` backend (``options:`` of a model on it, or ``--backend-option KEY=VALUE``)."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Weights dtype: auto (bf16 on CUDA or a CPU with native BF16, else float32), float32, "
        "bfloat16, float16.",
    )
    device: str | None = Field(None, description="torch device; None = cuda when available, else cpu.")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch; None = torch's default.")
    max_batch_rows: int = Field(MAX_BATCH_ROWS, ge=1, description="Rows decoded together at most.")


class LlamaCppOptions(BaseModel):
    """Options of the ``llamacpp`` backend (``options:`` of a model on it, or ``--backend-option KEY=VALUE``)."""

    model_config = ConfigDict(extra="forbid")

    threads: int | None = Field(
        None, ge=1, description="CPU threads; None = every core this process may use."
    )
    slots: int = Field(DEFAULT_SLOTS, ge=1, description="Sequences decoded together, each its own KV stream.")
    ctx_per_sequence: int = Field(DEFAULT_CTX_PER_SEQUENCE, ge=1, description="Context tokens per sequence.")
    batch_tokens: int = Field(BATCH_TOKENS, ge=1, description="Tokens per llama_decode call at most.")
    weights: LlamaCppWeights = Field(
        "auto",
        description="Tensor type: auto (the embedded model in bf16/f16 by CPU, a user GGUF as it is), as-is, "
        "q4_0, q8_0, f16, bf16, f32.",
    )
