"""The dataset card (README.md) of an exported SFT dataset: YAML configs for ``datasets`` plus a short description."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fs1.backends.embedded import EMBEDDED_NAME

if TYPE_CHECKING:
    from fs1.distill.leakage import Leak
    from fs1.distill.stats import SftStats

_LEAKS_LISTED = 20


def _yaml_header(files: dict[str, str]) -> str:
    lines = ["---", "configs:"]
    for config, path in files.items():
        lines += [f"- config_name: {config}", "  data_files:", "  - split: train", f"    path: {path}"]
    lines += ["task_categories:", "- question-answering", "- text-generation", "language:", "- en",
              "tags:", "- reasoning", "- knowledge-graph", "- factuality", "- fs1", "---"]  # fmt: skip
    return "\n".join(lines)


def render_card(stats: SftStats, files: dict[str, str], leaks: list[Leak] | None) -> str:
    """The README.md text: configs (config name -> its Parquet file), provenance, filter counts, leakage summary."""
    teachers = ", ".join(stats.teachers)
    parts = [
        _yaml_header(files),
        "",
        "# fs1 SFT dataset",
        "",
        f"Teacher reasoning traces ({', '.join(stats.modes)} mode; teacher(s): {teachers}) in the columns of the "
        "published fs1 data, made with the fs1 toolkit (*Scaling Reasoning can Improve Factuality in Large Language "
        "Models*, arXiv 2505.11140). `rt` traces answer the plain question; `fs1` traces were given Wikidata paths "
        "(`kg_path`) as inspiration. The student is trained on the bare question.",
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        'train = load_dataset("<this directory or repo>", split="train")          # filtered (config "default")',
        'every = load_dataset("<this directory or repo>", "full", split="train")  # all traces',
        "```",
        "",
        "## Contents",
        "",
        "| set | rows |",
        "| --- | --- |",
        f"| all traces (`full`) | {stats.traces} |",
        f"| correct (`label == 1`) | {stats.correct} |",
        f"| well-formed (`valid == 1`) | {stats.valid} |",
        f"| longer than {stats.max_length} tokens | {stats.too_long} |",
        f"| training set (`default`: correct, valid, ≤ {stats.max_length} tokens) | {stats.kept} |",
        "",
        f"`text` is the s1 chat text rendered with the chat template of `{stats.student}` (user turn = question; "
        "assistant turn = `<|im_start|>think` + reasoning + `<|im_start|>answer` + `Answer: ` + attempt); lengths are "
        "counted with that tokenizer. Sources: " + ", ".join(f"`{s}`" for s in stats.sources) + ".",
    ]
    if EMBEDDED_NAME in stats.teachers:
        parts += ["", f"**Note:** `{EMBEDDED_NAME}` is a tiny offline stand-in teacher; its traces are weak and are "
                  "meant for testing the pipeline, not for training a useful model."]  # fmt: skip
    parts += ["", *_leak_section(stats, leaks)]
    return "\n".join(parts) + "\n"


def _leak_section(stats: SftStats, leaks: list[Leak] | None) -> list[str]:
    if leaks is None:
        return ["## Leakage", "", "No leakage check was run (`fs1 build-sft --benchmark BENCH`)."]
    lines = [
        "## Leakage",
        "",
        f"{len(leaks)} training question(s) duplicate benchmark questions (see `leakage.json`).",
    ]
    if stats.dropped_leaked:
        lines.append(
            f"{stats.dropped_leaked} training row(s) with such questions were dropped from `default`."
        )
    for leak in leaks[:_LEAKS_LISTED]:
        lines.append(
            f"- {leak.kind} ({leak.similarity:.2f}): `{leak.train_id}` ≈ `{leak.bench_id}` — {leak.train_question}"
        )
    if len(leaks) > _LEAKS_LISTED:
        lines.append(f"- … and {len(leaks) - _LEAKS_LISTED} more")
    return lines
