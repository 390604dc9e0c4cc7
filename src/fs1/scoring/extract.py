r"""Answer extraction: the final answer of a model reply, never read out of its thinking.

The rules, in order:

1. **Answer part.** If the reply closes a think block (``</think>`` or ``<|im_start|>answer``), the answer part is the
   text after the *last* closing marker, up to an end-of-turn token or a think block re-opened after it. Else, if the
   reply opens a think block (``<think>``, ``<|im_start|>think``) that never closes, the thinking was cut off: no
   answer (``None``), whatever boxes the thinking holds. Else the whole reply is the answer part (a plain reply).
2. **Box.** The last non-empty ``\boxed{...}`` (or ``\fbox{...}``) of the answer part, nested braces balanced
   (``\boxed{\text{Tokyo}}`` -> ``Tokyo``). Boxes right before it on the same line joined only by commas, ``and``,
   ``&`` or ``;`` form a list answer and are kept, joined by ``", "``. A last box left open (reply cut inside it) gives
   its text to the end. Empty boxes (``\boxed{}``, often the echoed instruction) are skipped.
3. **Marker.** Text after the last ``Answer:`` / ``answer is`` / ``Final Answer`` marker of the answer part, to the end
   of its line (the next non-empty line when the marker ends its line, as in a ``**Final Answer**`` heading).
4. **Plain.** A short answer part (at most 3 non-empty lines and 300 characters: an answer and its elaboration, as
   instruct models reply) is the answer, whole; a longer one gives its last non-empty line, because a reply that
   reasons before answering ends with its conclusion. A plain reply cut off by the token limit (``truncated=True``)
   has no answer: its text is an unfinished thought.

The authors' rule (``extract_authors``, ``--extract authors``; their ``prepare_llm_as_a_judge.py``, docs/protocol.md
§4) is kept beside these, to reproduce their numbers: the first ``\boxed{[^}]*}`` anywhere in the reply, thinking
included, no nested braces (``\boxed{\text{Paris}}`` gives ``\text{Paris``), stripped; else the text between the
first ``<|im_start|>answer`` and the next one (or the end), unstripped; else the last 10 whitespace-separated tokens.
Its answer is handed on as it is (the judge sees exactly that text; rule matching normalises it as any answer).

The extracted text is cleaned of LaTeX (``\text{}``, ``\textbf{}``, ``\mathrm{}`` ... wrappers, ``\frac{a}{b}`` -> a/b,
escapes, math delimiters), Markdown emphasis, surrounding quotes and a final full stop. Scanning starts from the end of
the reply (``rfind``), so the cost does not grow with the length of the thinking.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from fs1.prompts import ANSWER_MARKER, THINK_CLOSE_TAG, THINK_MARKER, THINK_OPEN_TAG
from fs1.scoring.tables import (
    END_OF_TURN_TOKENS,
    LATEX_FRACTIONS,
    LATEX_REPLACEMENTS,
    LATEX_TEXT_WRAPPERS,
)

THINK_CLOSERS = (THINK_CLOSE_TAG, ANSWER_MARKER)
THINK_OPENERS = (THINK_OPEN_TAG, THINK_MARKER)
BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOXED, _FBOX = BOX_COMMANDS

# How an answer was found (``Score.meta["via"]``); ``tail``: the authors' last-10-tokens fallback.
VIA_BOX, VIA_MARKER, VIA_LINE, VIA_NONE, VIA_TAIL = "boxed", "marker", "line", "none", "tail"
EXTRACT_FS1, EXTRACT_AUTHORS = "fs1", "authors"  # the two rules (``fs1.vocab.ExtractMode``)
_CACHED_PART_LENGTH = 512
# A plain answer part this short is read whole (an answer and its elaboration); a longer one by its last line.
_SHORT_REPLY_LINES = 3
_SHORT_REPLY_CHARS = 300

_LEADING_SPECIAL = re.compile(
    r"^(?:\s*(?:" + "|".join(map(re.escape, END_OF_TURN_TOKENS)) + r")(?:assistant\b)?)+"
)
_BRACE = re.compile(r"\\[{}]|[{}]")
# Text allowed between two boxes of one list answer: "\boxed{A}, \boxed{B} and \boxed{C}".
_LIST_GAP = re.compile(r"[ \t,;&$]*(?:and[ \t$]*)?", re.IGNORECASE)
# Matched at a word "answer": "Answer:", "**Answer:**", "**Final Answer**: ", "the answer is", "The answers are:", or
# a "Final Answer" heading line.
_MARKER = re.compile(
    r"answers?\b(?:\**[ \t]*:|\s+(?:is|are|was|were|would\s+be)\b[ \t]*:?|\**[ \t]*$)",
    re.IGNORECASE | re.MULTILINE,
)
_WRAPPER = re.compile(r"\\(?:" + "|".join(LATEX_TEXT_WRAPPERS) + r")\s*\{([^{}]*)\}")
_FRACTION = re.compile(r"\\(?:" + "|".join(LATEX_FRACTIONS) + r")\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_FRACTION_DIGITS = re.compile(r"\\(?:" + "|".join(LATEX_FRACTIONS) + r")(\d)(\d)")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_MATH_DELIMITERS = re.compile(r"\\[()\[\]]")
_EMPHASIS = re.compile(r"\*\*|__|`")
_BULLET = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
_BULLET_STARTS = frozenset("-*•0123456789")
# A final full stop that belongs to an initial or abbreviation ("D.C.", "U.S.") is kept.
_FINAL_INITIAL = re.compile(r"(?:^|[\s.])[A-Za-z]\.$")
_QUOTES = "\"'“”‘’"


class Extraction(NamedTuple):
    """An extracted answer (``None``: no answer) and how it was found (``boxed``, ``marker``, ``line``, ``none``).

    A named tuple: the file scorer builds one per distinct answer part, and a frozen dataclass took 0.5 µs more.
    """

    answer: str | None
    via: str


NO_ANSWER = Extraction(None, VIA_NONE)


def extract(text: str, *, truncated: bool = False) -> Extraction:
    """Extract the final answer of ``text`` with the rules of this module; ``truncated``: the reply hit the token cap."""
    part, closed = answer_part(text)
    return extract_from_part(part, closed, truncated=truncated)


def extract_with(mode: str, text: str, *, truncated: bool = False) -> Extraction:
    """The answer of ``text`` by rule ``mode``: ``fs1`` (``extract``) or ``authors`` (``extract_authors``, which
    knows no truncation: their files record no finish reason)."""
    if mode == EXTRACT_AUTHORS:
        return extract_authors(text)
    if mode != EXTRACT_FS1:
        raise ValueError(f"unknown extraction rule {mode!r}; expected {EXTRACT_FS1} or {EXTRACT_AUTHORS}")
    return extract(text, truncated=truncated)


# The authors' rule, as their code wrote it: re.search(r'\\boxed\{([^}]*)\}', text) over the whole reply.
_AUTHORS_BOX = re.compile(r"\\boxed\{([^}]*)\}")
AUTHORS_TAIL_TOKENS = 10


def extract_authors(text: str) -> Extraction:
    """The answer of ``text`` by the authors' rule (module docstring); the whole text is scanned, thinking included.

    An answer that is empty or white space (``\\boxed{}``) is no answer: fs1 asks no judge about it, where the
    authors' judge was shown ``""``, in which no gold answer is contained.
    """
    box = _AUTHORS_BOX.search(text)
    if box is not None:
        answer, via = box.group(1).strip(), VIA_BOX
    else:
        first = text.find(ANSWER_MARKER)
        if first >= 0:  # text.split(marker)[1]: up to the next marker, not stripped
            start = first + len(ANSWER_MARKER)
            following = text.find(ANSWER_MARKER, start)
            answer, via = text[start : following if following >= 0 else len(text)], VIA_MARKER
        else:  # " ".join(text.split()[-10:]), without splitting the whole reply
            answer, via = " ".join(text.rsplit(None, AUTHORS_TAIL_TOKENS)[-AUTHORS_TAIL_TOKENS:]), VIA_TAIL
    return Extraction(answer, via) if answer.strip() else NO_ANSWER


def extract_from_part(part: str | None, closed: bool, *, truncated: bool = False) -> Extraction:
    """``extract`` on what ``answer_part`` returned (for callers that keep the answer part, e.g. as a cache key)."""
    if part is None:
        return NO_ANSWER
    allow_line = closed or not truncated
    # Answer parts repeat across samples ("Answer: Tokyo"); long ones (whole plain replies) are rarely repeated.
    if len(part) <= _CACHED_PART_LENGTH:
        return _extract_from_part(part, allow_line)
    return extract_part(part, allow_line)


def extract_part(part: str, allow_line: bool) -> Extraction:
    """The rules 2-4 on an answer part, not cached (``allow_line``: rule 4 may apply; ``extract_from_part`` decides)."""
    if _BOXED in part or _FBOX in part:  # (BOX_COMMANDS; most answer parts either end in a box or have none)
        boxed = last_boxed(part)
        if boxed is not None:
            return Extraction(boxed, VIA_BOX)
        if _boxes_nothing(part):
            return NO_ANSWER
    marked = _after_marker(part)
    if marked is not None:
        return Extraction(marked, VIA_MARKER)
    if not allow_line:
        return NO_ANSWER
    if len(part) > _SHORT_REPLY_CHARS:  # not short, whatever its lines: read from its last line
        last = _last_nonblank_line(part)
        answer = clean_answer(last) if last is not None else None
        return Extraction(answer, VIA_LINE) if answer else NO_ANSWER
    lines = [line for line in part.splitlines() if line.strip()]
    if not lines:
        return NO_ANSWER
    short = len(lines) <= _SHORT_REPLY_LINES
    answer = clean_answer(" ".join(lines) if short else lines[-1])
    return Extraction(answer, VIA_LINE) if answer else NO_ANSWER


_extract_from_part = lru_cache(maxsize=1 << 16)(extract_part)


def _last_nonblank_line(part: str) -> str | None:
    """``[line for line in part.splitlines() if line.strip()][-1]`` (``None``: no such line), read from the end.

    Every "\n" ends a line, so the lines after the last one are those of the text after it, and so on backwards:
    a long reply is split only as far back as its last non-blank line.
    """
    end = len(part)
    while end >= 0:
        start = part.rfind("\n", 0, end) + 1
        for line in reversed(part[start:end].splitlines()):
            if line.strip():
                return line
        end = start - 1
    return None


def extract_answer(text: str, *, truncated: bool = False) -> str | None:
    """The final answer of a model reply, or ``None`` when it has none (see the module docstring for the rules)."""
    return extract(text, truncated=truncated).answer


def answer_part(text: str) -> tuple[str | None, bool]:
    """The part of ``text`` an answer may be read from, and whether a think block was closed before it.

    ``(None, False)``: the reply opened a think block and was cut off before closing it.
    """
    raw, closed = raw_answer_part(text)
    return (None, False) if raw is None else (trim_answer_part(raw, closed), closed)


def raw_answer_part(text: str) -> tuple[str | None, bool]:
    """``answer_part`` before ``trim_answer_part``: the text after the last think-closing marker (``closed``), else
    the whole reply (no think block opened), else ``None`` (the thinking was cut off).

    The answer part of a file's replies repeats across samples: a scorer may cache on it, and trim only new ones.
    """
    end = _last_closer_end(text)
    if end >= 0:
        return text[end:], True
    if any(opener in text for opener in THINK_OPENERS):
        return None, False
    return text, False


def trim_answer_part(raw: str, closed: bool) -> str:
    """The answer part from a raw one: cut at a think block re-opened after the closer, and at an end-of-turn token."""
    if closed:
        for opener in THINK_OPENERS:
            at = raw.find(opener)
            if at >= 0:
                raw = raw[:at]
    return _cut_at_end_of_turn(raw)


# Each closing marker starts with "<" and holds no other: a marker cannot overlap a "<" other than its first
# character, so the last marker of a reply starts at the last "<" that starts one. Those are looked for from the end
# (memrchr), a few at most; a reply with more "<" near its end is searched marker by marker.
_CLOSERS_OPEN_AT_LT = all(c.startswith("<") and "<" not in c[1:] for c in THINK_CLOSERS)
_LT_LOOKS = 8


def _last_closer_end(text: str) -> int:
    """Where the text after the last think-closing marker starts (-1: none), as ``max(rfind + len)`` over closers."""
    at = len(text)
    if _CLOSERS_OPEN_AT_LT:
        for _ in range(_LT_LOOKS):
            at = text.rfind("<", 0, at)
            if at < 0:
                return -1
            for closer in THINK_CLOSERS:
                if text.startswith(closer, at):
                    return at + len(closer)
    # (no marker starts at or after ``at``; with the property above, none ends after it either)
    ends = [found + len(closer) for closer in THINK_CLOSERS if (found := text.rfind(closer, 0, at)) >= 0]
    return max(ends, default=-1)


_EMPTY_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{\s*\}")
_ANSWER_LEAD = re.compile(r"^\W*(?:so\s+)?(?:the\s+)?(?:final\s+)?answer(?:\s+is)?\W*$", re.IGNORECASE)


def _boxes_nothing(part: str) -> bool:
    """The last line is an answer lead with an empty box (``Answer: \\boxed{}``): the answer is empty."""
    last = _last_nonblank_line(part)
    if last is None or not _EMPTY_BOX.search(last):
        return False
    return bool(_ANSWER_LEAD.match(_EMPTY_BOX.sub("", last).strip()))


def _cut_at_end_of_turn(part: str) -> str:
    # A model may run past its end-of-turn token into an imagined next turn; the answer ends at the first one
    # after some content (special tokens before any content, such as a role header, are dropped).
    first = part.find("<")  # (every special token starts with "<")
    if first < 0:
        return part
    if not part[:first].strip():  # only white space before it: special tokens may lead
        part = _LEADING_SPECIAL.sub("", part)
        first = max(part.find("<"), 0)
    for token in END_OF_TURN_TOKENS:
        at = part.find(token, first)
        if at >= 0:
            part = part[:at]
    return part


def last_boxed(part: str) -> str | None:
    """The cleaned content of the last non-empty box in ``part`` (with the boxes of a list answer), else ``None``."""
    found = _find_box(part, len(part))
    if found is None:
        return None
    start, end, content = found
    items = [content]
    while part.rfind(_BOXED, 0, start) >= 0 or part.rfind(_FBOX, 0, start) >= 0:  # (an earlier box at all?)
        before = _find_box(part, start)
        if before is None or not _LIST_GAP.fullmatch(part, before[1], start):
            break
        start = before[0]
        items.append(before[2])
    return ", ".join(reversed(items))


def _find_box(part: str, search_end: int) -> tuple[int, int, str] | None:
    """``(start, end, cleaned content)`` of the last non-empty box starting before ``search_end``."""
    while search_end > 0:
        start, name_end = -1, -1
        for command in BOX_COMMANDS:
            at = part.rfind(command, 0, search_end)
            if at > start:
                start, name_end = at, at + len(command)
        if start < 0:
            return None
        brace = name_end
        while brace < len(part) and part[brace] in " \t":
            brace += 1
        if brace < len(part) and part[brace] == "{":
            raw, end = _balanced(part, brace)
            content = clean_answer(raw)
            if content:
                return start, end, content
        search_end = start
    return None


def _balanced(text: str, open_at: int) -> tuple[str, int]:
    """The text inside the brace group opening at ``open_at`` and the index after it (to the end if unclosed)."""
    close = text.find("}", open_at + 1)
    if close >= 0:
        inner = text[open_at + 1 : close]
        if "{" not in inner and "\\" not in inner:
            return inner, close + 1  # (the common case: no nested or escaped brace before it)
    depth = 0
    for match in _BRACE.finditer(text, open_at):
        token = match.group()
        if len(token) == 2:  # an escaped brace is content, not structure
            continue
        depth += 1 if token == "{" else -1
        if depth == 0:
            return text[open_at + 1 : match.start()], match.end()
    return text[open_at + 1 :], len(text)


def _after_marker(part: str) -> str | None:
    """The answer after the last marker: the rest of its line, or the next non-empty line after a heading."""
    end = _last_marker_end(part)
    if end < 0:
        return None
    for line in part[end:].split("\n"):
        cleaned = clean_answer(line)
        if cleaned:
            return cleaned
    return None


def _last_marker_end(part: str) -> int:
    """Where the text after the last answer marker starts (-1: no marker), scanning back from the end."""
    search_end = len(part)
    while True:
        # "nswer" in both cases, then the "a"/"A" before it: lower() could shift indices of some characters.
        found = max(part.rfind("nswer", 0, search_end), part.rfind("NSWER", 0, search_end))
        if found < 1:
            return -1
        start = found - 1
        if part[start] in "aA" and (start == 0 or not (part[start - 1].isalnum() or part[start - 1] == "_")):
            marker = _MARKER.match(part, start)
            if marker:
                return marker.end()
        search_end = found + len("nswer") - 1


def clean_answer(raw: str) -> str | None:
    """Strip LaTeX, Markdown, quotes and a final full stop from an answer string; ``None`` if nothing is left."""
    text = raw
    if "\\" in text:
        text = strip_latex(text)
    text = text.replace("{", "").replace("}", "")
    if "*" in text or "_" in text or "`" in text:
        text = _EMPHASIS.sub("", text)
    text = " ".join(text.split())
    if text[:1] in _BULLET_STARTS:
        text = _BULLET.sub("", text)
    text = text.strip(" :;,")
    if len(text) > 1 and text[0] == "$" and text[-1] == "$":
        text = text.strip("$ ")
    if len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if text.endswith(".") and not text.endswith("..") and not _FINAL_INITIAL.search(text):
        text = text[:-1].rstrip()
    return text or None


def strip_latex(text: str) -> str:
    """Plain text for LaTeX: wrappers unwrapped, fractions as a/b, escapes and commands replaced."""
    text = _MATH_DELIMITERS.sub(" ", text)
    # (functions, not r"\1" templates: re parses a template again on every call)
    for _ in range(8):  # unwrap nested wrappers from the inside out
        unwrapped = _WRAPPER.sub(_first_group, text)
        if unwrapped == text:
            break
        text = unwrapped
    text = _FRACTION.sub(_fraction, text)
    text = _FRACTION_DIGITS.sub(_fraction, text)
    for latex, plain in LATEX_REPLACEMENTS:
        if latex in text:
            text = text.replace(latex, plain)
    return _COMMAND.sub(_first_group, text)


def _first_group(match: re.Match[str]) -> str:
    return match.group(1)


def _fraction(match: re.Match[str]) -> str:
    return f"{match.group(1)}/{match.group(2)}"
