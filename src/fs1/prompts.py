"""Every prompt text and marker of the fs1 protocol (docs/protocol.md §1, §2, §3, §5), as named constants.

No other module spells these strings; import them from here.
"""

from __future__ import annotations

from fs1.errors import ConfigError
from fs1.vocab import PROMPT_SETTINGS

# --- The authors' scripts (docs/protocol.md §4, §5) ---
# Every conversation of the authors' vLLM chat script (run_vllm_inference.py) starts with this system message: their
# students', their baselines' and their Llama judge's alike (fs1's `paper` generation preset and `fs1` judge preset).
AUTHORS_SYSTEM_PROMPT = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# Their repetition penalty, in every generation and judge call, is a sampling fact: fs1.config.AUTHORS_REPETITION_PENALTY.

# --- Evaluation prompt (docs/protocol.md §3) ---
BOXED_INSTRUCTION = " Put your final answer in \\boxed{}."
COT_INSTRUCTION = " Think step-by-step."
# The abstention variant (beyond the paper; the protocol of Zhao et al., 2509.06861, and SimpleQA): the model may
# decline, and its refusal lands in the box, where the refusal rule (fs1.scoring.outcome) reads it as not attempted.
ABSTAIN_INSTRUCTION = " Answer only if you are sure; otherwise answer \\boxed{I don't know}."

# --- Teacher prompts (docs/protocol.md §1) ---
TEACHER_BOXED_INSTRUCTION = "Put your final answer within \\boxed{}."
LINEARISED_GRAPH_SENTENCE = (
    "While answering the question, make use of the following linearised graph as an inspiration in your "
    "reasoning, not as the only answer:"
)

# --- s1 think/answer markers and budget forcing (docs/protocol.md §2, §5) ---
THINK_MARKER = "<|im_start|>think"
ANSWER_MARKER = "<|im_start|>answer"
THINK_START = THINK_MARKER + "\n"
FORCED_ANSWER = "\n" + ANSWER_MARKER + "\n"
ANSWER_PREFIX = "Answer: "
WAIT = " Wait,"
# If the model ends thinking with more than this many budget tokens left, the end is cut and WAIT appended.
BUDGET_MARGIN_TOKENS = 32
ANSWER_MAX_TOKENS = 256

# Text after which an answer may be read when no box is present (scoring; docs/protocol.md §4).
ANSWER_MARKERS = (ANSWER_MARKER, "Answer:", "</think>")
# XML-style think tags of reasoning models (DeepSeek-R1, QwQ): the answer is read only after the close tag.
THINK_OPEN_TAG = "<think>"
THINK_CLOSE_TAG = "</think>"

SETTINGS = PROMPT_SETTINGS


def eval_user_prompt(question: str, setting: str = "instruct") -> str:
    """The user turn for evaluation: question + boxed instruction (+ step-by-step for ``cot``; + "answer only when
    sure, else I don't know" for ``abstain``)."""
    if setting not in SETTINGS:
        raise ConfigError(f"unknown setting {setting!r}; expected one of {', '.join(SETTINGS)}")
    text = question.strip() + BOXED_INSTRUCTION
    if setting == "cot":
        text += COT_INSTRUCTION
    if setting == "abstain":
        text += ABSTAIN_INSTRUCTION
    return text


def teacher_prompt_rt(question: str) -> str:
    """rt mode: the plain question and the boxed-answer instruction."""
    return f"{question.strip()}\n{TEACHER_BOXED_INSTRUCTION}"


def teacher_prompt_fs1(question: str, verbalised_paths: str) -> str:
    """fs1 mode: question, linearised-graph sentence, one triple per line, boxed-answer instruction."""
    return f"{question.strip()}\n{LINEARISED_GRAPH_SENTENCE}\n{verbalised_paths.strip()}\n{TEACHER_BOXED_INSTRUCTION}"


def s1_assistant_text(reasoning_trace: str, model_attempt: str) -> str:
    """The assistant turn of an SFT example in the s1 format (docs/protocol.md §2)."""
    return f"{THINK_START}{reasoning_trace.strip()}{FORCED_ANSWER}{ANSWER_PREFIX}{model_attempt.strip()}"


# --- LLM-as-a-judge prompts (issue 6, issue 20; docs/protocol.md §4) ------------------------------------------------------
# fs1: the paper's containment judge, laid out as the authors' evaluation code sends it (prepare_llm_as_a_judge.py):
# the gold answer list as a JSON array, the predicted answer as a JSON string, an empty line, the question. The `fs1`
# preset sends it after AUTHORS_SYSTEM_PROMPT, as their chat script did; `fs1-clean` sends this user turn alone.
JUDGE_FS1_USER = (
    "gold answer: {gold}\n"
    "predicted answer: {prediction}\n"
    "\n"
    "Is the gold answer entity or value contained in the predicted answer? Respond only with 0 (no) or 1 (yes)."
)
JUDGE_FS1_CORRECT = "1"
JUDGE_FS1_INCORRECT = "0"

# simpleqa: a SimpleQA-style grader with three grades; NOT_ATTEMPTED is kept apart from INCORRECT.
JUDGE_SIMPLEQA_SYSTEM = (
    "You are a careful grader of answers to factual questions. Reply with a single letter."
)
JUDGE_SIMPLEQA_USER = (
    "Grade the predicted answer to the question against the gold target.\n"
    "Question: {question}\n"
    "Gold target (any one of these is right, JSON): {gold}\n"
    "Predicted answer (JSON): {prediction}\n\n"
    "A) CORRECT: the predicted answer names the gold target (or an unmistakable equivalent, such as another name "
    "for the same entity or the same value written differently) and does not contradict it.\n"
    "B) INCORRECT: the predicted answer gives a different answer, contradicts the gold target, or hedges between "
    "candidates of which some are wrong.\n"
    "C) NOT_ATTEMPTED: the predicted answer gives no answer, e.g. it refuses or says it does not know.\n\n"
    "Reply with one letter only: A, B or C."
)
# Replies the SimpleQA-style grader may give (a letter or the grade's name), upper-cased.
JUDGE_SIMPLEQA_CORRECT = ("A", "CORRECT")
JUDGE_SIMPLEQA_INCORRECT = ("B", "INCORRECT")
JUDGE_SIMPLEQA_NOT_ATTEMPTED = ("C", "NOT_ATTEMPTED", "NOT ATTEMPTED")
# The judges' sampling presets (the paper's: protocol §4, from scripts/6.run_vllm_evaluation.sh and
# run_vllm_inference.py of the authors' code) are in fs1.config.PRESETS with every other preset.
