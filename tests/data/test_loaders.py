"""Each native dataset loader maps its published format to Question records with the right values and metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fs1.data import read_dataset
from fs1.data.common import CWQ, EXAQT, GRAILQA, MINTAKA, SIMPLEQA, WEBQSP
from fs1.io import InputError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
SHARED = Path(os.environ.get("FS1_SHARED") or Path(__file__).resolve().parents[3] / "shared")
MINTAKA_DEV = SHARED / "data" / "mintaka_dev_sample.json"


def by_id(path: Path, fmt: str) -> dict:
    return {q.ID: q for q in read_dataset(path, fmt).questions}


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


# ---------------------------------------------------------------- Mintaka (the shared real dev sample)


@pytest.fixture(scope="module")
def mintaka() -> dict:
    if not MINTAKA_DEV.is_file():
        pytest.skip(f"shared Mintaka sample not found at {MINTAKA_DEV}")
    loaded = read_dataset(MINTAKA_DEV, "mintaka")
    assert loaded.skipped == {}
    return {q.ID: q for q in loaded.questions}


def test_mintaka_entity_answer_keeps_ids_and_metadata(mintaka) -> None:
    q = mintaka["9ace9041"]
    assert q.question == "What is the fourth book in the Twilight series?"
    assert q.main_answers == ["Breaking Dawn"]
    assert q.answer_entities == ["Q53945"]
    assert q.question_entities == ["Q44523"]  # the ordinal "fourth" is not an entity
    assert q.source_of_data == MINTAKA
    assert q.meta["complexity_type"] == "ordinal"
    assert q.meta["category"] == "books"
    assert q.meta["dataset_answer_type"] == "entity"
    assert [v["name"] for v in q.meta["question_values"]] == [4]


def test_mintaka_count_answer_is_the_number(mintaka) -> None:
    q = mintaka["88bdb808"]
    assert q.main_answers == ["6"]
    assert q.answer_aliases == []
    assert q.answer_entities == []
    assert q.answer_type == "number"
    assert len(q.meta["counted_entities"]) == 6 and "Q17150" in q.meta["counted_entities"]


def test_mintaka_boolean_and_mention_alias(mintaka) -> None:
    assert mintaka["26ebd827"].main_answers == ["yes"]
    assert mintaka["db942bdc"].main_answers == ["no"]
    assert mintaka["db942bdc"].question_entities == ["Q102754", "Q106440"]
    jedi = mintaka["750771e3"]
    assert jedi.main_answers == ["Star Wars: Episode VI – Return of the Jedi"]
    assert jedi.answer_aliases == ["Star Wars: Return of the Jedi"]
    # several answers: their comma-joined mention is no alias
    assert mintaka["d2a31098"].main_answers == ["Super Bowl XL", "Super Bowl XLIX"]
    assert mintaka["d2a31098"].answer_aliases == []


def test_mintaka_with_translations_numeric_date_and_null_answers(tmp_path: Path) -> None:
    records = [
        {
            "id": "t1",
            "question": "How tall is it?",
            "questionEntity": [{"name": "Q243", "entityType": "entity", "label": "Eiffel Tower"}],
            "answer": {"answerType": "numerical", "answer": [330], "mention": "330"},
            "category": "geography",
            "complexityType": "generic",
            "translations": {"de": "Wie hoch ist er?", "fr": "Quelle est sa hauteur ?"},
        },
        {
            "id": "t2",
            "question": "When was Obama born?",
            "questionEntity": [],
            "answer": {"answerType": "date", "answer": ["1961-08-04"], "mention": "4 August 1961"},
            "category": "politics",
            "complexityType": "generic",
        },
        {
            "id": "t3",
            "question": "Who is it?",
            "answer": {"answerType": "entity", "answer": [{"name": "Q76", "label": {"en": "Barack Obama"}}]},
            "complexityType": "generic",
        },
        {"id": "t4", "question": "Unanswerable?", "answer": {"answerType": "entity", "answer": None}},
    ]
    loaded = read_dataset(write_json(tmp_path / "m.json", records), "mintaka")
    got = {q.ID: q for q in loaded.questions}
    assert got["t1"].main_answers == ["330"] and got["t1"].answer_type == "number"
    assert "translations" not in got["t1"].meta
    assert got["t2"].main_answers == ["1961-08-04"] and got["t2"].answer_type == "date"
    assert got["t3"].main_answers == ["Barack Obama"] and got["t3"].answer_entities == ["Q76"]
    assert loaded.skipped == {"no gold answer": ["t4"]}


def test_mintaka_bad_record_names_file_and_record(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", [{"id": "x1", "question": "No answer field?"}])
    with pytest.raises(InputError, match=r"bad\.json: record 0 \(id x1\): missing field 'answer'"):
        read_dataset(path, "mintaka")
    broken = tmp_path / "broken.json"
    broken.write_text('[\n {"id": "a",\n  "question": }\n]', encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.json:3: malformed JSON"):
        read_dataset(broken, "mintaka")


# ---------------------------------------------------------------- SimpleQA


def test_simpleqa_csv_rows_and_metadata() -> None:
    got = by_id(FIXTURES / "simple_qa_test_set.csv", "simpleqa")
    # IDs from the question text: the first 12 hex digits of its SHA-256 (computed by hand with hashlib)
    assert list(got) == ["simpleqa-c04ec7c29cf9", "simpleqa-a2aba7bdfe1b", "simpleqa-cc8f8563e695"]
    assert [q.meta["row_id"] for q in got.values()] == ["simpleqa-0", "simpleqa-1", "simpleqa-2"]
    gold = got["simpleqa-a2aba7bdfe1b"]
    assert gold.question == 'What is the atomic number of gold, the element with symbol "Au"?'
    assert gold.main_answers == ["79"]
    assert gold.answer_type == "number"
    assert gold.meta["topic"] == "Science and technology"
    assert gold.meta["urls"] == ["https://en.wikipedia.org/wiki/Gold", "https://example.org/a,b"]
    assert got["simpleqa-c04ec7c29cf9"].answer_type == "place"
    assert got["simpleqa-cc8f8563e695"].answer_type == "date"
    assert all(q.source_of_data == SIMPLEQA for q in got.values())


def test_simpleqa_bad_metadata_names_the_csv_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "metadata,problem,answer\n\"{'topic': 'Art'}\",Q1?,A1\n\"{'topic': oops\",Q2?,A2\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"s\.csv:3: metadata is not a Python dict literal"):
        read_dataset(path, "simpleqa")
    path.write_text("question,answer\nQ?,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="not SimpleQA .expected columns metadata,problem,answer"):
        read_dataset(path, "simpleqa")


# ---------------------------------------------------------------- ComplexWebQuestions


def test_cwq_answers_aliases_and_sparql_entities() -> None:
    loaded = read_dataset(FIXTURES / "ComplexWebQuestions_dev.json", "cwq")
    assert loaded.skipped == {"no gold answer": ["WebQTrn-11_fixture0004"]}
    got = {q.ID: q for q in loaded.questions}
    paris = got["WebQTest-100_fixture0001"]
    assert paris.main_answers == ["Paris"]
    assert paris.answer_aliases == ["Paris, France", "City of Light"]
    assert paris.answer_entities == ["m.05qtj"]
    assert paris.question_entities == ["m.0f8l9c", "m.02j81"]
    assert paris.meta["compositionality_type"] == "composition"
    assert paris.meta["webqsp_id"] == "WebQTest-100"
    assert paris.source_of_data == CWQ
    two = got["WebQTrn-7_fixture0002"]
    assert two.main_answers == ["Honolulu", "Hawaii"]
    assert two.answer_aliases == [
        "Honolulu, Hawaii",
        "HI",
        "Aloha State",
    ]  # "Hawaii" is a main answer already
    columnwise = got["WebQTrn-9_fixture0003"]
    assert columnwise.main_answers == ["Michelle Obama"]
    assert columnwise.answer_aliases == ["Michelle LaVaughn Robinson Obama"]
    assert columnwise.answer_entities == ["m.025s5v9"]


# ---------------------------------------------------------------- WebQSP


def test_webqsp_union_over_parses_and_topic_mids() -> None:
    loaded = read_dataset(FIXTURES / "WebQSP.test.json", "webqsp")
    assert loaded.skipped == {"no gold answer": ["WebQTest-fixture-2"]}
    got = {q.ID: q for q in loaded.questions}
    born = got["WebQTest-fixture-0"]
    assert born.question == "where was barack obama born?"
    assert born.main_answers == ["Honolulu", "Hawaii"]
    assert born.answer_entities == ["m.02hrh0_", "m.03gh4"]
    assert born.question_entities == ["m.02mjmr"]
    assert born.meta["inferential_chains"] == [["people.person.place_of_birth"], None]
    assert born.source_of_data == WEBQSP
    assert got["WebQTest-fixture-1"].main_answers == ["1961-08-04"]
    assert got["WebQTest-fixture-1"].answer_entities == []


def test_webqsp_wrong_shape_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="or an object with a 'Questions' array"):
        read_dataset(write_json(tmp_path / "w.json", {"Version": "1.0", "Qs": []}), "webqsp")


# ---------------------------------------------------------------- GrailQA


def test_grailqa_level_edges_and_answer_types() -> None:
    loaded = read_dataset(FIXTURES / "grailqa_v1.0_dev.json", "grailqa")
    assert loaded.skipped == {"no gold answer": ["2100100400000"]}
    got = {q.ID: q for q in loaded.questions}
    france = got["2100100100000"]
    assert france.main_answers == ["France"]
    assert france.answer_entities == ["m.0f8l9c"]
    assert france.question_entities == ["m.05qtj"]
    assert france.hops == 1 and france.answer_type == "place"
    assert france.meta["level"] == "i.i.d." and france.meta["domains"] == ["location"]
    born = got["2100100200000"]
    assert born.main_answers == ["1961-08-04"] and born.answer_type == "date" and born.answer_entities == []
    count = got["2100100300000"]
    assert count.main_answers == ["5"] and count.answer_type == "number" and count.hops == 2
    assert count.question_entities == ["m.0f8l9c", "m.02l6h"]
    assert count.meta["function"] == "count" and count.meta["level"] == "zero-shot"
    assert all(q.source_of_data == GRAILQA for q in got.values())


# ---------------------------------------------------------------- ExaQT / TimeQuestions


def test_exaqt_entities_dates_and_temporal_metadata() -> None:
    got = by_id(FIXTURES / "TimeQuestions_test.json", "exaqt")
    bush = got["9001"]
    assert bush.main_answers == ["George W. Bush"] and bush.answer_entities == ["Q207"]
    assert bush.meta["temporal_signal"] == ["OVERLAP"]
    assert bush.meta["temporal_question_type"] == ["Explicit"]
    born = got["9002"]
    assert born.main_answers == ["1961-08-04"]
    assert born.answer_aliases == ["4 August 1961", "August 4, 1961"]
    assert born.answer_type == "date" and born.answer_entities == []
    year = got["9003"]  # lower-case answer keys; a 01-01 timestamp also answers with the year
    assert year.main_answers == ["1997-01-01"] and "1997" in year.answer_aliases
    assert year.meta["temporal_question_type"] == ["Ordinal", "Temp.Ans"]
    assert all(q.source_of_data == EXAQT for q in got.values())


# ---------------------------------------------------------------- fs1 format and shared rules


def test_fs1_json_decodes_list_text_and_keeps_extra_columns() -> None:
    got = by_id(FIXTURES / "fs1_benchmark.json", "fs1")
    assert got["fs1-simpleqa-1"].main_answers == ["79"]
    assert got["fs1-simpleqa-1"].answer_aliases == []
    assert got["fs1-mintaka-1"].meta == {"split": "test"}
    assert got["fs1-cwq-1"].gold == ["Paris", "Paris, France"]


def test_fs1_parquet_round_trip(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {
            "ID": "a",
            "question": "Q1?",
            "main_answers": ["x"],
            "answer_aliases": ["y"],
            "source_of_data": "SimpleQA",
        },
        {
            "ID": "b",
            "question": "Q2?",
            "main_answers": ["z"],
            "answer_aliases": [],
            "source_of_data": "WebQSP",
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")
    got = read_dataset(tmp_path / "b.parquet", "fs1").questions
    assert [(q.ID, q.main_answers, q.answer_aliases, q.source_of_data) for q in got] == [
        ("a", ["x"], ["y"], "SimpleQA"),
        ("b", ["z"], [], "WebQSP"),
    ]


def test_fs1_topic_column_is_kept_in_one_case_and_optional(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fs1.io import write_jsonl_atomic

    base = {"question": "Q?", "main_answers": ["x"], "source_of_data": "SimpleQA"}
    rows = [
        {"ID": "a", **base, "topic": "Art"},
        {"ID": "b", **base, "topic": "  TV  shows "},
        {"ID": "c", **base},  # a file written before topics were kept
        {"ID": "d", **base, "topic": None},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = read_dataset(path, "fs1").questions
    assert [q.topic for q in got] == ["art", "tv shows", None, None]
    assert all("topic" not in q.meta for q in got)  # a field of its own, not an unknown column
    again = tmp_path / "again.jsonl"
    write_jsonl_atomic(again, got)
    assert read_dataset(again, "fs1").questions == got
    table = [{k: v for k, v in q.to_dict().items() if k != "meta"} for q in got]  # Parquet: no empty struct
    pq.write_table(pa.Table.from_pylist(table), tmp_path / "t.parquet")
    assert [q.topic for q in read_dataset(tmp_path / "t.parquet", "fs1").questions] == [q.topic for q in got]
    path.write_text(json.dumps({"ID": "e", **base, "topic": 5}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.jsonl:1: field topic: expected a string, found int 5"):
        read_dataset(path, "fs1")


def test_duplicate_ids_are_an_error_naming_the_file(tmp_path: Path) -> None:
    row = {"ID": "same", "question": "Q?", "main_answers": ["A"], "source_of_data": "SimpleQA"}
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dup\.jsonl: duplicate question ID 'same'"):
        read_dataset(path, "fs1")
    cwq = json.loads((FIXTURES / "ComplexWebQuestions_dev.json").read_text(encoding="utf-8"))
    with pytest.raises(InputError, match=r"cwq_dup\.json: duplicate question ID"):
        read_dataset(write_json(tmp_path / "cwq_dup.json", [cwq[0], cwq[0]]), "cwq")


def test_fs1_jsonl_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    good = {"ID": "1", "question": "Q?", "main_answers": ["A"]}
    path.write_text(
        json.dumps(good) + "\n" + json.dumps({"ID": "2", "question": "Q?", "main_answers": []}) + "\n"
    )
    with pytest.raises(InputError, match=r"b\.jsonl:2: .*empty gold list"):
        read_dataset(path, "fs1")
    path.write_text(json.dumps({"id": "1", "question": "Q?"}) + "\n")
    with pytest.raises(
        InputError, match=r"b\.jsonl:1: not the fs1 benchmark format \(missing ID, main_answers\)"
    ):
        read_dataset(path, "fs1")


# ---------------------------------------------------------------- JSON Lines and circulating shapes


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ComplexWebQuestions_dev.json", "cwq"),
        ("WebQSP.test.json", "webqsp"),
        ("grailqa_v1.0_dev.json", "grailqa"),
        ("TimeQuestions_test.json", "exaqt"),
    ],
)
def test_every_json_format_reads_the_same_records_as_json_lines(tmp_path: Path, name: str, fmt: str) -> None:
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    records = doc["Questions"] if isinstance(doc, dict) else doc
    for target in (tmp_path / "copy.jsonl", tmp_path / "copy_saved_as.json"):  # JSON Lines under either name
        target.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        lines = read_dataset(target)
        assert lines.questions == read_dataset(FIXTURES / name, fmt).questions
        assert lines.variant.endswith(("JSON Lines", "JSON Lines, wrapper dropped"))


def test_simpleqa_json_rows_and_grailqa_string_ids(tmp_path: Path) -> None:
    rows = [{"metadata": {"topic": "Art", "answer_type": "Person"}, "problem": "Who?", "answer": "Ann\n"}]
    loaded = read_dataset(write_json(tmp_path / "simple_qa.json", rows), "simpleqa")
    assert loaded.questions[0].main_answers == ["Ann"] and loaded.questions[0].answer_type == "person"
    grail = [
        {"qid": "dev-7", "question": "q?", "answer": [{"answer_type": "Value", "answer_argument": "3"}]},
        {"qid": 42, "question": "p?", "answer": [{"answer_type": "Entity", "answer_argument": "m.0abc"}]},
    ]
    got = by_id(write_json(tmp_path / "grail.json", grail), "grailqa")
    assert got["dev-7"].main_answers == ["3"]
    assert got["42"].main_answers == ["m.0abc"] and got["42"].meta["answers_are_ids"] is True


def test_cwq_answer_as_labels_ids_and_literals(tmp_path: Path) -> None:
    base = {"question": "q?", "compositionality_type": "conjunction", "sparql": "ns:m.0q ns:x ?x"}
    records = [
        {**base, "ID": "a", "answer": ["Paris", "Lyon"]},  # a list of names
        {**base, "ID": "b", "answer": ["m.05qtj", "1987"]},  # ChatKBQA: ids and bare literals
        {**base, "ID": "c", "answer": "Paris"},  # ToG: one string
        {**base, "ID": "d", "answer": []},
    ]
    loaded = read_dataset(write_json(tmp_path / "cwq.json", records), "cwq")
    got = {q.ID: q for q in loaded.questions}
    assert got["a"].main_answers == ["Paris", "Lyon"] and got["a"].answer_entities == []
    assert got["b"].main_answers == ["1987"] and got["b"].answer_entities == ["m.05qtj"]
    assert got["b"].meta["unlabelled_answer_ids"] == ["m.05qtj"] and "answers_are_ids" not in got["b"].meta
    assert got["c"].main_answers == ["Paris"] and got["c"].question_entities == ["m.0q"]
    assert loaded.skipped == {"no gold answer": ["d"]}


def test_the_format_table_tells_formats_apart_whatever_its_order() -> None:
    # Detection takes the first format whose signature keys a record carries: disjoint signatures make the table's
    # order irrelevant, and every reader resolves to a function.
    from itertools import combinations

    from fs1.data.detect import FORMAT_TABLE, reader_of

    for (a, fa), (b, fb) in combinations(FORMAT_TABLE.items(), 2):
        assert not fa.signature & fb.signature, (a, b)
    assert all(callable(reader_of(name)) for name in FORMAT_TABLE)
    with pytest.raises(InputError, match="unknown format 'nope'; choose one of fs1, mintaka, simpleqa"):
        reader_of("nope")
