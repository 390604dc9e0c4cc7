"""`fs1.train`: data checks, the prompt/completion split, the loss mask the trainer uses, training on a tiny model
(loss falls, standard HF output, round trip through the transformers backend), resume, LoRA + merge.

Training runs use the session's tiny random Llama (tests/support/tiny_model.py) and a few short traces, so each run
takes seconds on a CPU; one module-scoped run is shared by the output, round-trip and resume tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.io import InputError
from fs1.prompts import THINK_MARKER
from fs1.train import TrainConfig, train
from fs1.train.chat import ChatFormat
from fs1.train.data import load_rows, prepare
from fs1.train.trainer import IGNORE_INDEX, LossMaskError, build_trainer, prepare_data, verify_loss_mask
from tests.train.test_train_support import assistant_text, sft_row, write_jsonl, write_sft_dir, write_traces

FAST = dict(learning_rate=3e-3, warmup_ratio=0.0, lr_scheduler="constant", logging_steps=1)


def config(data: Path | str, model: Path, out: Path, **overrides: object) -> TrainConfig:
    """A tiny-run config: batch of 4 in one step, high learning rate so a few steps over-fit."""
    values: dict[str, object] = dict(FAST, effective_batch=4, per_device_batch=4, max_steps=2, save_steps=100)
    values.update(overrides)
    return TrainConfig(data=str(data), model=str(model), out=str(out), **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The real `fs1 build-sft` output for 4 correct + 2 wrong traces (the wrong ones are filtered there)."""
    from fs1.distill.sft import build_sft_dataset

    work = tmp_path_factory.mktemp("sft")
    traces = write_traces(work / "traces.jsonl", 4, wrong=2)
    build_sft_dataset([traces], str(tiny_model_dir), work / "sft", show_progress=False)
    return work / "sft"


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, sft_dir: Path
) -> tuple[Path, object]:
    """One over-fitting run: 6 full-batch steps, a checkpoint at step 3."""
    out = tmp_path_factory.mktemp("run") / "model"
    result = train(config(sft_dir, tiny_model_dir, out, max_steps=6, save_steps=3, keep_checkpoints=True))
    return out, result


# --- data checks -------------------------------------------------------------------------------------------------


def test_missing_filter_columns_are_refused_naming_the_file(tmp_path: Path, tiny_model_dir: Path) -> None:
    rows = [{k: v for k, v in sft_row(i).items() if k not in ("label", "valid")} for i in range(2)]
    path = write_jsonl(tmp_path / "traces.jsonl", rows)
    with pytest.raises(InputError) as err:
        prepare_data(config(path, tiny_model_dir, tmp_path / "o"), _tokenizer(tiny_model_dir))
    assert (
        str(path) in str(err.value)
        and "label, valid" in str(err.value)
        and "--no-filter-check" in str(err.value)
    )
    # Told to, the trainer takes the unfiltered rows.
    _, prepared = prepare_data(
        config(path, tiny_model_dir, tmp_path / "o", filter_check=False), _tokenizer(tiny_model_dir)
    )
    assert len(prepared.examples) == 2


def test_missing_text_column_and_bad_row_name_file_and_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    tok = _tokenizer(tiny_model_dir)
    no_trace = write_jsonl(
        tmp_path / "a.jsonl", [{k: v for k, v in sft_row(0).items() if k != "reasoning_trace"}]
    )
    with pytest.raises(InputError, match=rf"{no_trace}: missing column\(s\) reasoning_trace"):
        prepare_data(config(no_trace, tiny_model_dir, tmp_path / "o"), tok)
    empty_question = write_jsonl(tmp_path / "b.jsonl", [sft_row(0), sft_row(1, question="  ")])
    with pytest.raises(InputError, match=rf"{empty_question}:2: column question must be a non-empty string"):
        prepare_data(config(empty_question, tiny_model_dir, tmp_path / "o"), tok)
    torn = tmp_path / "c.jsonl"
    torn.write_text(json.dumps(sft_row(0)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{torn}:2: malformed JSON"):
        load_rows(str(torn))


def test_empty_after_filtering_says_why(tmp_path: Path, tiny_model_dir: Path) -> None:
    rows = [sft_row(0, label=0), sft_row(1, valid=0), sft_row(2)]
    path = write_sft_dir(tmp_path / "sft", rows)
    cfg = config(path, tiny_model_dir, tmp_path / "o", max_length=20)  # row 2 is longer than 20 tokens
    with pytest.raises(InputError) as err:
        prepare_data(cfg, _tokenizer(tiny_model_dir))
    message = str(err.value)
    assert str(path) in message and "no training examples left" in message
    assert (
        "1 dropped for label" in message
        and "1 dropped for valid" in message
        and "1 dropped for too_long" in message
    )


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_rows(str(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError, match="no such file or directory"):
        load_rows(str(tmp_path / "nope"))


# --- prompt/completion split and loss mask -----------------------------------------------------------------------


def test_split_reproduces_the_chat_template(tiny_model_dir: Path) -> None:
    tok = _tokenizer(tiny_model_dir)
    chat = ChatFormat.from_tokenizer(tok)
    row = sft_row(3)
    prompt, completion = chat.prompt(row["question"]), chat.completion(assistant_text(row))
    full = tok.apply_chat_template(
        [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": assistant_text(row)}],
        tokenize=False,
    )
    assert chat.end_of_turn == "<|im_end|>"
    assert prompt.endswith("<|im_start|>assistant\n") and completion.startswith(THINK_MARKER)
    # Only the template's trailing newline after <|im_end|> is left out.
    assert full.startswith(prompt + completion)
    n_prompt, n_completion = chat.split_lengths(prompt, completion)
    assert n_prompt + n_completion == len(tok(prompt + completion)["input_ids"])
    assert tok.decode(tok(prompt + completion)["input_ids"][n_prompt:]) == completion


@pytest.mark.parametrize("packing", [False, True])
def test_loss_mask_is_exactly_the_assistant_turn(
    tmp_path: Path, tiny_model_dir: Path, sft_dir: Path, packing: bool
) -> None:
    cfg = config(sft_dir, tiny_model_dir, tmp_path / "o", packing=packing, max_length=512)
    tok = _tokenizer(tiny_model_dir)
    chat, prepared = prepare_data(cfg, tok)
    trainer = build_trainer(cfg, prepared, tok, chat)
    assert verify_loss_mask(trainer.train_dataset, prepared, packed=packing) == prepared.completion_tokens
    # The batch the trainer feeds the model: labelled tokens decode to exactly the completions, nothing else.
    batch = next(iter(trainer.get_train_dataloader()))
    labelled = batch["input_ids"][batch["labels"] != IGNORE_INDEX].tolist()
    expected = "".join(e["completion"] for e in prepared.examples)
    assert sorted(tok.decode(labelled)) == sorted(expected)
    if not packing:
        first = batch["labels"][0]
        kept = first[first != IGNORE_INDEX].tolist()
        assert tok.decode(kept) in {e["completion"] for e in prepared.examples}


def test_verify_loss_mask_rejects_empty_and_prompt_covering_masks(
    tiny_model_dir: Path, sft_dir: Path, tmp_path: Path
) -> None:
    from datasets import Dataset

    tok = _tokenizer(tiny_model_dir)
    chat, prepared = prepare_data(config(sft_dir, tiny_model_dir, tmp_path / "o"), tok)
    ids = [chat.token_ids(e["prompt"] + e["completion"]) for e in prepared.examples]
    empty = Dataset.from_dict({"input_ids": ids, "labels": [[IGNORE_INDEX] * len(x) for x in ids]})
    with pytest.raises(LossMaskError):
        verify_loss_mask(empty, prepared, packed=False)
    with pytest.raises(LossMaskError, match="empty"):
        verify_loss_mask(empty, prepared, packed=True)
    everything = Dataset.from_dict({"input_ids": ids, "labels": ids})  # loss on the prompt too
    with pytest.raises(LossMaskError, match="expected exactly"):
        verify_loss_mask(everything, prepared, packed=False)


# --- training ----------------------------------------------------------------------------------------------------


def test_loss_falls_when_overfitting(trained: tuple[Path, object]) -> None:
    _, result = trained
    losses = [loss for _, loss in result.losses]
    assert result.global_step == 6 and len(losses) == 6
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.examples == 4  # the two wrong traces were filtered by build-sft


def test_output_is_a_standard_model_directory(trained: tuple[Path, object], sft_dir: Path) -> None:
    out, _ = trained
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "training_args.json",
    ):
        assert (out / name).exists(), name
    assert not (out / ".staging").exists()
    args = json.loads((out / "training_args.json").read_text())
    assert args["learning_rate"] == 3e-3 and args["adam_beta2"] == 0.95 and args["weight_decay"] == 1e-4
    card = (out / "README.md").read_text()
    assert str(sft_dir) in card and "| learning rate | 0.003 |" in card and "examples trained on: 4" in card
    summary = json.loads((out / "fs1_train.json").read_text())
    assert summary["result"]["global_step"] == 6 and summary["data"]["examples"] == 4


def test_round_trip_generate_through_the_backend(trained: tuple[Path, object], sft_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fs1.backends import SamplingParams, load_backend

    out, result = trained
    # The saved weights are the trained ones: their loss on a training example is the last training loss's size.
    tok = AutoTokenizer.from_pretrained(out)
    chat = ChatFormat.from_tokenizer(tok)
    prepared = prepare(load_rows(str(sft_dir)), chat, max_length=512)
    example = prepared.examples[0]
    ids = torch.tensor([chat.token_ids(example["prompt"] + example["completion"])])
    labels = ids.clone()
    labels[0, : example["prompt_tokens"]] = IGNORE_INDEX
    with torch.no_grad():
        loss = AutoModelForCausalLM.from_pretrained(out)(input_ids=ids, labels=labels).loss.item()
    assert loss < 0.5 * result.losses[0][1]
    backend = load_backend("transformers", str(out))
    completion = backend.generate(
        [backend.chat_prompt(sft_row(0)["question"])], SamplingParams(max_tokens=6, temperature=0.0)
    )[0][0]
    assert completion.tokens > 0
    assert completion.text.startswith(THINK_MARKER)  # every training answer opens with the think marker


def test_resume_continues_the_step_count_and_matches_an_uninterrupted_run(
    tmp_path: Path, trained: tuple[Path, object], tiny_model_dir: Path, sft_dir: Path
) -> None:
    from safetensors.torch import load_file

    out, _ = trained
    checkpoint = out / "checkpoints" / "checkpoint-3"
    resumed_out = tmp_path / "resumed"
    cfg = config(
        sft_dir,
        tiny_model_dir,
        resumed_out,
        max_steps=6,
        save_steps=3,
        resume_from_checkpoint=str(checkpoint),
    )
    result = train(cfg)
    assert (result.start_step, result.global_step, result.steps_this_run) == (3, 6, 3)
    # The log history continues the checkpoint's: steps 1-3 come from it, 4-6 were trained now.
    assert [step for step, _ in result.losses] == list(range(1, 7))
    reference, resumed = load_file(out / "model.safetensors"), load_file(resumed_out / "model.safetensors")
    for name, tensor in reference.items():
        assert (resumed[name] - tensor).abs().max().item() < 1e-5, name


def test_existing_model_is_not_overwritten_without_asking(
    trained: tuple[Path, object], tiny_model_dir: Path, sft_dir: Path
) -> None:
    out, _ = trained
    with pytest.raises(InputError, match="already holds a trained model"):
        train(config(sft_dir, tiny_model_dir, out))
    with pytest.raises(FileNotFoundError, match="not a complete training checkpoint"):
        train(config(sft_dir, tiny_model_dir, out, resume_from_checkpoint=str(out / "nope")))


@pytest.mark.parametrize("merge", [True, False])
def test_lora_train_and_merge(tmp_path: Path, tiny_model_dir: Path, sft_dir: Path, merge: bool) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora"
    train(config(sft_dir, tiny_model_dir, out, lora=True, merge_lora=merge, lora_r=4, max_steps=2))
    if merge:
        assert (out / "config.json").exists() and not (out / "adapter_config.json").exists()
        merged, base = load_file(out / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
        assert set(merged) == set(base)  # plain weights, no adapter tensors
        changed = [n for n in base if (merged[n] - base[n]).abs().max().item() > 1e-6]
        assert any("q_proj" in n for n in changed) and not any("embed_tokens" in n for n in changed)
    else:
        assert (out / "adapter_config.json").exists() and (out / "adapter_model.safetensors").exists()
    model = AutoModelForCausalLM.from_pretrained(out)  # adapters load onto their base through PEFT
    assert model.config.vocab_size == 49152


def _tokenizer(model_dir: Path) -> object:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


def test_a_finished_run_deletes_its_checkpoints_unless_told_to_keep_them(
    tmp_path: Path, trained: tuple[Path, object], tiny_model_dir: Path, sft_dir: Path
) -> None:
    kept, _ = trained  # trained with keep_checkpoints=True
    assert (kept / "checkpoints" / "checkpoint-6" / "trainer_state.json").exists()
    out = tmp_path / "model"
    train(config(sft_dir, tiny_model_dir, out, max_steps=2, save_steps=1))
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    assert not (out / "checkpoints").exists()
