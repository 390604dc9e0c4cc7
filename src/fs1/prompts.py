"""Every prompt text and marker of the fs1 protocol (paper-protocol §1, §2, §3, §5), as named constants.

No other module spells these strings; import them from here.
"""

from __future__ import annotations

# --- Evaluation prompt (protocol §3) ---
BOXED_INSTRUCTION = " Put your final answer in \\boxed{}."
COT_INSTRUCTION = " Think step-by-step."

# --- Teacher prompts (protocol §1) ---
TEACHER_BOXED_INSTRUCTION = "Put your final answer within \\boxed{}."
LINEARISED_GRAPH_SENTENCE = (
    "While answering the question, make use of the following linearised graph as an inspiration in your "
    "reasoning, not as the only answer:"
)

# --- s1 think/answer markers and budget forcing (protocol §2, §5) ---
THINK_MARKER = "<|im_start|>think"
ANSWER_MARKER = "<|im_start|>answer"
THINK_START = THINK_MARKER + "\n"
FORCED_ANSWER = "\n" + ANSWER_MARKER + "\n"
ANSWER_PREFIX = "Answer: "
WAIT = " Wait,"
# If the model ends thinking with more than this many budget tokens left, the end is cut and WAIT appended.
BUDGET_MARGIN_TOKENS = 32
ANSWER_MAX_TOKENS = 256

# Text after which an answer may be read when no box is present (scoring; protocol §4).
ANSWER_MARKERS = (ANSWER_MARKER, "Answer:", "</think>")

SETTINGS = ("instruct", "cot", "reasoning")


def eval_user_prompt(question: str, setting: str = "instruct") -> str:
    """The user turn for evaluation: question + boxed instruction (+ step-by-step for ``cot``)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; expected one of {', '.join(SETTINGS)}")
    text = question.strip() + BOXED_INSTRUCTION
    if setting == "cot":
        text += COT_INSTRUCTION
    return text


def teacher_prompt_rt(question: str) -> str:
    """rt mode: the plain question and the boxed-answer instruction."""
    return f"{question.strip()}\n{TEACHER_BOXED_INSTRUCTION}"


def teacher_prompt_fs1(question: str, verbalised_paths: str) -> str:
    """fs1 mode: question, linearised-graph sentence, one triple per line, boxed-answer instruction."""
    return f"{question.strip()}\n{LINEARISED_GRAPH_SENTENCE}\n{verbalised_paths.strip()}\n{TEACHER_BOXED_INSTRUCTION}"


def s1_assistant_text(reasoning_trace: str, model_attempt: str) -> str:
    """The assistant turn of an SFT example in the s1 format (protocol §2)."""
    return f"{THINK_START}{reasoning_trace.strip()}{FORCED_ANSWER}{ANSWER_PREFIX}{model_attempt.strip()}"
