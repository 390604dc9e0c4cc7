"""Answer normalisation: one canonical token string per answer, so that equal answers compare equal.

``normalize_answer`` applies, in order:

1. LaTeX (in a gold answer) is stripped as in extraction: ``\\frac{1}{2}`` -> 1/2.
2. Unicode: invisible format characters dropped (category Cf: zero-width space and joiners, soft hyphen, bidi marks,
   BOM; and the other default-ignorables: variation selectors, the combining grapheme joiner), so ``Pa\u200bris`` =
   Paris; compatibility forms folded (NFKD: fullwidth ``Ｐａｒｉｓ``, ligatures ``ﬁ``, no-break and ideographic spaces,
   mathematical letters), except where that would change a value: a superscript, subscript or fraction right after a
   digit stays a token of its own (``10²`` is not ``102``; ``1½`` is ``1 1/2``) and ™ ℠ are dropped, not spelled
   ``TM``; accents dropped (São Paulo = Sao Paulo), letters without decomposition mapped (ø -> o, ß -> ss), curly
   quotes and dashes made plain.
3. Booleans: a whole answer or a leading word "True"/"Correct"/"False"/"Incorrect" (followed by punctuation or the
   end) becomes yes/no.
4. Articles: "the"/"an" dropped in any case; "a" dropped in lower case before another word, or as a capitalised first
   word, because a capital "A" after a word, or a final "a", is a letter ("Vitamin A", "Plan A"). An answer made only
   of articles keeps them.
5. Lower case (``casefold``).
6. Numbers: thousands separators dropped (1,000 = 1000; a no-break, narrow no-break or thin space between digit
   groups too, 1\u202f000 = 1000, but not a plain space), "1.5 million" = 1500000, number words to digits
   (twelve = 12, twenty-one = 21, one hundred and five = 105), ordinals to numerals (fourth = 4th), trailing decimal
   zeros dropped (1.50 = 1.5, 2.0 = 2), "%" and "per cent" written "percent", "&" written "and".
7. Eras and signs: a year before the common era keeps its era as part of its token, in every spelling: "3500 BC" =
   "3500 BCE" = "3500 B.C." = "-3500" = "3500 before Christ" -> ``3500bce`` (leading zeros dropped: "-0500" =
   "500 BC"; "5th century BC" -> ``5th centurybce``). A token is compared whole, so a BCE gold is never found in a bare
   or AD year and an AD gold never in a BCE one. "AD"/"CE" only confirm the default era and are dropped ("AD 79" =
   "79 CE" = "79"). A leading minus on any number is the same sign token ("-40" is not "40").
8. Dates: "4 July 1776" = "July 4, 1776" = "1776-07-04" -> "1776 07 04"; "July 1776" -> "1776 07"; "4 July" /
   "July 4" -> "07 04". Year-first, so a year or month-and-year gold is contained in a full date. Numeric day/month
   dates (04/07/1776) are left alone: their order is ambiguous. Years lose leading zeros ("0929-01-01" = "1 January
   929"); a BCE year keeps its era ("15 March 44 BC" -> "44bce 03 15").
9. Punctuation and symbols become spaces (apostrophes vanish: Macy's = Macys; a decimal point between digits stays).
10. Abbreviations written out (St. Petersburg = Saint Petersburg, Mt. Everest = Mount Everest); runs of single
    letters join (U.S.A. = U S A = USA; B.B. King = BB King); white space collapses.

The mapping tables live in ``fs1.scoring.tables``. Results are cached: model answers repeat across samples.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from fs1.scoring.extract import strip_latex
from fs1.scoring.tables import (
    ABBREVIATIONS,
    AMPERSAND,
    AND,
    ARTICLE_A,
    ARTICLES_ANY_CASE,
    MONTHS,
    NO,
    NO_WORDS,
    ORDINAL_WORDS,
    PERCENT,
    SCALE_WORDS,
    SPECIAL_LETTERS,
    TENS_WORDS,
    UNIT_WORDS,
    YES,
    YES_WORDS,
)

_SPECIAL = str.maketrans(SPECIAL_LETTERS)
_BOOL_WORDS = {**dict.fromkeys(YES_WORDS, YES), **dict.fromkeys(NO_WORDS, NO)}
_LEADING_BOOL = re.compile(r"^\s*(" + "|".join(_BOOL_WORDS) + r")\b(?=\s*(?:[,.!;:]|$))", re.IGNORECASE)
_ARTICLES = re.compile(r"\b(?:" + "|".join(ARTICLES_ANY_CASE) + r")\b", re.IGNORECASE)
_ARTICLE_A_LOWER = re.compile(rf"\b{ARTICLE_A}\b(?=\s+\w)")
_ARTICLE_A_FIRST = re.compile(rf"^\s*{ARTICLE_A.upper()}\s+(?=\w)")

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SCALED_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(" + "|".join(SCALE_WORDS) + r")\b")
_NUMBER_WORDS = {**UNIT_WORDS, **TENS_WORDS, **SCALE_WORDS}
_WORD_ALT = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_NUMBER_RUN = re.compile(rf"\b(?:{_WORD_ALT})(?:(?:\s+|-)(?:and\s+)?(?:{_WORD_ALT}))*\b")
_TENS_ALT = "|".join(TENS_WORDS)
_ORDINAL = re.compile(rf"\b(?:({_TENS_ALT})[\s-]+)?(" + "|".join(ORDINAL_WORDS) + r")\b")
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?!\.?\d)")
_PERCENT = re.compile(r"\s*%|\bper\s+cent\b")

# Eras (on casefolded text, before punctuation goes). What an era marker may follow: a number (3500, 3,500 already
# joined, 500s), an ordinal's century or millennium ("5th century").
_ERA_HOLDER = r"(\d+(?:\.\d+)?(?:st|nd|rd|th|s|bce)?|centur(?:y|ies)|millenni(?:um|a))"
_BCE_WORDS = r"(?:b\.?\s?c\.?\s?e\.?|b\.?\s?c\.?|before\s+(?:christ|(?:the\s+)?c(?:ommon|urrent)\s+era))"
_BCE_AFTER = re.compile(rf"{_ERA_HOLDER}(?:\s*{_BCE_WORDS}(?!\w))+")  # a repeated marker ("-3500 BC") is one
_AD_AFTER = re.compile(rf"{_ERA_HOLDER}(?:\s*(?:a\.?\s?d\.?|c\.?\s?e\.?|anno\s+domini|common\s+era)(?!\w))+")
_AD_BEFORE = re.compile(r"\b(?:(?:a\.?\s?d\.?|anno\s+domini)\s*)+(?=\d)")
# A minus sign on a number that does not follow a word or number ("1939-1945" is a range, not a sign).
_NEGATIVE = re.compile(r"(?<![\w.\-)\]])-(\d+(?:\.\d+)?)(?![\w.])")
# Could the text hold an era word or a sign? (false positives only cost the substitutions)
_ERA_HINT = re.compile(r"(?<![a-z])(?:b\.?\s?c|a\.?\s?d|c\.?\s?e|before|anno|common)")
BCE = "bce"  # the era suffix of a BCE year's token; also the token of a negative number

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY = r"(?<![\w.])(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = rf"(\d{{1,4}}(?:{BCE})?)"
# (pattern, group indices of (year, month, day); 0 = absent)
_ISO_DATES = (
    (re.compile(rf"\b(\d{{4}}|\d{{1,4}}{BCE})-(\d{{1,2}})-(\d{{1,2}})(?:t[\d:.]+z?)?\b"), (1, 2, 3)),
)
_NAMED_DATES = (  # on text without punctuation
    (re.compile(rf"{_DAY}\s+(?:of\s+)?({_MONTH_ALT})\s+{_YEAR}\b"), (3, 2, 1)),
    (re.compile(rf"\b({_MONTH_ALT})\s+{_DAY}\s+{_YEAR}\b"), (3, 1, 2)),
    (re.compile(rf"\b({_MONTH_ALT})\s+(\d{{3,4}}|\d{{1,4}}{BCE})\b"), (2, 1, 0)),
    (re.compile(rf"{_DAY}\s+(?:of\s+)?({_MONTH_ALT})\b"), (0, 2, 1)),
    (re.compile(rf"\b({_MONTH_ALT})\s+{_DAY}\b"), (0, 1, 2)),
)
_HAS_DIGIT = re.compile(r"\d")
# Every word the word rules (booleans, articles, number and ordinal words) look for: a text none of whose ASCII words
# is one of them (after case folding) is left alone by those rules, whose patterns are then not run. (A rule's word is
# matched between word boundaries, so it is then a whole run of ASCII letters.)
_RULE_WORDS = frozenset(
    {*_BOOL_WORDS, *ARTICLES_ANY_CASE, ARTICLE_A, *_NUMBER_WORDS, *ORDINAL_WORDS, *TENS_WORDS, *SCALE_WORDS}
)
_ASCII_WORD = re.compile(r"[a-z]+")
# Letters that the patterns' case-insensitive matching takes for ASCII ones (dotless i, long s, Kelvin sign...).
_CASE_TWINS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _has_rule_word(folded: str) -> bool:
    """Does the case-folded ``folded`` hold a word of ``_RULE_WORDS`` (a maximal run of ASCII letters)?"""
    if not folded.isascii():
        folded = folded.translate(_CASE_TWINS)
    return not _RULE_WORDS.isdisjoint(_ASCII_WORD.findall(folded))


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Default-ignorable characters outside category Cf (which goes whole): the combining grapheme joiner, Mongolian free
# variation selectors, variation selectors (emoji and CJK presentation).
_IGNORABLE = frozenset(
    ["\u034f", "\u180b", "\u180c", "\u180d", "\u180f"]
    + [chr(c) for c in range(0xFE00, 0xFE10)]
    + [chr(c) for c in range(0xE0100, 0xE01F0)]
)
# A no-break, narrow no-break or thin space between a digit and a group of three is a thousands separator (SI and
# French style: 1 000 000); a plain space is not taken as one ("2 100" may be two numbers).
_GROUP_SPACE = re.compile(r"(?<=\d)[\u00a0\u202f\u2009](?=\d{3}(?!\d))")
_MARKS = frozenset("\u2122\u2120")  # ™ ℠: trademark marks, not part of a name
_DETACHED = ("<super>", "<sub>", "<fraction>")  # decompositions that must not merge into a number before them
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_POINT_PLACEHOLDER = "\x00"
_APOSTROPHES = "'"
_ASCII_PUNCTUATION = str.maketrans(
    {c: ("" if c in _APOSTROPHES else " ") for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}
)


@lru_cache(maxsize=1 << 18)
def normalize_answer(text: str) -> str:
    """The canonical form of an answer string (rules in the module docstring); ``""`` if nothing is left."""
    return _normalize(text)


def _normalize(text: str, quick: bool = True) -> str:
    """``normalize_answer``; ``quick=False`` runs every word rule's pattern even on a text without their words (what
    the quick path must equal, tested)."""
    if "\\" in text:  # a gold answer written in LaTeX
        text = strip_latex(text)
    text = _fold_unicode(text)
    folded = text.casefold()
    if quick and not _has_rule_word(folded):  # most answers: the word rules' patterns would find nothing
        text = _normalize_numbers(folded, words=False)
    else:
        text = _LEADING_BOOL.sub(lambda m: _BOOL_WORDS[m.group(1).lower().translate(_CASE_TWINS)], text)
        text = _drop_articles(text).casefold()
        text = _normalize_numbers(text)
    has_digit = _HAS_DIGIT.search(text) is not None
    if has_digit:
        if "-" in text:
            text = _NEGATIVE.sub(_era_token, text)  # before punctuation goes: the minus sign is punctuation
        text = _normalize_dates(text, _ISO_DATES)  # before punctuation goes: it needs the dashes
    text = _strip_punctuation(text)
    tokens = [ABBREVIATIONS.get(token, token) for token in text.split()]
    joined = " ".join(_join_single_letters(tokens))
    if has_digit:
        # after punctuation goes and single letters join, so that "July 4, 1776" and "4 July, 1776" read alike, and
        # eras again ("1000, BC", "1000 B C"); repeated until nothing changes (a rewritten date can meet a month name
        # or an era word before it), so that a normal form stays as it is
        for _ in range(4):
            dated = _normalize_dates(_normalize_eras(joined), _NAMED_DATES)
            if dated == joined:
                break
            joined = dated
    return _BOOL_WORDS.get(joined, joined)


def _fold_unicode(text: str) -> str:
    if text.isascii():
        return text
    text = _GROUP_SPACE.sub("", text)  # before they become plain spaces, whose grouping is ambiguous
    text = text.translate(_SPECIAL)
    unusual = {ch for ch in set(_NON_ASCII.findall(text)) if _invisible(ch) or _detached(ch)}
    if unusual:
        text = _drop_invisible_keep_values_apart(text, unusual)
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf" or ch in _IGNORABLE or ch in _MARKS


def _detached(ch: str) -> bool:
    return unicodedata.decomposition(ch).startswith(_DETACHED)


def _drop_invisible_keep_values_apart(text: str, unusual: set[str]) -> str:
    """Invisible characters (and the marks ™ ℠, which NFKD would spell ``TM``, ``SM``) go; a compatibility form that
    NFKD would merge into a number before it gets a space (``10²`` → ``10 2``, ``1½`` → ``1 1⁄2``)."""
    out: list[str] = []
    for ch in text:
        if ch in unusual:
            if _invisible(ch):
                continue
            if out and out[-1][-1:].isdigit():
                out.append(" ")
        out.append(ch)
    return "".join(out)


def _drop_articles(text: str) -> str:
    dropped = _ARTICLE_A_FIRST.sub("", _ARTICLE_A_LOWER.sub(" ", _ARTICLES.sub(" ", text)))
    return dropped if dropped.strip(" .,;:!?'\"-") else text


def _normalize_numbers(text: str, words: bool = True) -> str:
    # The guards skip patterns that cannot apply: this runs once per distinct answer, millions of times per run.
    # ``words=False``: the text holds no number or ordinal word (``_RULE_WORDS``), whose patterns are skipped.
    if "%" in text or "cent" in text:
        text = _PERCENT.sub(" " + PERCENT, text)
    if AMPERSAND in text:
        text = text.replace(AMPERSAND, f" {AND} ")
    has_digit = _HAS_DIGIT.search(text) is not None
    if has_digit and "," in text:
        text = _THOUSANDS.sub("", text)
    if has_digit and words:
        text = _SCALED_NUMBER.sub(_scaled_number, text)
    if words:
        text = _ORDINAL.sub(_ordinal, text)
        text = _NUMBER_RUN.sub(lambda m: _words_to_numbers(m.group()), text)
    return _DECIMAL.sub(_trim_decimal, text) if "." in text else text


def _scaled_number(match: re.Match[str]) -> str:
    try:
        value = Decimal(match.group(1)) * SCALE_WORDS[match.group(2)]
    except InvalidOperation:
        return match.group()
    return format(value.normalize(), "f")


def _trim_decimal(match: re.Match[str]) -> str:
    fraction = match.group(2).rstrip("0")
    return f"{match.group(1)}.{fraction}" if fraction else match.group(1)


def _ordinal(match: re.Match[str]) -> str:
    value = ORDINAL_WORDS[match.group(2)] + (TENS_WORDS[match.group(1)] if match.group(1) else 0)
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix}"


def _words_to_numbers(run: str) -> str:
    """Digits for a run of number words; words that do not continue a number start a new one."""
    numbers: list[str] = []
    total = current = 0
    last = ""  # kind of the previous word: "", "unit", "tens", "scale", "and"
    for word in re.split(r"[\s-]+", run):
        if word == "and":
            if last != "scale":
                if last:
                    numbers.append(str(total + current))
                numbers.append(word)
                total = current = 0
                last = ""
            else:
                last = "and"
            continue
        value = _NUMBER_WORDS[word]
        kind = "scale" if word in SCALE_WORDS else "tens" if word in TENS_WORDS else "unit"
        continues = (
            not last
            or (kind == "scale" and last in ("unit", "tens", "scale"))
            or (kind != "scale" and last in ("scale", "and"))
            or (kind == "unit" and last == "tens" and value < 10)
        )
        if not continues:
            numbers.append(str(total + current))
            total = current = 0
        if kind != "scale":
            current += value
        elif value == 100:
            current = (current or 1) * 100
        else:
            total += (current or 1) * value
            current = 0
        last = kind
    if last and last != "and":
        numbers.append(str(total + current))
    return " ".join(numbers)


def _normalize_eras(text: str) -> str:
    """BCE years as one token with the era suffix; AD/CE markers dropped (module docstring). On text without
    punctuation, where "B.C." has become "bc"."""
    if _ERA_HINT.search(text) is None:  # most answers: one search instead of three substitutions
        return text
    # AD first, so that a BCE marker after it still finds its number
    text = _AD_BEFORE.sub("", _AD_AFTER.sub(r"\1", text))
    return _BCE_AFTER.sub(_era_token, text)


def _era_token(match: re.Match[str]) -> str:
    """The token of the number (or century) in group 1 with the era suffix; leading zeros of a year dropped."""
    number = match.group(1).removesuffix(BCE)
    if number.isdigit():
        number = number.lstrip("0") or "0"
    return number + BCE


def _iso_date_of(order: tuple[int, int, int], match: re.Match[str]) -> str:
    return _iso_date(match, order)


def _normalize_dates(text: str, patterns: tuple[tuple[re.Pattern[str], tuple[int, int, int]], ...]) -> str:
    for pattern, order in patterns:
        text = pattern.sub(functools.partial(_iso_date_of, order), text)
    return text


def _iso_date(match: re.Match[str], order: tuple[int, int, int]) -> str:
    year_at, month_at, day_at = order
    month_text = match.group(month_at)
    month = MONTHS.get(month_text) or int(month_text)
    day = int(match.group(day_at)) if day_at else None
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return match.group()
    year = match.group(year_at) if year_at else ""
    parts = [year.lstrip("0") or "0" if year.isdigit() else year] if year_at else []
    parts.append(f"{month:02d}")
    if day is not None:
        parts.append(f"{day:02d}")
    return " ".join(parts)


def _strip_punctuation(text: str) -> str:
    if "." in text:
        text = _DECIMAL_POINT.sub(_POINT_PLACEHOLDER, text)
    if text.isascii():
        text = text.translate(_ASCII_PUNCTUATION)
    else:
        text = "".join(
            "" if ch in _APOSTROPHES else " " if unicodedata.category(ch)[0] in "PS" else ch for ch in text
        )
    return text.replace(_POINT_PLACEHOLDER, ".") if _POINT_PLACEHOLDER in text else text


def _join_single_letters(tokens: list[str]) -> list[str]:
    if min(map(len, tokens), default=2) > 1:  # (most answers: no single letter to join)
        return tokens
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if run:
            out.extend(["".join(run)] if len(run) > 1 else run)
            run = []
        if token:
            out.append(token)
    return out
