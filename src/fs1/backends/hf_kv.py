"""Batched key/value buffers for the transformers backend: many sequences of different lengths in one batch.

Each sequence keeps its own KV tensor between calls (``[layers, 2, kv_heads, tokens, head_dim]``). For one
``continue_`` call the sequences are laid side by side in a preallocated buffer: cached tokens right-aligned before
column ``C``, then a block of pending tokens (forced text, the last sampled token), then one column per decode step.
Padding can sit anywhere, so the attention mask is built here explicitly (4-D, additive) with explicit position ids;
padded query rows attend only to themselves so that no softmax row is empty (which would give NaN).
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer

# Decode columns are added in chunks so the buffer is not copied every step.
_GROW_CHUNK = 256


class _BufferLayer(DynamicLayer):
    """A cache layer that writes into a slice of the shared preallocated buffer instead of concatenating."""

    def __init__(self, batch: KVBatch, index: int) -> None:
        super().__init__()
        self._batch = batch
        self._index = index
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        batch, start = self._batch, self._batch.length
        end = start + key_states.shape[-2]
        batch.keys[self._index, :, :, start:end] = key_states
        batch.values[self._index, :, :, start:end] = value_states
        return batch.keys[self._index, :, :, :end], batch.values[self._index, :, :, :end]

    def get_seq_length(self) -> int:
        return self._batch.length


class KVBatch:
    """The batched cache of one call: buffers, which columns hold each row's real tokens, next positions."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        dtype: torch.dtype,
        device: torch.device,
        caches: list[torch.Tensor | None],
        extra_columns: int,
    ) -> None:
        layers, kv_heads, head_dim = shape
        self.rows = len(caches)
        cached = [0 if c is None else c.shape[3] for c in caches]
        self.cached_width = max(cached, default=0)
        capacity = self.cached_width + extra_columns
        self.keys = torch.zeros(layers, self.rows, kv_heads, capacity, head_dim, dtype=dtype, device=device)
        self.values = torch.zeros_like(self.keys)
        self.valid = torch.zeros(self.rows, capacity, dtype=torch.bool, device=device)
        for row, cache in enumerate(caches):
            if cache is None or cache.shape[3] == 0:
                continue
            start = self.cached_width - cache.shape[3]
            self.keys[:, row, :, start : self.cached_width] = cache[:, 0]
            self.values[:, row, :, start : self.cached_width] = cache[:, 1]
            self.valid[row, start : self.cached_width] = True
        self.length = self.cached_width
        self.next_pos = torch.tensor(cached, dtype=torch.long, device=device)
        self.dtype = dtype
        self.cache = Cache(layers=[_BufferLayer(self, i) for i in range(layers)])

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    def _ensure(self, columns: int) -> None:
        need = self.length + columns
        if need <= self.capacity:
            return
        grow = max(need - self.capacity, _GROW_CHUNK, self.capacity // 2)
        pad = (0, 0, 0, grow)
        self.keys = torch.nn.functional.pad(self.keys, pad)
        self.values = torch.nn.functional.pad(self.values, pad)
        self.valid = torch.nn.functional.pad(self.valid, (0, grow))

    def _additive(self, allowed: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(allowed.shape, dtype=self.dtype, device=allowed.device)
        return mask.masked_fill_(~allowed, torch.finfo(self.dtype).min).unsqueeze(1)

    def block_inputs(
        self, pending: list[list[int]], pad_id: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs for feeding each row's pending tokens (right-aligned): ``input_ids, position_ids, mask``."""
        width = max(len(p) for p in pending)
        self._ensure(width)
        device = self.valid.device
        ids = torch.full((self.rows, width), pad_id, dtype=torch.long, device=device)
        pos = torch.zeros((self.rows, width), dtype=torch.long, device=device)
        start = self.length
        for row, tokens in enumerate(pending):
            offset = width - len(tokens)
            if tokens:
                ids[row, offset:] = torch.tensor(tokens, dtype=torch.long)
                first = int(self.next_pos[row])
                pos[row, offset:] = torch.arange(first, first + len(tokens))
                self.valid[row, start + offset : start + width] = True
            self.next_pos[row] += len(tokens)
        keys = start + width
        columns = torch.arange(keys, device=device)
        queries = start + torch.arange(width, device=device)
        causal = columns[None, :] <= queries[:, None]
        allowed = self.valid[:, None, :keys] & causal[None]
        allowed[:, torch.arange(width), queries] = True
        return ids, pos, self._additive(allowed)

    def step_inputs(
        self, tokens: list[int], active: list[bool]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inputs for one decode step: each row feeds one token; inactive rows are computed but marked invalid."""
        self._ensure(1)
        device = self.valid.device
        col = self.length
        live = torch.tensor(active, dtype=torch.bool, device=device)
        self.valid[:, col] = live
        ids = torch.tensor(tokens, dtype=torch.long, device=device)[:, None]
        pos = self.next_pos[:, None].clone()
        self.next_pos += live.long()
        allowed = self.valid[:, None, : col + 1].clone()
        allowed[:, 0, col] = True
        return ids, pos, self._additive(allowed)

    def advance(self, columns: int) -> None:
        """Record that the last forward wrote ``columns`` new columns."""
        self.length += columns

    def extract(self, row: int, count: int) -> torch.Tensor:
        """The first ``count`` real tokens of ``row`` as one ``[layers, 2, kv_heads, count, head_dim]`` tensor."""
        columns = torch.nonzero(self.valid[row, : self.length]).squeeze(1)[:count]
        keys = self.keys[:, row].index_select(2, columns)
        values = self.values[:, row].index_select(2, columns)
        return torch.stack((keys, values), dim=1)

    def real_tokens(self, row: int) -> int:
        return int(self.valid[row, : self.length].sum())

    def keep_rows(self, rows: list[int]) -> None:
        """Drop all other rows (finished sequences) so later steps compute only live ones."""
        index = torch.tensor(rows, dtype=torch.long, device=self.valid.device)
        self.keys = self.keys.index_select(1, index)
        self.values = self.values.index_select(1, index)
        self.valid = self.valid.index_select(0, index)
        self.next_pos = self.next_pos.index_select(0, index)
        self.rows = len(rows)
