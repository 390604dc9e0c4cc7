"""Entity ids are validated before they reach a query: well-formed QIDs, PIDs and MIDs pass, injection attempts
and look-alikes are rejected with a clear error."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fs1.kg import queries
from fs1.kg.ids import EntityIdError, normalise_mid, normalise_pid, normalise_qid, parse_entity
from fs1.records import Question

INJECTIONS = [
    "Q1> } DROP ALL ; SELECT * WHERE { ?s ?p ?o",
    "Q1 .",
    "Q1 ",
    " Q1",
    "Q1\n",
    "Q1}",
    "Q1#",
    "Q1\u200b",  # zero-width space
    "Ｑ１",  # full-width letter and digit
    "Q١٢",  # Arabic-Indic digits (\d would accept them)
    "\u0051\u0301",  # Q + combining accent
    "Q0",
    "Q01",
    "q42",
    "wd:Q1>",
    "<http://www.wikidata.org/entity/Q1>",
    "http://www.wikidata.org/entity/Q1> <x",
    "",
    "Q",
    "Q" + "9" * 20,
]


@pytest.mark.parametrize("raw", INJECTIONS)
def test_injection_attempts_are_rejected(raw: str) -> None:
    with pytest.raises(EntityIdError, match="invalid"):
        normalise_qid(raw)
    with pytest.raises(EntityIdError):
        queries.adjacency_query(raw, (), 10)
    with pytest.raises(EntityIdError):
        queries.pair_edges_queries(["Q1"], [raw], ())
    with pytest.raises(EntityIdError):
        queries.raw_degree_query(raw)


@pytest.mark.parametrize("raw", ['m.0abc"', "m.0bc} .", "/m/0BC", "m.", "m.0bc\n", "/m/0bc d", "g.11bc6"])
def test_bad_mids_are_rejected(raw: str) -> None:
    with pytest.raises(EntityIdError, match="invalid"):
        normalise_mid(raw)
    with pytest.raises(EntityIdError):
        queries.mid_query([raw])


def test_accepted_spellings_normalise() -> None:
    assert (
        normalise_qid("Q42") == normalise_qid("wd:Q42") == normalise_qid("http://www.wikidata.org/entity/Q42")
    )
    assert normalise_pid("wdt:P31") == normalise_pid("P31") == "P31"
    assert (
        normalise_mid("m.03_dwn") == normalise_mid("/m/03_dwn") == normalise_mid("ns:m.03_dwn") == "/m/03_dwn"
    )
    assert parse_entity("m.02mjmr") == ("mid", "/m/02mjmr")
    assert parse_entity("Q76") == ("qid", "Q76")
    with pytest.raises(EntityIdError, match="QID or a Freebase MID"):
        parse_entity("Barack Obama")


def test_deny_list_is_validated_too() -> None:
    from fs1.kg import SearchSettings

    assert SearchSettings(deny="P31, wdt:P279").deny == ("P31", "P279")
    with pytest.raises(ValueError, match="invalid Wikidata property id"):
        SearchSettings(deny=["P31) } DROP ALL"])


def test_question_with_a_bad_id_is_named() -> None:
    from fs1.kg import validate_question_ids

    q = Question(ID="cwq-7", question="?", main_answers=["x"], question_entities=["Q1 ."])
    with pytest.raises(EntityIdError, match="question cwq-7: invalid entity id 'Q1 .'"):
        validate_question_ids(q)


SAFE_QUERY_TEXT = re.compile(r"[\x20-\x7e\n]*")


@given(st.text(max_size=30))
def test_anything_accepted_is_a_plain_qid(raw: str) -> None:
    try:
        qid = normalise_qid(raw)
    except EntityIdError:
        return
    assert re.fullmatch(r"Q[1-9][0-9]*", qid)
    assert SAFE_QUERY_TEXT.fullmatch(queries.adjacency_query(qid, ("P31",), 5))


def test_freebase_g_ids_are_kept_unmapped_never_queried() -> None:
    """WebQSP/CWQ answers include Freebase ``g.`` ids, which Wikidata's P646 does not carry."""
    from fs1.kg import PathFinder, open_kg

    assert parse_entity("g.11b6_jxcmc") == ("gid", "g.11b6_jxcmc")
    for bad in ("g.11b6 .", "g.11B6", "g.", 'g.11b6"'):
        with pytest.raises(EntityIdError, match="invalid entity id"):
            parse_entity(bad)
    with open_kg(None) as kg:
        qids, unmapped = PathFinder(kg).resolve(["Q90", "g.11b6_jxcmc"])
    assert qids == ["Q90"] and unmapped == ["g.11b6_jxcmc"]
