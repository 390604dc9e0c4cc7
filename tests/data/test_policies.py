"""The policies behind issue #27, each on records built in a dataset's published shape with expectations written by
hand: id-only golds (excluded, labelled with --kg), Mintaka's mention / null names / answerNum, one date-precision
policy, one answer-type vocabulary, content-derived SimpleQA IDs, question accounting."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import IDS_ONLY, exclusion_reason, question_index, read_dataset
from fs1.data.dates import date_answer, parse_date, precision_aliases
from fs1.io import read_records
from fs1.records import Prediction, Question
from fs1.scoring import score_predictions
from fs1.scoring.match import match_answer, scoring_gold
from fs1.vocab import ANSWER_TYPES
from tests.support.cli import runner


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def by_id(path: Path, fmt: str = "auto") -> dict[str, Question]:
    return {q.ID: q for q in read_dataset(path, fmt).questions}


def prediction(qid: str, answer: str, sample: int = 0) -> Prediction:
    return Prediction(id=qid, sample=sample, text=f"\\boxed{{{answer}}}")


# ---------------------------------------------------------------- id-only golds: excluded, or labelled with --kg


def webqsp_ids_only() -> dict:
    parse = {"ParseId": "W1.P0", "TopicEntityMid": "m.0d3k14", "TopicEntityName": "John F. Kennedy"}
    return {
        "Version": "1.0",
        "FreebaseVersion": "2015-08-09",
        "Questions": [
            {
                "QuestionId": "W1",
                "RawQuestion": "which of jfk's brothers held the latest governmental position?",
                "Parses": [
                    {
                        **parse,
                        "Answers": [{"AnswerType": "Entity", "AnswerArgument": "m.0194xc", "EntityName": ""}],
                    }
                ],
            },
            {
                "QuestionId": "W2",
                "RawQuestion": "where was jfk born?",
                "Parses": [
                    {
                        **parse,
                        "Answers": [
                            {"AnswerType": "Entity", "AnswerArgument": "m.01cx_", "EntityName": "Brookline"}
                        ],
                    }
                ],
            },
        ],
    }


def exaqt_qid_only() -> list:
    return [
        {
            "Id": 7001,
            "Question": "who was elvis presley second wife",
            "Temporal signal": ["ORDINAL"],
            "Temporal question type": ["Ordinal"],
            "Answer": [{"AnswerType": "Entity", "WikidataQid": "Q235363", "WikidataLabel": None}],
            "Data source": "fs1 test",
            "Question creation date": "2026-12-06",
            "Data set": "test",
        }
    ]


def cwq_chatkbqa_ids_only() -> list:
    """The ChatKBQA copy of the CWQ test split: official fields plus ``answer``, a list of Freebase ids only."""
    return [
        {
            "ID": "WebQTest-743_0a8c",
            "compositionality_type": "superlative",
            "created": "2018-02-13T04:04:56",
            "machine_question": "what was the name of jfk 's brothers and held his govermental position from latest",
            "question": "Which of JFK's brother held the latest governmental position?",
            "sparql": "PREFIX ns: <http://rdf.freebase.com/ns/>\nSELECT DISTINCT ?x WHERE { ?x ?p ?o }",
            "webqsp_ID": "WebQTest-743",
            "webqsp_question": "what was the name of jfk 's brothers",
            "answer": ["m.0194xc"],
        }
    ]


def mintaka_qid_only() -> list:
    """A Mintaka entity answer linked to a QID whose label and mention are both missing."""
    return [
        {
            "id": "b1d0e5f2",
            "question": "Who was Elvis Presley's second wife?",
            "questionEntity": [{"name": "Q303", "entityType": "entity", "label": "Elvis Presley",
                                "mention": "Elvis Presley", "span": [8, 21]}],
            "answer": {"answerType": "entity", "answer": [{"name": "Q235363", "label": None}], "mention": None},
            "category": "music",
            "complexityType": "generic",
        }
    ]  # fmt: skip


def test_id_only_golds_are_excluded_never_scored_as_text(tmp_path: Path) -> None:
    questions = by_id(write_json(tmp_path / "WebQSP.test.json", webqsp_ids_only()))
    assert questions["W1"].meta[IDS_ONLY] is True and exclusion_reason(questions["W1"])
    assert exclusion_reason(questions["W2"]) is None
    preds = [
        prediction("W1", "Robert F. Kennedy", 0),  # right, but there is no label to check it against
        prediction("W1", "m.0194xc", 1),  # the raw id must not be "right" either
        prediction("W2", "Brookline"),
    ]
    scores, summary = score_predictions(preds, questions, ks=[1])
    assert [(s.match, s.correct) for s in scores] == [
        ("excluded", False),
        ("excluded", False),
        ("exact", True),
    ]
    assert summary["overall"]["n_questions"] == 1 and summary["overall"]["accuracy"] == 1.0
    assert summary["overall"]["hallucination_rate"] == 0.0  # the excluded answers are no hallucination
    assert summary["excluded"] == {
        "count": 1,
        "ids": ["W1"],
        "reasons": {exclusion_reason(questions["W1"]): 1},
    }
    assert "1 question(s) excluded from every number (W1)" in summary["warnings"][0]


def test_a_file_without_marks_is_excluded_on_freebase_ids_alone() -> None:
    bare = Question(ID="c1", question="q?", main_answers=["m.0194xc", "g.11b6_jxcmc"])
    assert exclusion_reason(bare) is not None and scoring_gold(bare) == ()
    quarter = Question(ID="c2", question="which quarter?", main_answers=["Q1"])  # text that looks like a QID
    assert exclusion_reason(quarter) is None


def test_all_predictions_excluded_is_one_clear_error(tmp_path: Path) -> None:
    questions = by_id(write_json(tmp_path / "WebQSP.test.json", webqsp_ids_only()))
    with pytest.raises(ValueError, match="every question with predictions is excluded"):
        score_predictions([prediction("W1", "Robert F. Kennedy")], questions, ks=[1])


def test_kg_labels_id_only_answers_through_p646_and_wikidata_labels(tmp_path: Path, monkeypatch) -> None:
    # A constructed Wikidata-shaped KG: Q25310 carries m.0194xc as P646 (Freebase ids), Q235363 has a label (QIDs).
    wd, wdt = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
    label = "http://www.w3.org/2000/01/rdf-schema#label"
    kg = tmp_path / "kg.nt"
    kg.write_text(
        f'<{wd}Q25310> <{wdt}P646> "/m/0194xc" .\n<{wd}Q25310> <{label}> "Robert F. Kennedy"@en .\n'
        f'<{wd}Q235363> <{label}> "Priscilla Presley"@en .\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FS1_CACHE_DIR", str(tmp_path / "cache"))
    for name, doc, qid, answer in (
        ("WebQSP.test.json", webqsp_ids_only(), "W1", "Robert F. Kennedy"),
        ("ComplexWebQuestions_test.json", cwq_chatkbqa_ids_only(), "WebQTest-743_0a8c", "Robert F. Kennedy"),
        ("TimeQuestions_test.json", exaqt_qid_only(), "7001", "Priscilla Presley"),
        ("mintaka_test.json", mintaka_qid_only(), "b1d0e5f2", "Priscilla Presley"),
    ):
        out = tmp_path / f"{name}.jsonl"
        source = write_json(tmp_path / name, doc)
        result = runner.invoke(app, ["data", "convert", str(source), "-o", str(out), "--kg", f"local:{kg}"])
        assert result.exit_code == 0, result.output
        labelled = {q.ID: q for q in read_records(out, Question)}[qid]
        assert labelled.main_answers == [answer] and exclusion_reason(labelled) is None
        scores, summary = score_predictions([prediction(qid, answer)], {qid: labelled}, ks=[1])
        assert scores[0].correct and summary["excluded"]["count"] == 0
        without_kg = by_id(source)[qid]
        assert exclusion_reason(without_kg) is not None  # the same record without --kg stays excluded


def test_the_judge_never_asks_about_an_excluded_question(tmp_path: Path) -> None:
    from fs1.judge.stage import judge_scores

    questions = by_id(write_json(tmp_path / "WebQSP.test.json", webqsp_ids_only()))
    preds = [prediction("W1", "Robert F. Kennedy"), prediction("W2", "Brookline")]
    scores, _ = score_predictions(preds, questions, ks=[1])
    rows, stats = judge_scores(scores, questions, judge=None)  # no judge: a request for W1 would be an error
    assert [row.id for row in rows] == ["W2"] and stats.judge_requests == 0  # W2: decided by rule


# ---------------------------------------------------------------- Mintaka


def mintaka_record(qid: str, answer: dict, entities: list | None = None, complexity: str = "generic") -> dict:
    return {
        "id": qid,
        "question": f"Question {qid}?",
        "questionEntity": entities or [],
        "answer": answer,
        "category": "movies",
        "complexityType": complexity,
    }


def test_mintaka_mention_null_names_and_answer_num(tmp_path: Path) -> None:
    unlinked = {"name": None, "entityType": "entity", "label": None, "mention": "Best Adapted Screenplay"}
    linked = {
        "name": "Q19020",
        "entityType": "entity",
        "label": "Academy Awards",
        "mention": "Academy Awards",
    }
    records = [
        mintaka_record("m1", {"answerType": "string", "answer": None, "mention": "Decrease"}),
        mintaka_record("m2", {"answerType": "entity", "answer": None, "mention": "Mount Lucania"}),
        mintaka_record(
            "m3",
            {
                "answerType": "entity",
                "answer": [{"name": "Q51577", "label": "James Ivory"}],
                "mention": "James Ivory",
                "answerNum": 89,
            },
            [unlinked, linked],
            "superlative",
        ),  # fmt: skip
        mintaka_record(
            "m4",
            {
                "answerType": "entity",
                "answer": [{"name": "Q130018", "label": {"en": None}}],
                "mention": "Denali",
            },
        ),  # fmt: skip
        mintaka_record("m5", {"answerType": "entity", "answer": None, "mention": None}),
        mintaka_record("m6", {"answerType": "entity", "answer": None, "mention": "3"}, complexity="count"),
    ]
    loaded = read_dataset(write_json(tmp_path / "mintaka_test.json", records), "mintaka")
    got = {q.ID: q for q in loaded.questions}
    assert loaded.skipped == {"no gold answer": ["m5"]}
    assert got["m1"].main_answers == ["Decrease"] and got["m1"].meta["gold_from_mention"] is True
    assert got["m1"].answer_type == "other"
    assert got["m2"].main_answers == ["Mount Lucania"] and got["m2"].answer_type == "entity"
    assert got["m3"].question_entities == ["Q19020"]  # the unlinked entity is left out, not "None"
    assert got["m3"].main_answers == ["James Ivory"] and got["m3"].meta["answer_num"] == 89
    assert (
        "89" not in got["m3"].gold
    )  # answerNum is kept, but it is no alias (the official gold is the entity)
    assert "gold_from_mention" not in got["m3"].meta
    assert got["m4"].main_answers == ["Denali"] and got["m4"].answer_entities == ["Q130018"]
    assert got["m6"].main_answers == ["3"] and got["m6"].meta["gold_from_mention"] is True
    assert got["m6"].answer_type == "number"  # a count question answered only in its mention
    assert all("None" not in q.question_entities + q.main_answers for q in got.values())


# ---------------------------------------------------------------- one date-precision policy


def test_date_values_and_precision_aliases() -> None:
    assert date_answer("1841-03-04") == ("1841-03-04", ["4 March 1841", "March 4, 1841"])
    assert date_answer("1961-01-01T00:00:00Z") == (
        "1961-01-01",
        ["1 January 1961", "January 1, 1961", "1961"],  # a Wikidata 1 January is year precision
    )
    assert date_answer("1961-01-01") == (
        "1961-01-01",
        ["1 January 1961", "January 1, 1961"],
    )  # Freebase: a day
    assert date_answer("-0500-01-01T00:00:00Z") == ("500 BC", ["500 BCE", "-500"])
    assert date_answer("1994-00-00T00:00:00Z") == ("1994", [])
    assert date_answer("7.11.1") is None and date_answer("1841") is None
    assert parse_date("March 4, 1841") == parse_date("4 March 1841") == parse_date("1841-03-04")
    assert precision_aliases("What year did Harrison take office?", ["1841-03-04"]) == ["1841"]
    assert precision_aliases("In which years did it happen?", ["March 1841"]) == ["1841"]
    assert precision_aliases("When did Harrison take office?", ["1841-03-04"]) == []
    assert precision_aliases("What year?", ["1841"]) == []  # already a year


def test_every_loader_applies_the_year_policy(tmp_path: Path) -> None:
    question = "what year did william henry harrison become president?"
    webqsp = [{"QuestionId": "w", "RawQuestion": question,
               "Parses": [{"Answers": [{"AnswerType": "Value", "AnswerArgument": "1841-03-04"}]}]}]  # fmt: skip
    cwq = [{"ID": "c", "question": question, "answer": ["1841-03-04"]}]
    grail = [
        {
            "qid": 1,
            "question": question,
            "answer": [{"answer_type": "Value", "answer_argument": "1841-03-04"}],
        }
    ]
    exaqt = [
        {
            "Id": 2,
            "Question": question,
            "Answer": [{"AnswerType": "Value", "AnswerArgument": "1841-03-04T00:00:00Z"}],
        }
    ]
    mintaka = [mintaka_record("m", {"answerType": "date", "answer": ["1841-03-04"], "mention": "1841"})]
    mintaka[0]["question"] = question
    files = {
        "WebQSP.json": (webqsp, "webqsp"),
        "cwq.json": (cwq, "cwq"),
        "grail.json": (grail, "grailqa"),
        "tq.json": (exaqt, "exaqt"),
        "mintaka.json": (mintaka, "mintaka"),
    }
    for name, (doc, fmt) in files.items():
        (q,) = read_dataset(write_json(tmp_path / name, doc), fmt).questions
        assert "1841" in q.answer_aliases, (fmt, q.answer_aliases)
        assert match_answer("1841", q.gold).correct, fmt
        assert not match_answer("1840", q.gold).correct, fmt
        assert q.answer_type == "date", (fmt, q.answer_type)
    rows = io.StringIO()
    csv.writer(rows).writerows(
        [["metadata", "problem", "answer"], ["{'answer_type': 'Date'}", question, "March 4, 1841"]]
    )
    (tmp_path / "simple_qa_test_set.csv").write_text(rows.getvalue(), encoding="utf-8")
    (q,) = read_dataset(tmp_path / "simple_qa_test_set.csv", "simpleqa").questions
    assert q.answer_aliases == ["1841"]


def test_the_scorer_applies_the_policy_to_files_written_without_it() -> None:
    bare = Question(ID="x", question="What year did Harrison become president?", main_answers=["1841-03-04"])
    when = Question(ID="y", question="When did Harrison become president?", main_answers=["1841-03-04"])
    scores, _ = score_predictions(
        [prediction("x", "1841"), prediction("y", "1841")], {"x": bare, "y": when}, ks=[1]
    )
    assert [s.correct for s in scores] == [True, False]


# ---------------------------------------------------------------- one answer-type vocabulary


def test_answer_types_come_from_the_source_in_one_vocabulary(tmp_path: Path) -> None:
    webqsp = [
        {"QuestionId": "e", "RawQuestion": "who?", "Parses": [{"Answers": [
            {"AnswerType": "Entity", "AnswerArgument": "m.01", "EntityName": "Ann"}]}]},
        {"QuestionId": "n", "RawQuestion": "how many?", "Parses": [{"Answers": [
            {"AnswerType": "Value", "AnswerArgument": "118918", "EntityName": None}]}]},
        {"QuestionId": "t", "RawQuestion": "what for?", "Parses": [{"Answers": [
            {"AnswerType": "Value", "AnswerArgument": "for the double helix", "EntityName": None}]}]},
    ]  # fmt: skip
    got = by_id(write_json(tmp_path / "WebQSP.json", webqsp), "webqsp")
    assert {k: q.answer_type for k, q in got.items()} == {"e": "entity", "n": "number", "t": "other"}
    cwq = [
        {"ID": "ids", "question": "which country?", "answer": ["m.0154j"]},
        {"ID": "literal", "question": "how many?", "answer": ["m.0154j", "12"]},  # mixed: unset
        {"ID": "count", "question": "how many?", "answer": ["12"]},
        {"ID": "tog", "question": "which country?", "answer": "Belgium"},  # ToG: a name or a literal? unset
    ]
    got = by_id(write_json(tmp_path / "cwq.json", cwq), "cwq")
    assert {k: q.answer_type for k, q in got.items()} == {
        "ids": "entity", "literal": None, "count": "number", "tog": None,
    }  # fmt: skip
    mintaka = [
        mintaka_record("b", {"answerType": "boolean", "answer": [True], "mention": "Yes"}),
        mintaka_record("n", {"answerType": "numerical", "answer": [3], "mention": "3"}),
        mintaka_record(
            "e", {"answerType": "entity", "answer": [{"name": "Q1", "label": "X"}], "mention": "X"}
        ),
    ]
    got = by_id(write_json(tmp_path / "mintaka.json", mintaka), "mintaka")
    assert {k: q.answer_type for k, q in got.items()} == {"b": "other", "n": "number", "e": "entity"}
    exaqt = [{"Id": 1, "Question": "who?", "Answer": [{"AnswerType": "Entity", "WikidataQid": "Q1", "WikidataLabel": "X"}]},
             {"Id": 2, "Question": "which version?", "Answer": [{"AnswerType": "Value", "AnswerArgument": "7.11.1"}]}]  # fmt: skip
    got = by_id(write_json(tmp_path / "tq.json", exaqt), "exaqt")
    assert {k: q.answer_type for k, q in got.items()} == {"1": "entity", "2": "other"}
    assert set(ANSWER_TYPES) == {"date", "number", "person", "place", "entity", "other"}


# ---------------------------------------------------------------- SimpleQA IDs and accounting


def simpleqa_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["metadata", "problem", "answer"])
    writer.writerows([("{'topic': 'Art', 'answer_type': 'Other'}", q, a) for q, a in rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_simpleqa_ids_survive_a_subset_and_a_reorder(tmp_path: Path) -> None:
    rows = [
        ("Who painted the Mona Lisa?", "Leonardo da Vinci"),
        ("What is 2+2?", "4"),
        ("Capital of Peru?", "Lima"),
    ]
    full = by_id(simpleqa_csv(tmp_path / "full.csv", rows), "simpleqa")
    part = by_id(simpleqa_csv(tmp_path / "part.csv", [rows[2], rows[0]]), "simpleqa")
    assert set(part) <= set(full)
    for qid, question in part.items():
        assert full[qid].question == question.question  # the same ID names the same question
    json_copy = tmp_path / "copy.json"
    json_copy.write_text(json.dumps([{"metadata": {}, "problem": "  Capital of  Peru? ", "answer": "Lima"}]))
    assert set(by_id(json_copy, "simpleqa")) <= set(full)  # white space does not change the ID
    own = tmp_path / "own.json"
    own.write_text(
        json.dumps([{"id": "sq-17", "metadata": {}, "problem": "Capital of Peru?", "answer": "Lima"}])
    )
    assert list(by_id(own, "simpleqa")) == ["sq-17"]  # a copy's own id wins


def test_old_row_ids_still_find_their_question(tmp_path: Path) -> None:
    rows = [("Who painted the Mona Lisa?", "Leonardo da Vinci"), ("Capital of Peru?", "Lima")]
    questions = read_dataset(simpleqa_csv(tmp_path / "s.csv", rows), "simpleqa").questions
    index = question_index(questions)
    assert index["simpleqa-1"] is index[questions[1].ID]
    preds = [prediction("simpleqa-1", "Lima", 0), prediction(questions[1].ID, "Lima", 1)]
    scores, summary = score_predictions(preds, index, ks=[1])
    assert all(s.correct for s in scores)
    assert summary["overall"]["n_questions"] == 1  # one question, however its predictions name it
    assert summary["questions_without_predictions"] == {"count": 1, "ids": [questions[0].ID]}
    assert summary["benchmark_questions"] == 2


def test_teacher_traces_are_labelled_with_the_evaluations_gold() -> None:
    from fs1.distill.labelling import label_trace
    from fs1.records import Trace

    def trace(question: Question, answer: str) -> Trace:
        return Trace(
            id=question.ID, question=question.question, mode="rt", model="t", reasoning_trace="thinking",
            model_attempt=f"\\boxed{{{answer}}}", gold_answer=list(scoring_gold(question)),
        )  # fmt: skip

    year = Question(ID="y", question="What year did Harrison become president?", main_answers=["1841-03-04"])
    assert label_trace(trace(year, "1841")).label == 1  # the date policy holds for training labels too
    ids = Question(ID="i", question="Which brother?", main_answers=["m.0194xc"], meta={IDS_ONLY: True})
    labelled = label_trace(trace(ids, "m.0194xc"))
    assert labelled.gold_answer == [] and labelled.label is None and labelled.meta["match"] == "excluded"


def test_compare_pairs_a_run_named_by_old_row_ids_with_one_named_by_content(tmp_path: Path) -> None:
    from fs1.io import write_jsonl_atomic
    from fs1.scoring import score_file

    rows = [("Who painted the Mona Lisa?", "Leonardo da Vinci"), ("Capital of Peru?", "Lima")]
    bench = simpleqa_csv(tmp_path / "simple_qa_test_set.csv", rows)
    questions = read_dataset(bench, "simpleqa").questions
    old = [prediction("simpleqa-0", "Leonardo da Vinci"), prediction("simpleqa-1", "Quito")]
    new = [prediction(questions[0].ID, "Raphael"), prediction(questions[1].ID, "Lima")]
    for name, preds in (("old", old), ("new", new)):
        write_jsonl_atomic(tmp_path / f"{name}.jsonl", preds)
        score_file(tmp_path / f"{name}.jsonl", question_index(questions), tmp_path / name, ks=[1])
    out = tmp_path / "compare.json"
    args = ["compare", str(tmp_path / "old"), str(tmp_path / "new"), "--benchmark", str(bench), "--k", "1"]
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    overall = json.loads(out.read_text())["by_source"][0]
    assert overall["n_questions"] == 2  # both questions paired, however each run named them
    assert (overall["a_better"], overall["b_better"]) == (1, 1)


def test_a_fs1_file_is_read_into_the_one_answer_type_vocabulary(tmp_path: Path) -> None:
    rows = [
        {"ID": "a", "question": "Who?", "main_answers": ["Ann"], "answer_type": "Person"},
        {"ID": "b", "question": "When?", "main_answers": ["1841"], "answer_type": " DATE "},
        {"ID": "c", "question": "What?", "main_answers": ["x"], "answer_type": "Value", "meta": {"k": 1}},
        {"ID": "d", "question": "Where?", "main_answers": ["Lima"], "answer_type": None},
    ]
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    got = by_id(path)
    assert {k: q.answer_type for k, q in got.items()} == {"a": "person", "b": "date", "c": None, "d": None}
    assert got["c"].meta == {
        "k": 1,
        "dataset_answer_type": "Value",
    }  # the odd label is kept, out of the slices
    assert "dataset_answer_type" not in got["a"].meta


def test_fs1_run_refuses_a_benchmark_whose_every_gold_is_an_id_before_generating(tmp_path: Path) -> None:
    bench = write_json(tmp_path / "ComplexWebQuestions_test.json", cwq_chatkbqa_ids_only())
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"students: [{{name: a, model: m}}]\nbenchmark: {bench}\nbenchmark_format: cwq\n")
    result = runner.invoke(app, ["run", str(exp), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    text = " ".join(result.output.split())
    assert "none of its 1 question(s) can be scored" in text and "WebQTest-743_0a8c: m.0194xc" in text
    assert "--kg" in text
    assert not (tmp_path / "run" / "generate").exists()  # stopped before any answer was generated
