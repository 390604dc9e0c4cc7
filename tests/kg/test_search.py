"""Path search on small hand-checked graphs (tests/fixtures/kg/graphs.py) in the embedded store, and on the
bundled mini-KG against the hop counts of the bundled sample benchmark."""

from __future__ import annotations

from pathlib import Path

import pytest

from fs1.kg import PathFinder, SearchSettings, bundled_kg_path, find_paths, open_kg, supports, verbalise
from fs1.kg.base import KGError
from fs1.records import PathRecord, Question
from tests.fixtures.kg.graphs import write_tiny


@pytest.fixture(scope="module")
def tiny_kg(tmp_path_factory: pytest.TempPathFactory):
    kg = open_kg(f"local:{write_tiny(tmp_path_factory.mktemp('kg') / 'tiny.nt')}")
    yield kg
    kg.close()


def triples(path) -> list[tuple[str, str, str]]:
    return [(e.s, e.p, e.o) for e in path]


def pair(kg, a: str, b: str, **settings):
    return PathFinder(kg, SearchSettings(**settings)).search.pair(a, b)


def question(ID: str, q_ents: list[str], a_ents: list[str]) -> Question:
    return Question(ID=ID, question="?", main_answers=["x"], question_entities=q_ents, answer_entities=a_ents)


def test_one_hop_keeps_the_stated_direction_from_either_end(tiny_kg) -> None:
    # Bob -P26-> Alice is stated once; searching from Alice must still find it, as Bob→Alice.
    for a, b in (("Q1", "Q4"), ("Q4", "Q1")):
        result = pair(tiny_kg, a, b)
        assert result.hops == 1
        assert [triples(p) for p in result.paths] == [[("Q4", "P26", "Q1")]]


def test_two_hops_mixing_directions(tiny_kg) -> None:
    result = pair(tiny_kg, "Q2", "Q4")  # Springfield <-P19- Alice <-P26- Bob
    assert result.hops == 2
    assert [triples(p) for p in result.paths] == [[("Q1", "P19", "Q2"), ("Q4", "P26", "Q1")]]


def test_ties_keep_all_shortest_paths_and_the_cap_applies(tiny_kg) -> None:
    result = pair(tiny_kg, "Q8", "Q7")  # Dave → Carol through Film A and through Film B
    assert result.hops == 2
    assert sorted(triples(p) for p in result.paths) == [
        [("Q13", "P161", "Q8"), ("Q13", "P57", "Q7")],
        [("Q6", "P161", "Q8"), ("Q6", "P57", "Q7")],
    ]
    assert len(pair(tiny_kg, "Q8", "Q7", max_paths=1).paths) == 1


def test_hub_is_never_an_intermediate(tiny_kg) -> None:
    # Bob and Zed were both born in Big City (12 edges). Under a degree limit of 5 it is a hub, so the shortest
    # admissible path is the 3-hop one through Uni and Town.
    through_hub = pair(tiny_kg, "Q4", "Q30", degree_limit=50)
    assert through_hub.hops == 2
    assert [triples(p) for p in through_hub.paths] == [[("Q4", "P19", "Q20"), ("Q30", "P19", "Q20")]]
    guarded = pair(tiny_kg, "Q4", "Q30", degree_limit=5)
    assert guarded.hops == 3
    assert [triples(p) for p in guarded.paths] == [
        [("Q4", "P69", "Q31"), ("Q31", "P131", "Q32"), ("Q30", "P551", "Q32")]
    ]
    assert pair(tiny_kg, "Q4", "Q30", degree_limit=5, max_hops=2).hops is None


def test_hub_may_be_an_end_of_the_path(tiny_kg) -> None:
    assert pair(tiny_kg, "Q4", "Q20", degree_limit=5).hops == 1
    assert pair(tiny_kg, "Q1", "Q20", degree_limit=5).hops == 2  # Alice -> Bob -> Big City


def test_denied_class_edges_literals_and_external_ids_make_no_path(tiny_kg) -> None:
    assert pair(tiny_kg, "Q1", "Q12").hops is None  # only via P31 human
    assert pair(tiny_kg, "Q1", "Q12", deny=()).hops == 2  # allowed when the deny-list is emptied
    assert pair(tiny_kg, "Q8", "Q12").hops is None  # same literal birth date is not an edge
    assert pair(tiny_kg, "Q1", "Q10").hops is None  # only a p:/ps: statement node links them
    finder = PathFinder(tiny_kg)
    alice = finder.graph.adjacency(["Q1"], 100)["Q1"]
    assert {e.p for e in alice.edges} == {"P19", "P26", "P27"}  # no P31, P569 date, P646 id, p:P19 statement
    freedonia = finder.graph.adjacency(["Q3"], 100)["Q3"]
    assert all(e.p != "P856" for e in freedonia.edges)  # URL-valued claim


def test_no_path_and_hop_limit(tiny_kg) -> None:
    assert pair(tiny_kg, "Q1", "Q10").paths == []
    assert pair(tiny_kg, "Q8", "Q7", max_hops=1).hops is None


def test_joint_path_meets_at_the_shared_node(tiny_kg) -> None:
    finder = PathFinder(tiny_kg)
    joint = finder.search.joint(["Q8", "Q9"], "Q7")  # Dave and Erin both in Film A, directed by Carol
    assert [sorted(triples(p)) for p in joint] == [
        [("Q6", "P161", "Q8"), ("Q6", "P161", "Q9"), ("Q6", "P57", "Q7")]
    ]
    record = finder.record(question("j", ["Q8", "Q9"], ["Q7"]))
    assert record.meta["joint_paths"] == 1
    assert "Film A, director, Carol" in record.verbalised.splitlines()


def test_joint_path_at_the_answer_itself(tiny_kg) -> None:
    # Springfield and Bob are each one hop from Alice: the joint path meets at the answer itself.
    joint = PathFinder(tiny_kg).search.joint(["Q2", "Q4"], "Q1")
    assert [sorted(triples(p)) for p in joint] == [[("Q1", "P19", "Q2"), ("Q4", "P26", "Q1")]]


def test_mids_map_through_p646(tiny_kg) -> None:
    finder = PathFinder(tiny_kg)
    assert finder.resolve(["m.0bcd1", "/m/0bcd1", "/m/0zzzz", "Q8"]) == (["Q1", "Q8"], ["/m/0zzzz"])
    record = finder.record(question("mid", ["m.0bcd1"], ["Q4"]))
    assert record.status == "found" and record.hops == 1
    unmapped = finder.record(question("mid2", ["m.0zzzz"], ["Q4"]))
    assert unmapped.status == "no_entities" and unmapped.meta["unmapped"] == ["m.0zzzz"]


def test_records_carry_labels_and_statuses(tiny_kg) -> None:
    records = list(
        find_paths(
            tiny_kg,
            [question("a", ["Q4"], ["Q30"]), question("b", ["Q1"], ["Q10"]), question("c", ["Q1"], [])],
            degree_limit=5,
        )
    )
    assert [r.status for r in records] == ["found", "none", "no_entities"]
    found = records[0]
    assert found.hops == 3
    assert found.paths[0][0] == {
        "s": "Q4", "p": "P69", "o": "Q31", "s_label": "Bob", "p_label": "educated at", "o_label": "Q31",
    }  # fmt: skip
    # P551 has no wikibase:directClaim link: its label comes from the property entity instead.
    assert found.verbalised.splitlines() == [
        "Bob, educated at, Q31",
        "Q31, located in the administrative territorial entity, Town",
        "Zed, residence, Town",
    ]
    assert PathRecord.from_dict(found.to_dict()) == found
    assert records[1].paths == [] and records[1].verbalised == ""


def test_kg_failure_gives_error_status_not_an_empty_result(tiny_kg) -> None:
    class Broken(type(tiny_kg)):
        def select(self, query: str):
            raise KGError("endpoint down")

    broken = Broken(tiny_kg.store, "broken")
    (record,) = find_paths(broken, [question("e", ["Q1"], ["Q4"])])
    assert record.status == "error" and "endpoint down" in record.error


def test_verbalise_deduplicates_across_paths() -> None:
    t1 = {
        "s": "Q1",
        "p": "P1",
        "o": "Q2",
        "s_label": "1994 NBA Finals",
        "p_label": "winner",
        "o_label": "Houston Rockets",
    }
    t2 = {
        "s": "Q2",
        "p": "P2",
        "o": "Q3",
        "s_label": "Houston Rockets",
        "p_label": "",
        "o_label": "Houston\nTexas",
    }
    text = verbalise([[t1, t2], [t1]])
    assert text == "1994 NBA Finals, winner, Houston Rockets\nHouston Rockets, P2, Houston Texas"


def test_supports_by_label_and_by_id(tiny_kg) -> None:
    assert supports(tiny_kg, ["Q8"], "carol")  # Dave → film → Carol, label matched case-insensitively
    assert supports(tiny_kg, ["Q8"], "Q7")
    assert not supports(tiny_kg, ["Q8"], "Alice")  # not within 2 hops
    assert not supports(tiny_kg, ["Q8"], "Dave")  # the question entity itself is no support
    assert not supports(tiny_kg, ["Q1"], "Author Z")  # only through denied P31
    assert supports(tiny_kg, ["m.0bcd1"], "Freedonia", max_hops=1)


def test_supports_checks_many_candidates_of_one_question_cheaply(tiny_kg) -> None:
    finder = PathFinder(tiny_kg)
    assert finder.supports(["Q8", "Q9"], "Film A")
    asked = finder.graph.queries
    verdicts = [finder.supports(["Q8", "Q9"], c) for c in ("film b", " CAROL ", "Zed", "Erin", "Dave")]
    assert verdicts == [True, True, False, False, False]  # question entities never count as support
    assert finder.graph.queries == asked  # answered from the question's cached neighbourhood


def test_bundled_mini_kg_agrees_with_sample_hops() -> None:
    from fs1.data import load_benchmark

    questions = [q for q in load_benchmark("sample") if q.answer_entities]
    assert bundled_kg_path().exists() and len(questions) > 30
    with open_kg(None) as kg:
        finder = PathFinder(kg)
        for q in questions:
            for answer in q.answer_entities:
                if answer in q.question_entities:
                    continue
                hops = {finder.search.pair(e, answer).hops for e in q.question_entities} - {None}
                assert min(hops) == q.hops, q.ID
            assert finder.record(q).status == "found"


def test_local_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KGError, match="no such KG file"):
        open_kg(f"local:{tmp_path / 'missing.nt'}")
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://a> <http://b> .\n")
    with pytest.raises(KGError, match="bad.nt: RDF syntax error"):
        open_kg(f"local:{bad}")
    with pytest.raises(ValueError, match="expected local:FILE"):
        open_kg("neo4j:bolt://x")
