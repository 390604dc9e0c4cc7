"""The bundled sample benchmark and the bundled mini-KG agree: labels, well-formed ids, real paths of ≤ hops."""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from pathlib import Path

import pyoxigraph as ox
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "src/fs1/data/bundled/sample_benchmark.jsonl"
MINI_KG = ROOT / "src/fs1/kg/bundled/mini_kg.nt"
SOURCES = {"ComplexWebQuestions", "ExaQT", "GrailQA", "SimpleQA", "Mintaka", "WebQSP"}
ANSWER_TYPES = {"date", "number", "person", "place", "other"}
PREFIXES = """
PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX wikibase: <http://wikiba.se/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
QID = re.compile(r"^Q[1-9][0-9]*$")


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def store() -> ox.Store:
    st = ox.Store()
    st.load(path=str(MINI_KG), format=ox.RdfFormat.N_TRIPLES)
    return st


def _local(term: ox.NamedNode) -> str:
    return term.value.rsplit("/", 1)[-1]


def _english_labels(store: ox.Store) -> dict[str, str]:
    rows = store.query(PREFIXES + 'SELECT ?x ?l WHERE { ?x rdfs:label ?l FILTER(LANG(?l) = "en") }')
    return {_local(r["x"]): r["l"].value for r in rows}


def _item_graph(store: ox.Store) -> dict[str, set[str]]:
    """Undirected adjacency over item-valued wdt: claims, class edges (P31/P279) left out as path search does."""
    query = (
        PREFIXES
        + """
    SELECT ?s ?o WHERE {
      ?prop wikibase:directClaim ?p ; wikibase:propertyType wikibase:WikibaseItem .
      ?s ?p ?o .
      FILTER(isIRI(?o) && ?p NOT IN (wdt:P31, wdt:P279))
    }"""
    )
    graph: dict[str, set[str]] = defaultdict(set)
    for row in store.query(query):
        s, o = _local(row["s"]), _local(row["o"])
        graph[s].add(o)
        graph[o].add(s)
    return graph


def _distance(graph: dict[str, set[str]], sources: list[str], target: str, limit: int) -> int | None:
    seen = {s: 0 for s in sources}
    queue = deque(sources)
    while queue:
        node = queue.popleft()
        if node == target:
            return seen[node]
        if seen[node] == limit:
            continue
        for nxt in graph[node]:
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return None


def test_sample_rows_are_well_formed(questions: list[dict]) -> None:
    assert 55 <= len(questions) <= 70
    assert len({q["ID"] for q in questions}) == len(questions)
    per_source = defaultdict(int)
    for q in questions:
        per_source[q["source_of_data"]] += 1
        assert q["main_answers"] and all(isinstance(a, str) and a.strip() for a in q["main_answers"]), q["ID"]
        assert isinstance(q["answer_aliases"], list), q["ID"]
        assert q["question_entities"], q["ID"]
        assert all(QID.match(e) for e in q["question_entities"] + q["answer_entities"]), q["ID"]
        assert q["hops"] in (1, 2, 3), q["ID"]
        assert q["answer_type"] in ANSWER_TYPES, q["ID"]
        if q["answer_type"] in ("date", "number"):
            assert q["answer_entities"] == [], f"{q['ID']}: literal answers have no answer entity"
    assert set(per_source) == SOURCES
    assert all(8 <= n <= 12 for n in per_source.values()), per_source
    assert {q["hops"] for q in questions} == {1, 2, 3}


def test_every_question_and_answer_entity_has_an_english_label(questions, store) -> None:
    labels = _english_labels(store)
    missing = {e for q in questions for e in q["question_entities"] + q["answer_entities"] if e not in labels}
    assert not missing
    assert labels["Q76"] == "Barack Obama"


def test_entity_answers_are_reachable_within_hops(questions, store) -> None:
    graph = _item_graph(store)
    checked = 0
    for q in questions:
        for answer in q["answer_entities"]:
            dist = _distance(graph, q["question_entities"], answer, q["hops"])
            assert dist is not None and dist <= q["hops"], (
                f"{q['ID']}: no path to {answer} in {q['hops']} hops"
            )
            checked += 1
    assert checked >= 40


def test_kg_ids_are_well_formed_and_properties_described(store) -> None:
    wd = "http://www.wikidata.org/entity/"
    subjects = {t.subject.value for t in store.quads_for_pattern(None, None, None)}
    for iri in subjects:
        assert iri.startswith(wd) and re.match(r"^[QP][1-9][0-9]*$", iri[len(wd) :]), iri
    props = {r["p"].value for r in store.query(PREFIXES + "SELECT DISTINCT ?p WHERE { ?s ?p ?o }")}
    wdt_props = {p for p in props if p.startswith("http://www.wikidata.org/prop/direct/")}
    described = store.query(
        PREFIXES
        + "SELECT ?d ?t WHERE { ?prop wikibase:directClaim ?d ; wikibase:propertyType ?t ; rdfs:label ?l }"
    )
    described_types = {r["d"].value: _local(r["t"]).split("#")[-1] for r in described}
    assert wdt_props <= set(described_types)
    assert described_types["http://www.wikidata.org/prop/direct/P646"] == "ExternalId"


def test_literals_and_freebase_ids_have_wikidata_shape(store) -> None:
    rows = list(store.query(PREFIXES + "SELECT ?d WHERE { wd:Q76 wdt:P569 ?d }"))
    assert rows[0]["d"].value == "1961-08-04T00:00:00Z"
    assert rows[0]["d"].datatype.value == "http://www.w3.org/2001/XMLSchema#dateTime"
    gold = list(store.query(PREFIXES + "SELECT ?n WHERE { wd:Q897 wdt:P1086 ?n }"))
    assert float(gold[0]["n"].value) == 79
    mids = list(store.query(PREFIXES + 'SELECT ?item WHERE { ?item wdt:P646 "/m/02mjmr" }'))
    assert [_local(r["item"]) for r in mids] == ["Q76"]
    hubs = list(store.query(PREFIXES + "SELECT (COUNT(?x) AS ?n) WHERE { ?x wdt:P31 wd:Q5 }"))
    assert int(hubs[0]["n"].value) >= 15
