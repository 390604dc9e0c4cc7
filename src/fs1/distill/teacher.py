r"""Teacher-side text handling: the rt/fs1 teacher prompt of each question and the parsing of a teacher's reply.

Where the reasoning comes from (``Trace.meta["reasoning_source"]``):

* ``field`` — the API's separate reasoning field (``reasoning``, or the older ``reasoning_content``; the backend puts
  either into ``Completion.reasoning``). The reply's content is the attempt.
* ``think_tags`` — the content holds ``<think>…</think>`` (the opening tag may be missing: DeepSeek-R1's template puts
  it in the prompt). The text inside is the reasoning; the text after ``</think>`` is the attempt.
* ``reply`` — a teacher with no reasoning channel (a local instruct model such as the offline default
  ``smollm2-135m``): the whole reply is the reasoning and its final ``\boxed{…}`` alone is the attempt.

The attempt (``model_attempt``) is thus the teacher's final answer text, which holds the final boxed answer; the
s1 training text appends it after ``Answer: ``, so a student learns to end with a box as the evaluation prompt asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fs1.backends.base import FINISH_CONTEXT, FINISH_LENGTH, Completion
from fs1.errors import ConfigError
from fs1.prompts import THINK_CLOSE_TAG, THINK_OPEN_TAG, teacher_prompt_fs1, teacher_prompt_rt
from fs1.records import PathRecord, Question, RecordError, Triple
from fs1.scoring.extract import BOX_COMMANDS, extract_answer, last_boxed
from fs1.vocab import TRACE_MODES

MODES = TRACE_MODES
# What to do with a question that has no KG path in fs1 mode.
NO_PATH_POLICIES = ("rt", "skip")
PATH_FOUND = "found"

SOURCE_FIELD, SOURCE_THINK_TAGS, SOURCE_REPLY = "field", "think_tags", "reply"

# Trace flags (Trace.flags): why a trace is invalid or was made differently from the rest of its mode.
FLAG_NO_KG_PATH = "no_kg_path"
FLAG_NO_REASONING_FIELD = "no_reasoning_field"
FLAG_TRUNCATED = "truncated"
FLAG_UNCLOSED_THINK = "unclosed_think"
FLAG_NO_REASONING = "no_reasoning"
FLAG_NO_ANSWER = "no_answer"
FLAG_MULTIPLE_ANSWERS = "multiple_answers"
FLAG_UNCLOSED_BOX = "unclosed_box"
INVALID_FLAGS = (
    FLAG_TRUNCATED,
    FLAG_UNCLOSED_THINK,
    FLAG_UNCLOSED_BOX,
    FLAG_NO_REASONING,
    FLAG_NO_ANSWER,
    FLAG_MULTIPLE_ANSWERS,
)


@dataclass
class TeacherPrompt:
    """The user turn sent to the teacher for one question, the verbalised paths it holds, and flags."""

    text: str
    kg_path: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass
class ParsedReply:
    """A teacher reply split into reasoning and attempt; ``answer`` is the final boxed answer (cleaned) or None."""

    reasoning: str
    attempt: str
    answer: str | None
    source: str
    flags: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Well-formed: reasoning present, not cut off, exactly one final answer."""
        return not any(flag in INVALID_FLAGS for flag in self.flags)


def verbalise_paths(record: PathRecord) -> str:
    """The linearised graph of a path record: its ``verbalised`` text, else one ``s, p, o`` line per unique triple."""
    if record.verbalised.strip():
        return record.verbalised.strip()
    lines: list[str] = []
    for path in record.paths:
        for edge in path:
            triple = Triple.from_dict(edge)
            lines.append(
                ", ".join(
                    (triple.s_label or triple.s, triple.p_label or triple.p, triple.o_label or triple.o)
                )
            )
    return "\n".join(dict.fromkeys(lines))


def index_paths(records: Iterable[PathRecord]) -> dict[str, PathRecord]:
    """Path records by question ID; a question listed twice is an input error (which paths would count?)."""
    by_id: dict[str, PathRecord] = {}
    for record in records:
        if record.ID in by_id:
            raise RecordError(f"question {record.ID} has two path records")
        by_id[record.ID] = record
    return by_id


def teacher_prompt(
    question: Question, mode: str, paths: dict[str, PathRecord] | None, no_path: str = "rt"
) -> TeacherPrompt | None:
    """The teacher prompt of ``question`` in ``mode``; ``None`` when fs1 mode has no path and ``no_path='skip'``."""
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if no_path not in NO_PATH_POLICIES:
        raise ConfigError(
            f"unknown no-path policy {no_path!r}; expected one of {', '.join(NO_PATH_POLICIES)}"
        )
    if mode == "rt":
        return TeacherPrompt(teacher_prompt_rt(question.question))
    record = (paths or {}).get(question.ID)
    linearised = verbalise_paths(record) if record is not None and record.status == PATH_FOUND else ""
    if linearised:
        return TeacherPrompt(teacher_prompt_fs1(question.question, linearised), kg_path=linearised)
    if no_path == "skip":
        return None
    return TeacherPrompt(teacher_prompt_rt(question.question), flags=[FLAG_NO_KG_PATH])


def split_reply(completion: Completion) -> ParsedReply:
    """Split a teacher completion into reasoning and attempt (see the module docstring) and check its form."""
    text = completion.text or ""
    flags = [FLAG_TRUNCATED] if completion.finish_reason in (FINISH_LENGTH, FINISH_CONTEXT) else []
    if completion.reasoning and completion.reasoning.strip():
        # Some servers send a reasoning field and still echo the think block in the content: keep what follows it.
        attempt = text.rpartition(THINK_CLOSE_TAG)[2]
        reasoning, source = completion.reasoning, SOURCE_FIELD
    elif THINK_CLOSE_TAG in text:
        thinking, _, attempt = text.partition(THINK_CLOSE_TAG)
        reasoning, source = thinking.replace(THINK_OPEN_TAG, "", 1), SOURCE_THINK_TAGS
    elif text.lstrip().startswith(THINK_OPEN_TAG):
        reasoning = text.lstrip()[len(THINK_OPEN_TAG) :]
        return ParsedReply(reasoning.strip(), "", None, SOURCE_THINK_TAGS, [*flags, FLAG_UNCLOSED_THINK])
    else:
        answer = last_boxed(text)
        flags.append(FLAG_NO_REASONING_FIELD)
        reply = _checked(ParsedReply(text.strip(), "", answer, SOURCE_REPLY, flags), text)
        # The attempt is the final answer, boxed again; a box the reply never closed holds no usable answer.
        closed = FLAG_UNCLOSED_BOX not in reply.flags
        if answer and closed:
            reply.attempt = f"{BOX_COMMANDS[0]}{{{answer}}}"
        else:
            # A weak teacher that never boxes: keep its answer text as the attempt (the trace stays invalid, so the
            # paper's filter drops it) so that demo runs with `require_correct: false` have something to train on.
            reply.attempt = (extract_answer(text) or "") if answer is None else ""
        return reply
    answer = last_boxed(attempt)
    return _checked(ParsedReply(reasoning.strip(), attempt.strip(), answer, source, flags), attempt)


def _checked(reply: ParsedReply, answer_text: str) -> ParsedReply:
    reply.flags.extend(form_flags(reply.reasoning, answer_text))
    return reply


def form_flags(reasoning: str, answer_text: str) -> list[str]:
    """Form defects: no reasoning, no final boxed answer in ``answer_text``, a final box never closed, or boxes
    disagreeing with the final one."""
    flags = []
    if not reasoning.strip():
        flags.append(FLAG_NO_REASONING)
    final = last_boxed(answer_text)
    if final is None:
        flags.append(FLAG_NO_ANSWER)
    elif not _last_box_closed(answer_text):
        flags.append(FLAG_UNCLOSED_BOX)
    elif boxed_answers(answer_text) - _answer_items(final):
        flags.append(FLAG_MULTIPLE_ANSWERS)
    return flags


def _last_box_closed(text: str) -> bool:
    """Whether the braces of the last box command in ``text`` balance (a reply may stop inside its box)."""
    start = max(text.rfind(command) for command in BOX_COMMANDS)
    brace = text.find("{", start)
    if start < 0 or brace < 0:
        return True
    depth = 0
    for at in range(brace, len(text)):
        char = text[at]
        if char in "{}" and text[at - 1] != "\\":
            depth += 1 if char == "{" else -1
            if depth == 0:
                return True
    return False


def boxed_answers(text: str) -> set[str]:
    """The normalised contents of every non-empty box in ``text`` (each box read on its own)."""
    starts = sorted(at for command in BOX_COMMANDS for at in _find_all(text, command))
    found = set()
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        content = last_boxed(text[start:end])
        if content:
            found.add(_normalise(content))
    return found


def _answer_items(answer: str) -> set[str]:
    # A list answer ("A, B" from "\boxed{A}, \boxed{B}") agrees with each of its item boxes.
    return {_normalise(answer)} | {_normalise(item) for item in answer.split(", ")}


def _find_all(text: str, needle: str) -> Iterable[int]:
    at = text.find(needle)
    while at >= 0:
        yield at
        at = text.find(needle, at + len(needle))


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())
