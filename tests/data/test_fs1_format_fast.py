"""The fs1-format JSONL reader's shortcut gives what the full path gives: the same questions, the same errors.

``load_fs1_file`` takes a row that is plainly a valid question straight from ``orjson`` (``_plain_question``); the
reference here is the full path as every row took it before: ``read_jsonl_rows`` (``json``) and
``questions_from_rows`` (``normalise_row``, ``Question.from_dict``). Rows are built to sit on each side of the
shortcut's edges (types to convert, floats and big integers ``orjson`` reads otherwise, deep nesting, blank or
invalid values), singly and at random.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from fs1.data.fs1_format import _plain_question, load_fs1_file, questions_from_rows
from fs1.errors import InputError
from fs1.io import read_jsonl_rows

PLAIN = {
    "ID": "q1",
    "question": "Who wrote it?",
    "main_answers": ["Ada Lovelace"],
    "answer_aliases": ["A. Lovelace"],
    "source_of_data": "cwq",
    "question_entities": ["m.0abc"],
    "answer_entities": [],
    "hops": 2,
    "answer_type": "person",
    "topic": "history",
    "meta": {"origin": ["x", 1, None, True, {"deep": {"er": 2}}]},
}
# Values each column may take (valid, to convert, or invalid), one of which a random row gets per column.
VARIANTS: dict[str, list[Any]] = {
    "ID": ["q", 7, 7.0, True, None, ["q"], "", " id "],
    "question": ["Who?", "", "   ", None, 3, "Naïve “quote” \u3000?"],
    "main_answers": [["a"], ["a", " ", ""], [], [""], "a", '["a", "b"]', "[not json", [1, 2.5], [None], None, [["a"]]],
    "answer_aliases": [["b"], [], ["", "b"], "b", None, [3], "['x']", [True]],
    "source_of_data": ["cwq", "SimpleQA", 3, None, ""],
    "question_entities": [[], ["Q42"], "Q42", None, [1]],
    "answer_entities": [[], ["m.01"], None, [{"a": 1}]],
    "hops": [1, 0, -3, None, "2", " 3 ", "two", 2.0, True, 2**70, [1]],
    "answer_type": ["person", "Person", " DATE ", "weird", "", " ", None, 3, ["person"]],
    "topic": ["history", "  Science  and Tech ", "", "  ", None, 3, ["music"]],
    "meta": [{}, {"a": 1}, {"a": 1.5}, {"a": [2**70]}, {"a": 2**63}, {"a": -(2**63) - 1}, None, [], "m", {"a": {"b": [float("inf")]}}],
    "extra": ["x", 1.25, None, {"k": "v"}],
    "answers_are_ids": [True, False],
}  # fmt: skip


def with_nested_meta(depth: int) -> str:
    """A plain row whose ``meta`` nests ``depth`` objects deep (written as text: ``json.dumps`` would recurse)."""
    meta = '{"n": ' * depth + '"leaf"' + "}" * depth
    return json.dumps({**PLAIN, "meta": None}).replace('"meta": null', f'"meta": {meta}')


# Whole lines, each read alone: rows at the shortcut's edges and lines that are not rows at all.
LINES = [
    json.dumps(PLAIN),
    with_nested_meta(32),
    with_nested_meta(33),
    with_nested_meta(990),  # orjson reads up to 1,024 levels; json's recursion limit decides (as before)
    with_nested_meta(3000),  # too deep for json: the same one-line error either way
    json.dumps({**PLAIN, "meta": {"nan": float("nan")}}),
    json.dumps({**PLAIN, "meta": {"big": 1e400}}).replace("Infinity", "1e400"),
    json.dumps({**PLAIN, "question": "lone \ud800 surrogate"}),
    '{"ID": "q1", "ID": "q2", "question": "?", "main_answers": ["a"]}',  # a repeated key: the last one counts
    json.dumps({k: v for k, v in PLAIN.items() if k != "ID"}),
    json.dumps({"ID": "q1", "question": "?", "main_answers": ["a"]}),
    json.dumps(
        {"ID": "q1", "question": "?", "main_answers": ["a"], "answer_type": "other"}, ensure_ascii=False
    ),
    json.dumps({**PLAIN, "question": "Qui a écrit « ça » ?"}, ensure_ascii=False),
    json.dumps([PLAIN]),
    '{"ID": "q1", "question": "?", "main_answers": ["a"]',
    '{"ID": "q1", "question": "?", "main_answers": ["a"]} trailing',
    "\ufeff" + json.dumps(PLAIN),
    json.dumps(PLAIN) + "\r",
    "\x0c",
    "\u3000",
    "",
]


def full_path(path: Path) -> list[dict[str, Any]] | str:
    """The reference: every row through ``json`` and ``Question.from_dict``, as before the shortcut."""
    try:
        loaded = questions_from_rows(((f"{path}:{n}", r) for n, r in read_jsonl_rows(path)), path)
    except InputError as exc:
        return str(exc)
    return [q.to_dict() for q in loaded.questions] + [{"variant": loaded.variant}]


def fast_path(path: Path) -> list[dict[str, Any]] | str:
    try:
        loaded = load_fs1_file(path)
    except InputError as exc:
        return str(exc)
    return [q.to_dict() for q in loaded.questions] + [{"variant": loaded.variant}]


def write(path: Path, lines: list[str], raw: bytes = b"") -> Path:
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass") + raw)
    return path


@pytest.mark.parametrize("index", range(len(LINES)))
def test_each_edge_line_reads_as_the_full_path_reads_it(tmp_path: Path, index: int) -> None:
    path = write(tmp_path / "bench.jsonl", [json.dumps({**PLAIN, "ID": "q0"}), LINES[index]])
    assert fast_path(path) == full_path(path)


def test_bytes_that_are_not_utf8_give_the_same_error(tmp_path: Path) -> None:
    path = write(tmp_path / "bench.jsonl", [json.dumps(PLAIN)], b'{"ID": "q\xff", "question": "?"}\n')
    assert fast_path(path) == full_path(path) == f"{path}:2: not UTF-8 text (byte 0xff)"


def test_random_rows_read_as_the_full_path_reads_them(tmp_path: Path) -> None:
    rng = random.Random(0)
    same_errors = questions = 0
    for case in range(600):
        rows = []
        for i in range(rng.randint(1, 4)):
            row = {**PLAIN, "ID": f"q{i}"}
            for column in rng.sample(sorted(VARIANTS), rng.randint(0, 3)):
                if rng.random() < 0.15:
                    row.pop(column, None)
                else:
                    row[column] = rng.choice(VARIANTS[column])
            rows.append(json.dumps(row, ensure_ascii=rng.random() < 0.5))
        path = write(tmp_path / f"bench{case}.jsonl", rows)
        expected = full_path(path)
        assert fast_path(path) == expected, rows
        same_errors += isinstance(expected, str)
        questions += 0 if isinstance(expected, str) else len(expected) - 1
    assert same_errors > 100 and questions > 300  # both sides of the shortcut were exercised


def test_plain_rows_take_the_shortcut_and_rows_to_convert_do_not() -> None:
    assert _plain_question(json.loads(json.dumps(PLAIN))) is not None
    assert _plain_question({"ID": "q", "question": "?", "main_answers": ["a"], "topic": None}) is not None
    for column, value in [
        ("ID", 7),
        ("hops", "2"),
        ("main_answers", "a"),
        ("answer_type", "weird"),
        ("meta", {"a": 1.5}),
        ("extra", "x"),
        ("main_answers", [""]),
    ]:
        assert _plain_question({**PLAIN, column: value}) is None, column
