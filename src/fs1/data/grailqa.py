"""GrailQA (Gu et al., 2021) in its published JSON format (``grailqa_v1.0_{train,dev}.json``) → Question records.

A GrailQA file is a JSON array of records::

    {"qid", "question", "answer": [{"answer_type": "Entity" | "Value", "answer_argument", "entity_name"?}],
     "function", "num_node", "num_edge", "level" (dev only), "domains", "s_expression", "sparql_query",
     "graph_query": {"nodes": [{"nid", "node_type", "id", "class", "friendly_name", "question_node"}], "edges"}}

Field mapping:

- ``ID`` ← ``qid``; ``question`` ← ``question``; ``hops`` ← ``num_edge`` (edges of the logical form on Freebase).
- ``main_answers`` ← ``entity_name`` of Entity answers, ``answer_argument`` of Value answers;
  ``answer_entities`` ← Entity answers' MIDs; ``question_entities`` ← ``graph_query`` nodes of type ``entity``.
- ``answer_type``: ``count`` questions and int/float answer classes → number, ``type.datetime`` → date,
  ``people.person`` → person, ``location.*`` → place (the question node's class); other Entity answers → entity,
  other Value answers → date / number / other by their text.
- Date values by the one date policy of ``fs1.data.dates`` (spelled-out aliases; the year for a "what year" question).
- ``topic`` ← ``domains`` (Freebase domains, e.g. ``measurement_unit``, ``cvg``): the domain when there is one;
  a multi-domain question gets its domains sorted and joined with "+" (``religion+time``), a slice of its own,
  so no question counts in two topic slices.
- ``meta`` ← ``level``, ``num_edge``, ``num_node``, ``function``, ``domains``, ``s_expression``, ``answer_class``.

Also read: JSON Lines; ``qid`` as int (train/dev) or string (``test-0`` in the public test split, which has no
answers); Think-on-Graph copies with ``topic_entity`` (kept in ``meta``) and sometimes their own ``hops`` (kept as
``meta["copy_hops"]``: ``hops`` stays ``num_edge`` so that one question has one hop count whichever copy it came from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fs1.data.common import (
    GRAILQA,
    Loaded,
    answer_fields,
    as_text_list,
    domains_topic,
    expect_dict,
    load_json_records,
    one_type,
    require,
    value_type,
    with_precision_aliases,
)
from fs1.data.dates import date_answer
from fs1.io import InputError

CLASS_SLICE = {
    "type.datetime": "date",
    "type.int": "number",
    "type.float": "number",
    "people.person": "person",
}


def _graph_nodes(item: dict[str, Any]) -> list[dict[str, Any]]:
    graph = item.get("graph_query") or {}
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return [n for n in nodes or [] if isinstance(n, dict)]


def _answer_slice(
    function: str, answer_class: str | None, answers: list[dict[str, Any]], question: str
) -> str | None:
    if function == "count":
        return "number"
    if answer_class is not None and answer_class.startswith("location."):
        return "place"
    if answer_class in CLASS_SLICE:
        return CLASS_SLICE[answer_class]
    return one_type(
        "entity"
        if a.get("answer_type") == "Entity"
        else value_type(str(a.get("answer_argument") or ""), question)
        for a in answers
    )


def _value_aliases(answers: list[dict[str, Any]]) -> list[str]:
    """The spelled-out forms of date values (``fs1.data.dates``)."""
    forms = [
        date_answer(str(a.get("answer_argument") or "")) for a in answers if a.get("answer_type") != "Entity"
    ]
    return [alias for found in forms if found for alias in found[1]]


def question_from_record(item: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One GrailQA record as a Question row, or ``None`` when it has no answer (e.g. the public test split)."""
    answers = item.get("answer") or []
    if not isinstance(answers, list):
        raise InputError(f"{where}: field answer must be a list")
    answers = [expect_dict(a, f"{where}: answer[{i}]") for i, a in enumerate(answers)]
    gold = answer_fields(
        (a.get("entity_name"), a.get("answer_argument"))
        if a.get("answer_type") == "Entity"
        else (a.get("answer_argument"), None)
        for a in answers
    )
    if gold is None:
        return None
    nodes = _graph_nodes(item)
    question_node = next((n for n in nodes if n.get("question_node") == 1), {})
    answer_class = question_node.get("class")
    function = str(item.get("function") or "none")
    num_edge = item.get("num_edge")
    question = str(require(item, "question", where))
    return {
        "ID": str(require(item, "qid", where)),
        "question": question,
        "main_answers": gold["main_answers"],
        "answer_aliases": with_precision_aliases(question, gold["main_answers"], _value_aliases(answers)),
        "source_of_data": GRAILQA,
        "question_entities": as_text_list([n.get("id") for n in nodes if n.get("node_type") == "entity"]),
        "answer_entities": gold["answer_entities"],
        "hops": num_edge,
        "answer_type": _answer_slice(function, answer_class, answers, question),
        "topic": domains_topic(item.get("domains")),
        "meta": {
            "level": item.get("level"),
            "num_edge": num_edge,
            "num_node": item.get("num_node"),
            "function": function,
            "domains": item.get("domains", []),
            "s_expression": item.get("s_expression"),
            "answer_class": answer_class,
            **{
                key: item[key] for key in ("topic_entity", "qid_topic_entity", "entity_labels") if key in item
            },
            **({"copy_hops": item["hops"]} if "hops" in item else {}),
            **gold["marks"],
        },
    }


def variant_of(records: list[dict[str, Any]]) -> str:
    if records and all("answer" not in r for r in records):
        return "GrailQA, public test split"
    first = records[0] if records else {}
    return "GrailQA, Think-on-Graph copy" if "topic_entity" in first else "GrailQA, official release"


def load_grailqa(path: Path) -> Loaded:
    """Read a GrailQA JSON or JSON Lines file (official release, public test split or a ToG copy)."""
    return load_json_records(path, "GrailQA records", "qid", question_from_record, variant_of)
