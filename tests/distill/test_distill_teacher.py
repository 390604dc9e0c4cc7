"""Teacher prompts (rt / fs1, exactly the paper's), reply parsing (reasoning field, think tags, plain) and labelling."""

from __future__ import annotations

import pytest

from fs1.backends.base import Completion
from fs1.distill.labelling import label_trace
from fs1.distill.teacher import (
    FLAG_MULTIPLE_ANSWERS,
    FLAG_NO_ANSWER,
    FLAG_NO_KG_PATH,
    FLAG_NO_REASONING_FIELD,
    FLAG_TRUNCATED,
    FLAG_UNCLOSED_THINK,
    index_paths,
    split_reply,
    teacher_prompt,
)
from fs1.records import PathRecord, Question, RecordError, Trace

Q = Question(ID="q1", question="Who won the 1994 NBA Finals?", main_answers=["Houston Rockets"],
             answer_aliases=["Rockets"])  # fmt: skip
PATHS = "1994 NBA Finals, winner, Houston Rockets\n1994 NBA Finals, participant, New York Knicks"


def test_rt_prompt_is_question_then_boxed_instruction() -> None:
    prompt = teacher_prompt(Q, "rt", None)
    assert prompt is not None
    assert prompt.text == "Who won the 1994 NBA Finals?\nPut your final answer within \\boxed{}."
    assert prompt.kg_path == "" and prompt.flags == []


def test_fs1_prompt_has_sentence_paths_one_per_line_then_instruction() -> None:
    paths = {"q1": PathRecord(ID="q1", status="found", hops=1, verbalised=PATHS)}
    prompt = teacher_prompt(Q, "fs1", paths)
    assert prompt is not None
    assert prompt.text.split("\n") == [
        "Who won the 1994 NBA Finals?",
        "While answering the question, make use of the following linearised graph as an inspiration in your "
        "reasoning, not as the only answer:",
        "1994 NBA Finals, winner, Houston Rockets",
        "1994 NBA Finals, participant, New York Knicks",
        "Put your final answer within \\boxed{}.",
    ]
    assert prompt.kg_path == PATHS


def test_fs1_prompt_verbalises_triples_when_the_record_has_no_text() -> None:
    edge = {"s": "Q1", "p": "P1346", "o": "Q2", "s_label": "1994 NBA Finals", "p_label": "winner",
            "o_label": "Houston Rockets"}  # fmt: skip
    paths = {"q1": PathRecord(ID="q1", status="found", paths=[[edge], [edge]])}
    prompt = teacher_prompt(Q, "fs1", paths)
    assert prompt is not None and prompt.kg_path == "1994 NBA Finals, winner, Houston Rockets"


@pytest.mark.parametrize(
    "record", [None, PathRecord(ID="q1", status="none"), PathRecord(ID="q1", status="found")]
)
def test_fs1_question_without_path_falls_back_to_rt_flagged_or_is_skipped(record: PathRecord | None) -> None:
    paths = {"q1": record} if record is not None else {}
    fallback = teacher_prompt(Q, "fs1", paths, no_path="rt")
    assert fallback is not None
    assert fallback.text == teacher_prompt(Q, "rt", None).text  # type: ignore[union-attr]
    assert fallback.flags == [FLAG_NO_KG_PATH]
    assert teacher_prompt(Q, "fs1", paths, no_path="skip") is None


def test_two_path_records_for_one_question_are_an_error() -> None:
    with pytest.raises(RecordError, match="q1"):
        index_paths([PathRecord(ID="q1", status="none"), PathRecord(ID="q1", status="found")])


def _completion(text: str, reasoning: str | None = None, finish: str = "stop") -> Completion:
    return Completion(text=text, tokens=len(text.split()), finish_reason=finish, reasoning=reasoning)


def test_reasoning_field_is_the_reasoning_and_content_the_attempt() -> None:
    reply = split_reply(
        _completion("The Rockets won. \\boxed{Houston Rockets}", reasoning="Finals of 1994 ...")
    )
    assert (reply.reasoning, reply.attempt, reply.answer) == (
        "Finals of 1994 ...",
        "The Rockets won. \\boxed{Houston Rockets}",
        "Houston Rockets",
    )
    assert reply.source == "field" and reply.valid


@pytest.mark.parametrize("text", ["<think>\nLet me recall.\n</think>\n\n\\boxed{Houston Rockets}",
                                  "Let me recall.\n</think>\n\n\\boxed{Houston Rockets}"])  # fmt: skip
def test_think_tags_split_reasoning_from_attempt(text: str) -> None:
    reply = split_reply(_completion(text))
    assert reply.reasoning == "Let me recall."
    assert reply.attempt == "\\boxed{Houston Rockets}"
    assert reply.source == "think_tags" and reply.valid


def test_unclosed_think_block_is_invalid_and_has_no_attempt() -> None:
    reply = split_reply(_completion("<think>\nStill thinking \\boxed{Knicks}", finish="length"))
    assert reply.attempt == "" and reply.answer is None
    assert FLAG_UNCLOSED_THINK in reply.flags and FLAG_TRUNCATED in reply.flags and not reply.valid


def test_plain_reply_is_reasoning_and_its_box_the_attempt() -> None:
    reply = split_reply(
        _completion("The 1994 finals were won by Houston.\nSo \\boxed{\\text{Houston Rockets}}.")
    )
    assert reply.reasoning.startswith("The 1994 finals")
    assert reply.attempt == "\\boxed{Houston Rockets}"
    assert FLAG_NO_REASONING_FIELD in reply.flags and reply.valid


def test_unboxed_plain_reply_keeps_its_answer_text_but_is_invalid() -> None:
    reply = split_reply(_completion("Houston won that year.\nThe winner was the Houston Rockets."))
    assert reply.attempt.endswith("The winner was the Houston Rockets")
    assert reply.answer is None and not reply.valid


def test_truncated_reply_is_invalid_even_with_a_box() -> None:
    reply = split_reply(_completion("\\boxed{Houston Rockets}", reasoning="...", finish="length"))
    assert FLAG_TRUNCATED in reply.flags and not reply.valid


@pytest.mark.parametrize(
    ("attempt", "valid"),
    [
        ("\\boxed{Knicks} no wait \\boxed{Houston Rockets}", False),  # two different final answers
        ("\\boxed{Houston Rockets}. Final: \\boxed{houston  rockets}", True),  # the same answer twice
        ("\\boxed{Hakeem Olajuwon}, \\boxed{Sam Cassell}", True),  # one list answer
        ("I am not sure.", False),  # no final answer
    ],
)
def test_one_final_answer_rule(attempt: str, valid: bool) -> None:
    reply = split_reply(_completion(attempt, reasoning="thinking"))
    assert reply.valid is valid
    if not valid:
        assert {FLAG_MULTIPLE_ANSWERS, FLAG_NO_ANSWER} & set(reply.flags)


def _trace(attempt: str, reasoning: str = "thinking", flags: list[str] | None = None) -> Trace:
    return Trace(id="q1", question=Q.question, mode="rt", model="t", reasoning_trace=reasoning,
                 model_attempt=attempt, gold_answer=Q.gold, flags=list(flags or []))  # fmt: skip


def test_label_uses_the_scorer_against_main_answers_and_aliases() -> None:
    assert label_trace(_trace("The \\boxed{Rockets}")).label == 1  # alias
    assert label_trace(_trace("\\boxed{The Houston Rockets.}")).label == 1  # normalised
    assert label_trace(_trace("\\boxed{New York Knicks}")).label == 0
    wrong_box_right_text = label_trace(_trace("Houston Rockets? No: \\boxed{Knicks}"))
    assert wrong_box_right_text.label == 0  # the final boxed answer counts, not text around it


def test_labelling_keeps_reply_flags_and_is_idempotent() -> None:
    trace = label_trace(_trace("\\boxed{Houston Rockets}", flags=[FLAG_TRUNCATED]))
    assert (trace.label, trace.valid) == (1, 0)
    again = label_trace(Trace.from_dict(trace.to_dict()))
    assert (again.label, again.valid, again.flags) == (1, 0, trace.flags)
    assert label_trace(_trace("\\boxed{Houston Rockets}", reasoning="  ")).valid == 0


def test_a_box_left_open_is_invalid() -> None:
    reply = split_reply(_completion("\\boxed{\n \\text{2008-09-03}\n Obama was born in 2008.\n\\end{item}"))
    assert "unclosed_box" in reply.flags and not reply.valid and reply.attempt == ""
    field = split_reply(_completion("So \\boxed{Houston", reasoning="thinking"))
    assert "unclosed_box" in field.flags and not field.valid
    assert split_reply(
        _completion("\\boxed{\\{a, b\\}}", reasoning="sets")
    ).valid  # escaped braces are content
