"""Every real dataset file in the shared folder (records copied from public repositories, see its README) loads to
the right questions, or fails with a message that says why and what to do.

Expectations were written by reading the files (counts, IDs and gold answers of spot-checked records), not from
the loaders' output. The folder lies next to the repository (``../shared``); ``FS1_SHARED`` overrides it (a git
worktree sits one level deeper). Tests skip with the reason when it is absent.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import IDS_ONLY, load_benchmark, read_dataset
from fs1.data.common import UNLABELLED
from fs1.io import InputError, read_records
from fs1.records import Question
from tests.support.cli import runner

SHARED = Path(os.environ.get("FS1_SHARED") or Path(__file__).resolve().parents[3] / "shared")
REAL = SHARED / "data" / "real_formats"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared real-format records not found at {REAL}")


def real(folder: str, prefix: str) -> Path:
    """The one shared file in ``folder`` whose name starts with ``prefix``."""
    found = sorted((REAL / folder).glob(f"{prefix}*"))
    assert len(found) == 1, f"expected one {folder}/{prefix}* file, found {found}"
    return found[0]


def flat(text: str) -> str:
    return " ".join(text.split())


def by_id(path: Path) -> dict[str, Question]:
    return {q.ID: q for q in read_dataset(path).questions}


# ---------------------------------------------------------------- every file: count, format recognised

# file → (questions loaded, records skipped for no gold answer, format named)
EXPECTED = {
    ("cwq", "ComplexWebQuestions_test.answer-mids"): (30, 0, "CWQ, ChatKBQA copy (answers as Freebase ids)"),
    ("cwq", "cwq.ToG-variant"): (30, 0, "CWQ, Think-on-Graph copy"),
    ("cwq", "cwq.jsonl.dynamic-kgqa"): (30, 0, "CWQ, Think-on-Graph copy, JSON Lines"),
    ("grailqa", "grailqa.dynamic-kgqa"): (30, 0, "GrailQA, Think-on-Graph copy"),
    ("grailqa", "grailqa_v1.0_dev.subset5"): (5, 0, "GrailQA, official release"),
    ("grailqa", "graliqa.ToG-variant.first30"): (30, 0, "GrailQA, Think-on-Graph copy"),
    ("grailqa", "graliqa.ToG-variant.value-answers"): (9, 0, "GrailQA, Think-on-Graph copy"),
    ("mintaka", "mintaka_dev.v1.0"): (30, 0, "Mintaka v1.0"),
    ("mintaka", "mintaka_v1.1.README"): (1, 0, "Mintaka v1.1"),
    ("simpleqa", "simple_qa_test_set.first30"): (30, 0, "SimpleQA, official CSV"),
    ("simpleqa", "simple_qa_test_set.renamed-columns"): (
        30,
        0,
        "SimpleQA, CSV with renamed columns (question, true_answer)",
    ),
    ("timequestions", "TimeQuestions_dev"): (30, 0, "TimeQuestions (ExaQT release)"),
    ("timequestions", "TimeQuestions_test"): (29, 1, "TimeQuestions (ExaQT release)"),
    ("webqsp", "WebQSP.json.ToG-variant"): (30, 0, "WebQSP, Think-on-Graph copy, wrapper dropped"),
    ("webqsp", "WebQSP.jsonl.dynamic-kgqa"): (
        30,
        0,
        "WebQSP, Think-on-Graph copy, JSON Lines, wrapper dropped",
    ),
    ("webqsp", "WebQSP.test.partial"): (2, 28, "WebQSP, official wrapper"),
    ("webqsp", "WebQSP.train.partial"): (20, 0, "WebQSP, official wrapper"),
}
REFUSED = {("grailqa", "grailqa_v1.0_test_public"), ("simpleqa", "NOT-OpenAI-SimpleQA")}


def test_every_shared_file_is_covered() -> None:
    files = {p for p in REAL.glob("*/*") if p.name != "README.md"}
    covered = {real(folder, prefix) for folder, prefix in [*EXPECTED, *REFUSED]}
    assert files == covered


@pytest.mark.parametrize(("folder", "prefix"), sorted(EXPECTED), ids=lambda v: str(v)[:30])
def test_cli_converts_each_file_with_one_line(tmp_path: Path, folder: str, prefix: str) -> None:
    loaded_n, skipped_n, variant = EXPECTED[(folder, prefix)]
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["data", "convert", str(real(folder, prefix)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    line = flat(result.output)
    assert f"loaded {loaded_n} questions" in line
    assert (f"skipped {skipped_n} (no gold answer: " if skipped_n else "skipped 0;") in line
    assert f"format: {variant} →" in line
    assert len(read_records(out, Question)) == loaded_n


# ---------------------------------------------------------------- CWQ


def test_cwq_tog_copy_one_string_answer_and_topic_entities() -> None:
    for path in (real("cwq", "cwq.ToG-variant"), real("cwq", "cwq.jsonl.dynamic-kgqa")):
        got = by_id(path)
        first = got["WebQTest-832_c334509bb5e02cacae1ba2e80c176499"]
        assert first.main_answers == ["2014 World Series"]
        assert first.question == "Lou Seal is the mascot for the team that last won the World Series when?"
        assert first.question_entities == ["m.03_dwn"]  # topic_entity {"m.03_dwn": "Lou Seal"}
        assert got["WebQTrn-1259_1997cb4922db71983be26e6a509950f4"].main_answers == ["Belmont University"]
        assert got["WebQTrn-1077_f4a9e5f1e0dcfb82cbadf4771eda7bb5"].main_answers == ["Sunni Islam"]
        assert not any(q.meta.get(IDS_ONLY) for q in got.values())


def test_cwq_chatkbqa_copy_keeps_freebase_ids_marked() -> None:
    loaded = read_dataset(real("cwq", "ComplexWebQuestions_test.answer-mids"))
    got = {q.ID: q for q in loaded.questions}
    first = got["WebQTest-832_c334509bb5e02cacae1ba2e80c176499"]
    assert first.answer_entities == ["m.0117q3yz"]
    assert first.meta[IDS_ONLY] is True and first.meta[UNLABELLED] == ["m.0117q3yz"]
    two = got["WebQTrn-1077_f4a9e5f1e0dcfb82cbadf4771eda7bb5"]
    assert two.answer_entities == ["m.078tg", "m.06pq6"]
    assert len(loaded.ids_only) == 30  # these 30 records carry ids only


def test_cwq_chatkbqa_without_kg_warns_once_and_again_when_used(tmp_path: Path, caplog) -> None:
    out = tmp_path / "o.jsonl"
    source = real("cwq", "ComplexWebQuestions_test.answer-mids")
    result = runner.invoke(app, ["data", "convert", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert text.count("scoring leaves them out of every number") == 1
    assert "30 question(s) have only KG ids" in text and "--kg" in text
    with caplog.at_level("WARNING", logger="fs1.data"):
        questions = load_benchmark(str(out))  # what generate/score/paths/distill read
    assert len(questions) == 30 and all(q.meta[IDS_ONLY] for q in questions)
    assert [r.getMessage().count("scoring leaves them out of every number") for r in caplog.records] == [1]


def test_cwq_chatkbqa_with_kg_maps_ids_to_labels_through_p646(tmp_path: Path, monkeypatch) -> None:
    # A two-item Wikidata-shaped KG: m.0117q3yz is "2014 World Series" (the ToG copy's answer for that question).
    kg = tmp_path / "kg.nt"
    wd, wdt = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
    label = "http://www.w3.org/2000/01/rdf-schema#label"
    kg.write_text(
        f'<{wd}Q1> <{wdt}P646> "/m/0117q3yz" .\n<{wd}Q1> <{label}> "2014 World Series"@en .\n'
        f'<{wd}Q2> <{wdt}P646> "/m/01qdhx" .\n<{wd}Q2> <{label}> "Belmont University"@en .\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("FS1_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "cwq.jsonl"
    source = real("cwq", "ComplexWebQuestions_test.answer-mids")
    result = runner.invoke(app, ["data", "convert", str(source), "-o", str(out), "--kg", f"local:{kg}"])
    assert result.exit_code == 0, result.output
    got = {q.ID: q for q in read_records(out, Question)}
    tog = by_id(real("cwq", "cwq.ToG-variant"))
    for qid in (
        "WebQTest-832_c334509bb5e02cacae1ba2e80c176499",
        "WebQTrn-1259_1997cb4922db71983be26e6a509950f4",
    ):
        assert got[qid].main_answers == tog[qid].main_answers
        assert IDS_ONLY not in got[qid].meta and UNLABELLED not in got[qid].meta
    assert got["WebQTest-832_c334509bb5e02cacae1ba2e80c176499"].answer_entities == ["m.0117q3yz"]
    # m.0117q3yz answers two of the 30 questions, m.01qdhx one: 27 stay id-only, the KG has nothing for them
    assert "27 question(s) have only KG ids" in flat(result.output)
    assert "the --kg given has no label for them (Freebase: no P646 item)" in flat(result.output)


# ---------------------------------------------------------------- WebQSP


def test_webqsp_without_wrapper_json_and_jsonl() -> None:
    got = by_id(real("webqsp", "WebQSP.json.ToG-variant"))
    assert got["WebQTest-459"].main_answers == ["Kansas City"]
    assert got["WebQTest-459"].answer_entities == ["m.04f_d"]
    assert got["WebQTest-459"].question_entities == ["m.055d_1d"]
    assert got["WebQTest-1472"].main_answers == ["2003-01-02"]  # a Value answer, EntityName null
    assert got["WebQTest-1262"].main_answers == ["East North Central States", "Midwestern United States"]
    lines = by_id(real("webqsp", "WebQSP.jsonl.dynamic-kgqa"))
    assert list(lines)[:2] == ["WebQTest-1198", "WebQTest-1092"]
    assert lines["WebQTest-1198"].main_answers[:2] == ["Giambattista Vico", "Baruch Spinoza"]
    assert lines["WebQTest-713"].main_answers == ["Hennepin County"]  # the same answer in two parses


def test_webqsp_official_partial_files() -> None:
    test = read_dataset(real("webqsp", "WebQSP.test.partial"))
    assert [q.ID for q in test.questions] == ["WebQTest-18", "WebQTest-57"]
    assert test.questions[0].main_answers[:2] == ["Nonviolence", "Anti-racism"]
    assert len(test.skipped["no gold answer"]) == 28 and test.skipped["no gold answer"][0] == "WebQTest-2"
    train = by_id(real("webqsp", "WebQSP.train.partial"))
    assert train["WebQTrn-93"].main_answers == ["Evolution"]
    assert train["WebQTrn-333"].main_answers == ["Surgeon", "Physician"]
    assert train["WebQTrn-2715"].main_answers[0].startswith("for identifying the shape of DNA")
    # entities with an empty EntityName: ids kept, listed as unlabelled, never gold text
    doyle = train["WebQTrn-1510"]
    assert "g.11b6_jxcmc" in doyle.answer_entities and "g.11b6_jxcmc" in doyle.meta[UNLABELLED]
    assert "g.11b6_jxcmc" not in doyle.main_answers and "A Study in Scarlet" in doyle.main_answers


# ---------------------------------------------------------------- GrailQA


def test_grailqa_official_and_tog_copies() -> None:
    dev = by_id(real("grailqa", "grailqa_v1.0_dev.subset5"))
    assert list(dev) == ["3200431003000", "4302314002000", "5400160015000", "4303841006000", "4300535011000"]
    assert dev["3200431003000"].main_answers == ["Alphabet"]
    assert dev["4302314002000"].main_answers == ["Randomized", "Blind experiment"]
    for prefix in ("grailqa.dynamic-kgqa", "graliqa.ToG-variant.first30"):
        got = by_id(real("grailqa", prefix))
        assert got["2101960008000"].main_answers == ["The Illusion"]
        assert got["2101960008000"].answer_entities == ["m.0yrltsn"]
        assert got["3200562005000"].main_answers == ["Microsoft Outlook", "IBM Notes"]


def test_grailqa_tog_value_answers_and_hops() -> None:
    got = by_id(real("grailqa", "graliqa.ToG-variant.value-answers"))
    count = got["2105436005000"]
    assert count.main_answers == ["1"] and count.answer_type == "number"
    assert count.hops == 1 and count.meta["copy_hops"] == 2  # num_edge 1; the copy says 2
    assert got["4303460000000"].main_answers == ["4"]
    assert got["3200648015000"].main_answers == ["Supreme Court of Judicature"]


def test_grailqa_public_test_split_is_a_clear_error(tmp_path: Path) -> None:
    path = real("grailqa", "grailqa_v1.0_test_public")
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["data", "convert", str(path), "-o", str(out)])
    assert result.exit_code == 1
    text = flat(result.output)
    assert "has no gold answers — a test split?" in text and "None of its 30 records" in text
    assert not out.exists()
    with pytest.raises(InputError, match="has no gold answers"):
        load_benchmark(str(path))


# ---------------------------------------------------------------- TimeQuestions, Mintaka, SimpleQA


def test_timequestions_values_dates_and_empty_answer() -> None:
    dev = by_id(real("timequestions", "TimeQuestions_dev"))
    assert dev["9709"].main_answers == ["Snow White and the Seven Dwarfs"]
    assert dev["9709"].answer_entities == ["Q134430"]
    assert dev["9710"].main_answers == ["103.2"]
    assert dev["9720"].main_answers == ["7.11.1"]  # a version string stays text
    assert dev["9715"].main_answers == ["1998-11-29"]
    test = read_dataset(real("timequestions", "TimeQuestions_test"))
    assert test.skipped == {"no gold answer": ["12957"]}  # "Answer": []
    got = {q.ID: q for q in test.questions}
    assert got["12945"].main_answers == ["1994-03-01"]
    assert got["12948"].main_answers == ["509475"]
    assert got["12960"].main_answers == ["0929-01-01"]


def test_mintaka_v10_and_v11() -> None:
    dev = by_id(real("mintaka", "mintaka_dev.v1.0"))
    assert dev["9ace9041"].main_answers == ["Breaking Dawn"]
    assert dev["26ebd827"].main_answers == ["yes"] and dev["db942bdc"].main_answers == ["no"]
    assert dev["88bdb808"].main_answers == ["6"]  # count: answerNum 6
    v11 = by_id(real("mintaka", "mintaka_v1.1.README"))
    assert v11["a9011ddf"].main_answers == ["Mount Lucania"]  # label {"en": "Mount Lucania", "ar": null, …}
    assert v11["a9011ddf"].answer_entities == ["Q1153188"]
    assert v11["a9011ddf"].question_entities == ["Q49"]


def test_simpleqa_official_and_renamed_columns_agree() -> None:
    official = read_dataset(real("simpleqa", "simple_qa_test_set.first30")).questions
    renamed = read_dataset(real("simpleqa", "simple_qa_test_set.renamed-columns")).questions
    assert official[0].question == "Who received the IEEE Frank Rosenblatt Award in 2010?"
    assert official[0].main_answers == ["Michio Sugeno"] and official[0].answer_type == "person"
    assert official[5].main_answers == ["120,000"] and official[6].main_answers == ["January 2008"]
    assert official[19].main_answers == [
        "Quebec Youth Parliament prime minister"
    ]  # source has a leading space
    assert [(q.ID, q.question, q.main_answers) for q in renamed] == [
        (q.ID, q.question, q.main_answers) for q in official
    ]


def test_simplequestions_saved_as_simpleqa_is_refused(tmp_path: Path) -> None:
    path = real("simpleqa", "NOT-OpenAI-SimpleQA")
    for extra in ([], ["--format", "simpleqa"]):
        result = runner.invoke(app, ["data", "convert", str(path), "-o", str(tmp_path / "o"), *extra])
        assert result.exit_code == 2
        text = flat(result.output)
        assert "this is SimpleQuestions" in text and "not OpenAI's SimpleQA" in text
        assert "Traceback" not in text
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- topics

NO_TOPIC_FIELD = (
    "cwq",
    "webqsp",
    "timequestions",
)  # their records carry no topic or domain (README of the folder)


def test_simpleqa_topic_is_read_and_lower_cased() -> None:
    # Counts read from the CSV's metadata column: Politics 8, Sports 5, Science and technology 4, TV shows 4, ...
    for prefix in ("simple_qa_test_set.first30", "simple_qa_test_set.renamed-columns"):
        questions = read_dataset(real("simpleqa", prefix)).questions
        assert questions[0].topic == "science and technology"
        assert questions[0].meta["topic"] == "Science and technology"  # the dataset's own label, as written
        assert Counter(q.topic for q in questions) == {
            "politics": 8, "sports": 5, "science and technology": 4, "tv shows": 4, "art": 3, "other": 3,
            "geography": 1, "music": 1, "history": 1,
        }  # fmt: skip


def test_mintaka_category_is_the_topic() -> None:
    dev = by_id(real("mintaka", "mintaka_dev.v1.0"))
    assert dev["9ace9041"].topic == "books" and dev["88bdb808"].topic == "videogames"
    assert Counter(q.topic for q in dev.values()) == {
        "movies": 23, "books": 2, "videogames": 2, "sports": 2, "music": 1,
    }  # fmt: skip
    assert by_id(real("mintaka", "mintaka_v1.1.README"))["a9011ddf"].topic == "geography"


def test_grailqa_domains_are_the_topic_and_several_join_into_one_slice() -> None:
    dev = by_id(real("grailqa", "grailqa_v1.0_dev.subset5"))
    assert [q.topic for q in dev.values()] == ["language", "medicine", "spaceflight", "cvg", "broadcast"]
    for prefix in ("grailqa.dynamic-kgqa", "graliqa.ToG-variant.first30"):
        got = by_id(real("grailqa", prefix))
        assert got["2101960008000"].topic == "theater"
        assert got["3205368004000"].topic == "measurement_unit"
        assert got["3200339005000"].topic == "religion+time"  # "domains": ["time", "religion"]
        assert got["3200339005000"].meta["domains"] == ["time", "religion"]


@pytest.mark.parametrize("folder", NO_TOPIC_FIELD)
def test_datasets_without_a_topic_field_get_none(folder: str) -> None:
    for path in sorted((REAL / folder).iterdir()):
        if path.suffix in (".json", ".jsonl"):
            assert {q.topic for q in read_dataset(path).questions} == {None}, path.name


def test_convert_writes_the_topic_and_reading_back_keeps_it(tmp_path: Path) -> None:
    source = real("simpleqa", "simple_qa_test_set.first30")
    out = tmp_path / "simpleqa.jsonl"
    assert runner.invoke(app, ["data", "convert", str(source), "-o", str(out)]).exit_code == 0
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first["topic"] == "science and technology"
    assert [q.topic for q in load_benchmark(str(out))] == [q.topic for q in read_dataset(source).questions]


# ---------------------------------------------------------------- --format on the commands that take a benchmark


def test_score_reads_a_dataset_copy_with_format(tmp_path: Path) -> None:
    predictions = tmp_path / "preds.jsonl"
    rows = [
        {
            "id": "WebQTest-832_c334509bb5e02cacae1ba2e80c176499",
            "sample": 0,
            "text": "\\boxed{2014 World Series}",
        },
        {"id": "WebQTrn-1259_1997cb4922db71983be26e6a509950f4", "sample": 0, "text": "\\boxed{Harvard}"},
    ]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    bench = real("cwq", "cwq.jsonl.dynamic-kgqa")
    result = runner.invoke(
        app, ["score", str(predictions), "-b", str(bench), "--format", "cwq", "-o", str(tmp_path / "s")]
    )
    assert result.exit_code == 0, result.output
    scores = [json.loads(line) for line in (tmp_path / "s" / "scores.jsonl").read_text().splitlines()]
    assert [s["correct"] for s in scores] == [True, False]


def test_empty_benchmark_names_the_problem_not_a_missing_option(tmp_path: Path) -> None:
    empty = tmp_path / "bench.jsonl"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["data", "convert", str(empty), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "the file is empty" in flat(result.output)
    result = runner.invoke(app, ["data", "convert", str(empty), "-f", "cwq", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "holds no records" in flat(result.output)
    result = runner.invoke(app, ["score", str(empty), "-b", str(empty), "-o", str(tmp_path / "s")])
    assert result.exit_code == 2 and "the file is empty" in flat(result.output)


def test_experiment_benchmark_format_reads_a_dataset_copy(tmp_path: Path) -> None:
    from fs1.run.config import load_experiment
    from fs1.run.pipeline import Pipeline

    bench = real("webqsp", "WebQSP.jsonl.dynamic-kgqa")
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(
        f"students: [{{name: a, model: m}}]\nbenchmark: {bench}\nbenchmark_format: webqsp\nlimit: 2\n",
        encoding="utf-8",
    )
    pipeline = Pipeline(load_experiment(exp_file), tmp_path / "run", exp_file)
    assert [q.ID for q in pipeline.select_questions(str(bench))] == ["WebQTest-1198", "WebQTest-1092"]
    exp_file.write_text(
        f"students: [{{name: a, model: m}}]\nbenchmark: {bench}\nbenchmark_format: grailqa\n",
        encoding="utf-8",
    )
    pipeline = Pipeline(load_experiment(exp_file), tmp_path / "run", exp_file)
    with pytest.raises(InputError, match="has no gold answers"):  # read as GrailQA, nothing is an answer
        pipeline.select_questions(str(bench))


def test_generate_and_paths_read_a_dataset_copy_with_format(tmp_path: Path, tiny_model_dir: Path) -> None:
    bench = real("timequestions", "TimeQuestions_dev")
    out = tmp_path / "pred.jsonl"
    args = ["generate", "-b", str(bench), "--format", "exaqt", "--limit", "2", "--model", str(tiny_model_dir)]
    result = runner.invoke(app, [*args, "--max-tokens", "4", "--threads", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["9709", "9710"]
    paths_out = tmp_path / "paths.jsonl"
    webqsp = real("webqsp", "WebQSP.json.ToG-variant")
    result = runner.invoke(
        app, ["paths", str(webqsp), "--format", "webqsp", "--limit", "2", "-o", str(paths_out)]
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["ID"] for line in paths_out.read_text().splitlines()] == [
        "WebQTest-459",
        "WebQTest-646",
    ]


# ---------------------------------------------------------------- the policies of issue #27 on the real records


def test_real_records_follow_the_date_and_answer_type_policies() -> None:
    test = by_id(real("timequestions", "TimeQuestions_test"))
    assert "929" in test["12960"].answer_aliases  # 0929-01-01T00:00:00Z: a Wikidata year-precision date
    assert "1993" in test["12968"].answer_aliases  # "what years in the 1990's…": 1993-01-01T00:00:00Z
    assert test["12945"].answer_aliases == [
        "1 March 1994",
        "March 1, 1994",
    ]  # 1994-03-01: a day, no bare year
    assert test["12945"].answer_type == "date" and test["12946"].answer_type == "entity"
    tog = by_id(real("webqsp", "WebQSP.json.ToG-variant"))
    romney = tog["WebQTest-1472"]  # "when did romney become governor?" Value 2003-01-02
    assert romney.main_answers == ["2003-01-02"] and romney.answer_type == "date"
    assert romney.answer_aliases == ["2 January 2003", "January 2, 2003"]  # a "when" question: no bare year
    mintaka = by_id(real("mintaka", "mintaka_dev.v1.0"))
    ivory = mintaka["5d8dc3ff"]  # superlative, answerNum 89: kept on the record, no alias
    assert ivory.main_answers == ["James Ivory"] and ivory.meta["answer_num"] == 89 and "89" not in ivory.gold
    assert ivory.answer_type == "entity" and mintaka["88bdb808"].answer_type == "number"
    assert mintaka["26ebd827"].answer_type == "other"  # boolean


@pytest.mark.parametrize(("folder", "prefix"), sorted(EXPECTED))
def test_real_records_use_one_answer_type_vocabulary_and_no_none_entities(folder: str, prefix: str) -> None:
    from fs1.vocab import ANSWER_TYPES

    for question in read_dataset(real(folder, prefix)).questions:
        assert question.answer_type is None or question.answer_type in ANSWER_TYPES, question.answer_type
        assert "None" not in question.question_entities + question.answer_entities + question.main_answers


def test_chatkbqa_golds_are_excluded_from_scoring_not_scored_as_text(tmp_path: Path) -> None:
    from fs1.records import Prediction
    from fs1.scoring import score_predictions

    questions = by_id(real("cwq", "ComplexWebQuestions_test.answer-mids"))
    kennedy = "WebQTest-743_0a8cdba29cf260283b7c890b3609c0b9"  # gold m.0194xc: Robert F. Kennedy
    tog = by_id(real("cwq", "cwq.ToG-variant"))
    belmont = (
        "WebQTrn-1259_1997cb4922db71983be26e6a509950f4"  # the ToG copy's label for the same kind of record
    )
    keep = {kennedy: questions[kennedy], belmont: tog[belmont]}
    preds = [
        Prediction(id=kennedy, sample=0, text="\\boxed{Robert F. Kennedy}"),
        Prediction(id=kennedy, sample=1, text="\\boxed{m.0194xc}"),
        Prediction(id=belmont, sample=0, text="\\boxed{Belmont University}"),
    ]
    scores, summary = score_predictions(preds, keep, ks=[1])
    assert [s.match for s in scores] == ["excluded", "excluded", "exact"]
    assert summary["excluded"]["ids"] == [kennedy] and summary["overall"]["n_questions"] == 1
