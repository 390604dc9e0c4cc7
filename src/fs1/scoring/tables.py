"""The mapping tables of answer extraction and normalisation, kept in one place so they can be read and extended.

Nothing here has logic: ``extract.py`` and ``normalize.py`` compile these tables into their patterns.
"""

from __future__ import annotations

# --- extraction ---------------------------------------------------------------------------------------------------

# LaTeX commands whose single argument is the text itself: ``\text{Tokyo}`` -> ``Tokyo``.
LATEX_TEXT_WRAPPERS = (
    "text",
    "textbf",
    "textit",
    "textrm",
    "textsf",
    "texttt",
    "textsc",
    "textnormal",
    "textup",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "mathbb",
    "mathcal",
    "boldsymbol",
    "operatorname",
    "emph",
    "mbox",
    "hbox",
    "underline",
    "overline",
    "boxed",
    "fbox",
)
# LaTeX fraction commands: ``\frac{1}{2}`` -> ``1/2``.
LATEX_FRACTIONS = ("frac", "dfrac", "tfrac", "cfrac")
# Argument-less LaTeX commands and escapes replaced by plain text (longest first where prefixes overlap).
LATEX_REPLACEMENTS = (
    ("^{\\circ}", "°"),
    ("^\\circ", "°"),
    ("\\degree", "°"),
    ("\\%", "%"),
    ("\\$", "$"),
    ("\\&", "&"),
    ("\\#", "#"),
    ("\\_", "_"),
    ("\\{", "{"),
    ("\\}", "}"),
    ("\\left", ""),
    ("\\right", ""),
    ("\\qquad", " "),
    ("\\quad", " "),
    ("\\,", " "),
    ("\\;", " "),
    ("\\:", " "),
    ("\\!", ""),
    ("\\ ", " "),
    ("\\times", "×"),
    ("\\cdot", "·"),
    ("\\ldots", "..."),
    ("\\dots", "..."),
    ("~", " "),
)
# Special tokens that end a reply: anything after the first of them is not part of the answer.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>", "<|im_start|>")

# --- normalisation ------------------------------------------------------------------------------------------------

# Letters that Unicode decomposition does not split into base + accent.
SPECIAL_LETTERS = {
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "TH",
    "ı": "i",
    "ß": "ss",
    "‘": "'",
    "’": "'",
    "ʼ": "'",
    "´": "'",
    "`": "'",
    "“": '"',
    "”": '"',
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "−": "-",
    "\u00a0": " ",
}

# Articles dropped in any case; "a" is dropped only in lower case before another word or as a capitalised first word
# ("A Tale of Two Cities"), because a capital "A" after a word, or a final "a", is a letter ("Vitamin A", "Plan A").
ARTICLES_ANY_CASE = ("the", "an")
ARTICLE_A = "a"

# Cardinal number words -> value. "hundred" and larger are multipliers (see SCALE_WORDS).
UNIT_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS_WORDS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALE_WORDS = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000,
}
# Ordinal words -> value; written as numerals with their suffix ("fourth" -> "4th", "twenty-first" -> "21st").
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}

# Month names and abbreviations -> month number.
MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

# Whole answers that mean yes / no (after normalisation); a leading "True," / "False." counts too.
YES_WORDS = ("yes", "true", "correct", "yep", "yeah")
NO_WORDS = ("no", "false", "incorrect", "nope")
YES, NO = "yes", "no"

# Abbreviations common in place and person names, written out (whole tokens, after punctuation is removed).
ABBREVIATIONS = {"st": "saint", "mt": "mount"}

# "%" and "per cent" are written as this word; "&" as "and".
PERCENT = "percent"
AMPERSAND, AND = "&", "and"
