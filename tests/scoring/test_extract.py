"""Answer extraction: boxes, markers, think blocks, cut-off replies, LaTeX clean-up, plain replies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fs1.prompts import FORCED_ANSWER, THINK_START, s1_assistant_text
from fs1.scoring.extract import extract, extract_answer

BOX_CASES = [
    (r"\boxed{Tokyo}", "Tokyo"),
    (r"The answer is \boxed{\text{Tokyo}}.", "Tokyo"),
    (r"\boxed{\textbf{Barack Obama}}", "Barack Obama"),
    (r"\boxed{\mathrm{Paris}}", "Paris"),
    (r"\boxed{\text{\textbf{Nested} Wrappers}}", "Nested Wrappers"),
    (r"$\boxed{1776}$", "1776"),
    (r"\[ \boxed{42} \]", "42"),
    (r"\boxed{\frac{1}{2}}", "1/2"),
    (r"\boxed{\dfrac{3}{4}}", "3/4"),
    (r"\boxed{\$1,000}", "$1,000"),
    (r"\boxed{50\%}", "50%"),
    (r"\boxed{100^\circ C}", "100° C"),
    (r"\boxed{\{1, 2\}}", "1, 2"),
    (r"\boxed{São Paulo}", "São Paulo"),
    (r"\boxed{Louis XIV}", "Louis XIV"),
    (r"\boxed{**Tokyo**}", "Tokyo"),
    (r"\boxed{ Tokyo. }", "Tokyo"),
    (r'\boxed{"Hey Jude"}', "Hey Jude"),
    (r"\boxed{\text{Washington, D.C.}}", "Washington, D.C."),
    (r"\fbox{Rome}", "Rome"),
    (r"\boxed {Spaced}", "Spaced"),
    # the last box wins; an empty box (the echoed instruction) is skipped
    (r"First \boxed{Paris}, then on reflection \boxed{Lyon}", "Lyon"),
    (r"I will put the answer in \boxed{}. \boxed{Madrid}", "Madrid"),
    (r"\boxed{Madrid} is my answer; format: \boxed{}", "Madrid"),
    (r"\boxed{\text{}} \boxed{Oslo} \boxed{ }", "Oslo"),
    # several boxes joined on one line form a list answer
    (r"The members were \boxed{John} and \boxed{Paul}.", "John, Paul"),
    (r"$\boxed{A}$, $\boxed{B}$, and $\boxed{C}$", "A, B, C"),
    ("\\boxed{Paris}\nOn second thought:\n\\boxed{Lyon}", "Lyon"),
    (r"\boxed{Paris} or maybe \boxed{Lyon}", "Lyon"),
    # a box left open at the end of a cut reply gives its text
    (r"So it is \boxed{\text{Kyoto}", "Kyoto"),
    (r"So it is \boxed{Kyo", "Kyo"),
]


@pytest.mark.parametrize(("text", "expected"), BOX_CASES)
def test_boxed_answers(text: str, expected: str) -> None:
    found = extract(text)
    assert found.answer == expected
    assert found.via == "boxed"


THINK_CASES = [
    # R1 / QwQ style: box after </think>; a box inside the thinking never counts
    ("<think>\nMaybe \\boxed{Paris}.\n</think>\n\nThe capital is \\boxed{Lyon}.", "Lyon"),
    ("<think>\n\\boxed{Paris}\n</think>\n\nThe capital is Lyon.", "The capital is Lyon"),
    ("<think>\nI think \\boxed{Paris} is right", None),
    ("<think>\nAnswer: Paris. Hmm, let me check", None),
    # R1-distill prompts open <think> in the template: only the closing tag is in the reply
    ("Let me see... \\boxed{Paris}?\n</think>\nAnswer: \\boxed{Berlin}", "Berlin"),
    # s1 format (fs1 / rt students, budget forcing)
    (s1_assistant_text("The capital of Japan... \\boxed{Kyoto}? No.", "Tokyo"), "Tokyo"),
    (THINK_START + "thinking \\boxed{Kyoto}" + FORCED_ANSWER + "Answer: \\boxed{Tokyo}<|im_end|>", "Tokyo"),
    (THINK_START + "long thinking about Kyoto", None),
    (THINK_START + "thinking" + FORCED_ANSWER, None),
    (
        THINK_START + "thinking" + FORCED_ANSWER + "Answer: Tokyo<|im_end|>\n<|im_start|>user\nAnswer: Kyoto",
        "Tokyo",
    ),
    # a think block re-opened after the answer and cut off: the answer before it stands
    ("<think>a</think>\nAnswer: Rome\n<think>more thinking \\boxed{Milan}", "Rome"),
    # several think blocks: the answer follows the last one
    ("<think>a</think> \\boxed{One} <think>b</think> \\boxed{Two}", "Two"),
    ("<think>\n\n</think>\n\n\\boxed{Empty Thinking}", "Empty Thinking"),
]


@pytest.mark.parametrize(("text", "expected"), THINK_CASES)
def test_think_blocks(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


MARKER_CASES = [
    ("Answer: Tokyo", "Tokyo"),
    ("Reasoning first.\nAnswer: Tokyo\nBecause it is the capital.", "Tokyo"),
    ("**Answer:** Tokyo", "Tokyo"),
    ("**Final Answer**: Mount Everest", "Mount Everest"),
    ("**Final Answer**\n\nMount Everest", "Mount Everest"),
    ("Step 1: ...\nStep 2: ...\nThe final answer is: 1969.", "1969"),
    ("Thus, the answer is Pluto.", "Pluto"),
    ("The answers are: Oslo and Bergen", "Oslo and Bergen"),
    ("ANSWER: yes", "yes"),
    ("Answer: Paris\nWait, actually Answer: Lyon", "Lyon"),
]


@pytest.mark.parametrize(("text", "expected"), MARKER_CASES)
def test_answer_markers(text: str, expected: str) -> None:
    found = extract(text)
    assert found.answer == expected
    assert found.via == "marker"


LONG_REASONING = "\n".join(f"Step {i}: consider candidate city number {i}." for i in range(1, 6))
PLAIN_CASES = [
    ("Tokyo", "Tokyo"),
    ("Tokyo.", "Tokyo"),
    ("The capital of Japan is Tokyo.", "The capital of Japan is Tokyo"),
    # a short reply (up to 3 lines, 300 characters) is read whole: an answer and its elaboration
    ("Tokyo.\n\nIt has been the capital since 1868.", "Tokyo. It has been the capital since 1868"),
    ("I don't know the answer.\nMaybe Paris.", "I don't know the answer. Maybe Paris"),
    ("  \n- Tokyo\n", "Tokyo"),
    ("Tokyo<|im_end|>", "Tokyo"),
    ("<|im_start|>assistant\nTokyo<|im_end|>", "Tokyo"),
    # a longer one reasons first and ends with its conclusion
    (LONG_REASONING + "\nSo it must be Osaka.", "So it must be Osaka"),
    ("<think>x</think>\n" + LONG_REASONING + "\nHence Nagoya.", "Hence Nagoya"),
]


@pytest.mark.parametrize(("text", "expected"), PLAIN_CASES)
def test_plain_replies(text: str, expected: str) -> None:
    found = extract(text)
    assert found.answer == expected
    assert found.via == "line"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n ",
        "\\boxed{}",
        "<|im_end|>",
        "**",
        "<think></think>",
        "Answer: \\boxed{}",
        "The answer is \\boxed{ }.",
    ],
)
def test_nothing_to_extract_is_no_answer(text: str) -> None:
    assert extract(text).answer is None
    assert extract(text).via == "none"


def test_truncated_plain_reply_has_no_answer_but_keeps_boxes_and_markers() -> None:
    rambling = "Let me think about the river.\nIt flows through several countries and"
    assert extract_answer(rambling) == "Let me think about the river. It flows through several countries and"
    assert extract_answer(rambling, truncated=True) is None
    assert extract_answer(rambling + " ends in \\boxed{Black Sea}", truncated=True) == "Black Sea"
    assert extract_answer("Answer: Danube\nbecause it", truncated=True) == "Danube"
    # a closed think block means the answer part was reached before the cap
    assert extract_answer("<think>x</think>\nThe Danube flows", truncated=True) == "The Danube flows"


def test_long_thinking_does_not_change_the_answer() -> None:
    thinking = "Maybe \\boxed{Wrong} or Answer: Wrong. " * 2000
    assert extract_answer(f"<think>{thinking}</think>\n\\boxed{{Right}}") == "Right"
    assert extract_answer(f"<think>{thinking}") is None


# Text that cannot end or re-open a think block (those change the structure by definition).
_thinking_text = (
    st.lists(
        st.sampled_from(
            list("abc XYZ{}\\$:.\n") + ["\\boxed{", "Answer:", "answer is ", "<think>", "<", "/"]
        ),
        max_size=40,
    )
    .map("".join)
    .filter(lambda t: "</think>" not in t and "<|im_start|>" not in t)
)
_answer_part = st.sampled_from(
    [
        "\n\\boxed{Tokyo}",
        "\nAnswer: Tokyo",
        "\nThe answer is \\boxed{\\text{Kyoto}}.",
        "\nTokyo",
        "",
        "\n\\boxed{}",
    ]
)


@settings(max_examples=300, deadline=None)
@given(before=_thinking_text, inserted=_thinking_text, answer=_answer_part)
def test_thinking_is_never_read(before: str, inserted: str, answer: str) -> None:
    for opener, closer in (("<think>", "</think>"), (THINK_START, FORCED_ANSWER)):
        baseline = extract(f"{opener}{before}{closer}{answer}")
        assert extract(f"{opener}{before}{inserted}{closer}{answer}") == baseline
        # an unterminated think block has no answer, whatever it holds
        assert extract(f"{opener}{before}{inserted}{answer}").answer is None


_LINE_PIECES = st.sampled_from(
    ["a", "b c", " ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\\ ", "Tokyo"]
)


@given(pieces=st.lists(_LINE_PIECES, max_size=40))
@settings(max_examples=300)
def test_last_nonblank_line_is_read_from_the_end_as_splitlines_would(pieces: list[str]) -> None:
    from fs1.scoring.extract import _last_nonblank_line

    text = "".join(pieces)
    lines = [line for line in text.splitlines() if line.strip()]
    assert _last_nonblank_line(text) == (lines[-1] if lines else None)


def test_a_long_plain_reply_gives_its_last_nonblank_line() -> None:
    reply = "I reason at length about it.\n" * 20 + "So it is Tokyo  \r\n\n \u2028"
    assert extract(reply).answer == "So it is Tokyo"
    assert extract("Thinking aloud.\n" * 30).answer == "Thinking aloud"
