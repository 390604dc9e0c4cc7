"""The authors' own files, line by line: what each line of each shape says, in fs1's terms.

The shapes their code writes (github.com/jjzha/fs1; docs/authors.md):

- ``outputs``: ``<model_dir>/outputs.jsonl`` of ``run_vllm_inference.py``, one line per request:
  ``{"request_id": "<ID>-rep-<i>", "prompt", "generated_text"}``. The sample index is only the ``-rep-<i>`` suffix
  (a bare ``<ID>`` is sample 0), the model only the parent folder's name (``Qwen_Qwen2.5-7B-Instruct-16``).
- ``budget-forcing``: ``budget_force_<model>_<budget>.jsonl`` of ``budget_forcing.py`` (v1), one line per question:
  ``{"id", "question", "answer", "source"}``, ``answer`` being the whole chat history; greedy, so sample 0; the
  model and the budget only in the file name (the budget counts the prompt's tokens too).
- ``batch``: vLLM's OpenAI batch runner (and the OpenAI Batch API): ``{"custom_id", "response": {"status_code",
  "body": <chat completion>}, "error"}``, the reply at ``response.body.choices[0].message.content``; ``custom_id`` is
  read as a request id, the model is the body's (``/`` → ``_``, as the authors name folders).
- ``judge-prompts``: ``prepare_llm_as_a_judge.py``'s ``{"request_id": "<ID>-rep-<i>$<model_dir>", "prompt"}``; the
  prompt carries the gold list and the predicted answer as JSON.
- ``judge-outputs``: the judge's ``outputs.jsonl`` (``run_vllm_inference.py`` over those prompts): the same plus
  ``"generated_text": "0" | "1" | …``; the judge model is the parent folder's name.

Each line becomes one ``AuthorsLine``; a line that is none of these raises ``InputError`` with what is wrong (the
caller adds file and line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from fs1.errors import InputError

AuthorsFormat = Literal["outputs", "budget-forcing", "batch", "judge-prompts", "judge-outputs"]
FORMATS: tuple[str, ...] = get_args(AuthorsFormat)
PREDICTION_FORMATS = frozenset({"outputs", "budget-forcing", "batch"})
VERDICT_FORMATS = frozenset({"judge-outputs"})

# prepare_vllm_batch_parallel.py: f"{ID}-rep-{i}"; prepare_llm_as_a_judge.py appends f"${model_folder}".
_REPETITION = re.compile(r"^(?P<id>.+)-rep-(?P<rep>\d+)$")
_BUDGET_FILE = re.compile(r"^budget_force_(?P<model>.+)_(?P<budget>\d+)\.jsonl$")
# Their judge prompt: json.dumps of the gold list and of the prediction, one line each (no raw newline in JSON).
_JUDGE_PROMPT = re.compile(r"\Agold answer: (?P<gold>.*)\npredicted answer: (?P<answer>.*)\n\n")


@dataclass
class AuthorsLine:
    """What one line of an authors' file says about one sample of one question of one run."""

    qid: str
    sample: int
    run: str
    budget: int | None = None
    text: str | None = None  # the model's whole reply (prediction shapes)
    answer: str | None = None  # the predicted answer the judge was shown (judge shapes)
    gold: list[str] | None = None  # the gold list the judge was shown
    reply: str | None = None  # the judge's reply (judge outputs)
    failed: str | None = None  # why a batch request has no reply
    model: str | None = None  # the model id, where the line names one


def split_request_id(request_id: str) -> tuple[str, int, str | None]:
    """``<ID>[-rep-<i>][$<model_dir>]`` → (question ID, sample index, model folder or ``None``)."""
    base, _, folder = request_id.partition("$")
    repetition = _REPETITION.match(base)
    if repetition is None:
        return base, 0, folder or None
    return repetition["id"], int(repetition["rep"]), folder or None


def run_name(name: str) -> str:
    """A model name or folder as a run directory name (``/`` → ``_``, as the authors name their folders)."""
    name = name.replace("/", "_")
    if not name or name.startswith(".") or "\\" in name or "\0" in name:
        raise InputError(f"{name!r} cannot name a run directory")
    return name


def detect(row: dict[str, Any]) -> str | None:
    """The shape of a line from its keys (``None``: none of the authors' shapes)."""
    if "custom_id" in row and "response" in row:
        return "batch"
    request_id = row.get("request_id")
    if isinstance(request_id, str):
        judged = "$" in request_id
        if "generated_text" in row:
            return "judge-outputs" if judged else "outputs"
        return "judge-prompts" if judged and "prompt" in row else None
    if "id" in row and "answer" in row:
        return "budget-forcing"
    return None


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        found = "missing" if value is None else f"{type(value).__name__}"
        raise InputError(f"field {key}: expected a string, found {found}")
    return value


def parse_outputs(row: dict[str, Any], path: Path) -> AuthorsLine:
    qid, sample, _ = split_request_id(_text(row, "request_id"))
    return AuthorsLine(qid, sample, run_name(path.parent.name), text=_text(row, "generated_text"))


def budget_file(path: Path) -> tuple[str, int | None]:
    """(model, budget) of a v1 file ``budget_force_<model>_<budget>.jsonl``; another name: (its stem, no budget)."""
    named = _BUDGET_FILE.match(path.name)
    if named is None:
        return path.stem, None
    return named["model"], int(named["budget"])


def parse_budget_forcing(row: dict[str, Any], path: Path) -> AuthorsLine:
    model, budget = budget_file(path)
    qid = row.get("id")
    if not isinstance(qid, str | int) or isinstance(qid, bool):
        raise InputError("field id: expected a string or integer id")
    return AuthorsLine(str(qid), 0, run_name(model), budget=budget, text=_text(row, "answer"), model=model)


def parse_batch(row: dict[str, Any], path: Path) -> AuthorsLine:
    qid, sample, folder = split_request_id(_text(row, "custom_id"))
    response = row.get("response")
    body = response.get("body") if isinstance(response, dict) else None
    model = body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
    run = run_name(folder or model or path.parent.name)
    failed = _batch_failure(row, response, body)
    if failed is not None:
        return AuthorsLine(qid, sample, run, failed=failed, model=model)
    try:
        content = body["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise InputError("no reply at response.body.choices[0].message.content") from None
    if not isinstance(content, str):
        raise InputError("response.body.choices[0].message.content: expected a string")
    return AuthorsLine(qid, sample, run, text=content, model=model)


def _batch_failure(row: dict[str, Any], response: Any, body: Any) -> str | None:
    """Why a batch line holds no reply (an error object, a non-200 status), or ``None``."""
    if row.get("error"):
        return f"error: {json.dumps(row['error'], ensure_ascii=False)[:200]}"
    if not isinstance(response, dict) or not isinstance(body, dict):
        return "no response body"
    status = response.get("status_code")
    if status not in (None, 200):
        return f"status {status}"
    return None


def parse_judge_prompt(row: dict[str, Any], path: Path) -> AuthorsLine:
    qid, sample, folder = split_request_id(_text(row, "request_id"))
    if folder is None:
        raise InputError("field request_id: expected <ID>-rep-<i>$<model_dir>")
    found = _JUDGE_PROMPT.match(_text(row, "prompt"))
    if found is None:
        raise InputError("field prompt: expected 'gold answer: [...]\\npredicted answer: \"...\"\\n\\n...'")
    try:
        gold, answer = json.loads(found["gold"]), json.loads(found["answer"])
    except json.JSONDecodeError as exc:
        raise InputError(f"field prompt: the gold list or prediction is not JSON ({exc.msg})") from None
    if not isinstance(gold, list) or not isinstance(answer, str):
        raise InputError("field prompt: expected a JSON list of gold answers and a JSON string prediction")
    return AuthorsLine(qid, sample, run_name(folder), answer=answer, gold=[str(g) for g in gold])


def parse_judge_output(row: dict[str, Any], path: Path) -> AuthorsLine:
    line = parse_judge_prompt(row, path)
    line.reply = _text(row, "generated_text")
    line.model = path.parent.name  # the judge's folder (meta-llama_Llama-3.3-70B-Instruct)
    return line


PARSERS = {
    "outputs": parse_outputs,
    "budget-forcing": parse_budget_forcing,
    "batch": parse_batch,
    "judge-prompts": parse_judge_prompt,
    "judge-outputs": parse_judge_output,
}
