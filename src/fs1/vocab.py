"""The closed vocabularies fs1 speaks, each declared once: settings, trace modes, dataset sources (the backends are
their registry's, ``fs1.backends.BACKENDS``); and the two constants several stages share (the embedded model's
name, the default k list).

Each vocabulary is a ``Literal`` (what pydantic schemas and type checkers use) with its values as a tuple (what
error messages and loops use), derived from it. This module imports nothing from fs1.
"""

from __future__ import annotations

from typing import Literal, get_args

# How a model under evaluation is prompted (``fs1 generate --setting``): plain, step-by-step, told to answer only
# when sure (abstain; not in the paper), s1 think/answer.
PromptSetting = Literal["instruct", "cot", "abstain", "reasoning"]
PROMPT_SETTINGS: tuple[str, ...] = get_args(PromptSetting)

# The settings of an experiment (``fs1 run``): the base model prompted three ways, or a student tuned on rt / fs1
# traces; the paper compares the four without abstain.
RunSetting = Literal["instruct", "cot", "abstain", "rt", "fs1"]
RUN_SETTINGS: tuple[str, ...] = get_args(RunSetting)
PAPER_SETTINGS: tuple[RunSetting, ...] = ("instruct", "cot", "rt", "fs1")

# The two kinds of reasoning traces (``fs1 distill --mode``): the plain question, or the question with KG paths.
TraceMode = Literal["rt", "fs1"]
TRACE_MODES: tuple[str, ...] = get_args(TraceMode)

# Which rule reads the answer of a reply (``fs1 score|judge --extract``): fs1's (the last box of the text after the
# thinking; ``fs1.scoring.extract``) or the authors' (the first box anywhere, thinking included; docs/protocol.md §4).
ExtractMode = Literal["fs1", "authors"]
EXTRACT_MODES: tuple[str, ...] = get_args(ExtractMode)

# Exact ``source_of_data`` values of the published fs1 benchmark.
Source = Literal["ComplexWebQuestions", "ExaQT", "GrailQA", "SimpleQA", "Mintaka", "WebQSP"]
SOURCES: tuple[str, ...] = get_args(Source)

# The answer-type slice of a question (``Question.answer_type``), one vocabulary for every dataset: the paper's five
# (date, number, person, place, other) and "entity" for an entity answer whose dataset does not say whether it is a
# person or a place (WebQSP, CWQ, TimeQuestions, Mintaka entities; GrailQA entities of other classes). "other" is a
# literal that is neither a date nor a number (a yes/no, a name given as text, a version string) and SimpleQA's Other.
AnswerType = Literal["date", "number", "person", "place", "entity", "other"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)

# The model every command defaults to: SmolLM2-135M-Instruct, embedded so fs1 runs offline.
EMBEDDED_NAME = "smollm2-135m"

# The k of pass@k / maj@k reported by default (the paper's curves go to k = 16).
DEFAULT_KS: tuple[int, ...] = (1, 2, 4, 8, 16)
