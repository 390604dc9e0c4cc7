"""Developer script: regenerates the bundled sample benchmark and the bundled mini-KG from their source tables.

Run ``python src/fs1/data/bundled/make_bundled.py`` after editing ``sample_questions.py`` or ``kg_facts.txt``.
It writes ``sample_benchmark.jsonl`` (next to this file) and ``src/fs1/kg/bundled/mini_kg.nt`` (Wikidata RDF
shape of docs/protocol.md §A.5), and refuses to write when a question's ``hops`` differs from the shortest
item path in the mini-KG (P31/P279 class edges excluded, both edge directions), so the two files stay consistent.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict, deque
from pathlib import Path

HERE = Path(__file__).resolve().parent
FACTS = HERE / "kg_facts.txt"
SAMPLE_OUT = HERE / "sample_benchmark.jsonl"
KG_OUT = HERE.parents[1] / "kg" / "bundled" / "mini_kg.nt"

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
WIKIBASE = "http://wikiba.se/ontology#"
RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
XSD = "http://www.w3.org/2001/XMLSchema#"
CLASS_EDGES = {"P31", "P279"}  # hub edges that path search skips
ID_PREFIX = {
    "ComplexWebQuestions": "cwq",
    "ExaQT": "exaqt",
    "GrailQA": "grailqa",
    "SimpleQA": "simpleqa",
    "Mintaka": "mintaka",
    "WebQSP": "webqsp",
}


def parse_facts(path: Path) -> dict[str, list[list[str]]]:
    """Split the facts file into its sections, each a list of tokenised lines."""
    sections: dict[str, list[list[str]]] = defaultdict(list)
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current in ("items", "props"):
            sections[current].append(line.split("|"))
        else:
            sections[current].append(line.split())
    return sections


def _lit(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal_for(prop_type: str, value: str) -> str:
    """An N-Triples literal in WDQS style: dates as xsd:dateTime, quantities as signed xsd:decimal."""
    if prop_type == "Time":
        return f'"{value}T00:00:00Z"^^<{XSD}dateTime>'
    if prop_type == "Quantity":
        return f'"+{value}"^^<{XSD}decimal>'
    return _lit(value)


def build_triples(sections: dict[str, list[list[str]]]) -> list[str]:
    """All N-Triples lines of the mini-KG; raises on an id used in claims but not labelled."""
    labels = {qid: label for qid, label in sections["items"]}
    prop_types = {pid: ptype for pid, ptype, _ in sections["props"]}
    lines = []
    for pid, ptype, label in sections["props"]:
        lines.append(f"<{WD}{pid}> <{WIKIBASE}directClaim> <{WDT}{pid}> .")
        lines.append(f"<{WD}{pid}> <{WIKIBASE}propertyType> <{WIKIBASE}{ptype}> .")
        lines.append(f"<{WD}{pid}> {RDFS_LABEL} {_lit(label)}@en .")
    for qid, label in sections["items"]:
        lines.append(f"<{WD}{qid}> {RDFS_LABEL} {_lit(label)}@en .")
    for subj, prop, *objs in sections["claims"]:
        for obj in objs:
            for ident in (subj, obj):
                if ident not in labels:
                    raise SystemExit(f"unlabelled item {ident} in claim {subj} {prop} {obj}")
            if prop_types.get(prop) != "WikibaseItem":
                raise SystemExit(f"claim {subj} {prop} {obj}: {prop} is not an item-valued property")
            lines.append(f"<{WD}{subj}> <{WDT}{prop}> <{WD}{obj}> .")
    for subj, prop, value in sections["literals"]:
        lines.append(f"<{WD}{subj}> <{WDT}{prop}> {literal_for(prop_types[prop], value)} .")
    for subj, mid in sections["freebase"]:
        lines.append(f"<{WD}{subj}> <{WDT}P646> {_lit(mid)} .")
    if len(set(lines)) != len(lines):
        raise SystemExit("duplicate triples in kg_facts.txt")
    return lines


def shortest_hops(sections: dict[str, list[list[str]]], sources: list[str], target: str) -> int | None:
    """Fewest item edges (either direction, class edges excluded) from any source to ``target``."""
    adjacency: dict[str, set[str]] = defaultdict(set)
    for subj, prop, *objs in sections["claims"]:
        if prop in CLASS_EDGES:
            continue
        for obj in objs:
            adjacency[subj].add(obj)
            adjacency[obj].add(subj)
    seen = {s: 0 for s in sources}
    queue = deque(sources)
    while queue:
        node = queue.popleft()
        if node == target:
            return seen[node]
        for nxt in adjacency[node]:
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return None


def sample_topic(source: str, meta: dict) -> str | None:
    """The row's topic as the dataset loaders derive it from the same metadata (SimpleQA ``topic``, Mintaka
    ``category``, GrailQA ``domains``); the other datasets have no topic field."""
    sys.path.insert(0, str(HERE.parents[2]))  # src/, so the loaders' rule is used, not a copy of it
    from fs1.data.common import domains_topic, topic_label

    if source == "SimpleQA":
        return topic_label(meta.get("topic"))
    if source == "Mintaka":
        return topic_label(meta.get("category"))
    if source == "GrailQA":
        return domains_topic(meta.get("domains"))
    return None


def build_questions(sections: dict[str, list[list[str]]]) -> list[dict]:
    """Question rows in fs1 benchmark format; exits when a row's hops disagree with the mini-KG."""
    sys.dont_write_bytecode = True  # keep __pycache__ out of the packaged data folder
    sys.path.insert(0, str(HERE))
    from sample_questions import ROWS  # a sibling data file, not a package module

    counters: dict[str, int] = defaultdict(int)
    rows, problems = [], []
    for source, question, main, aliases, q_ents, a_ents, hops, answer_type, meta in ROWS:
        counters[source] += 1
        qid = f"sample-{ID_PREFIX[source]}-{counters[source]:02d}"
        for answer in a_ents:
            found = shortest_hops(sections, q_ents, answer)
            if found is None or (found != hops and answer not in q_ents):
                problems.append(f"{qid}: {answer} at {found} hops, row says {hops}")
        rows.append(
            {
                "ID": qid,
                "question": question,
                "main_answers": main,
                "answer_aliases": aliases,
                "source_of_data": source,
                "question_entities": q_ents,
                "answer_entities": a_ents,
                "hops": hops,
                "answer_type": answer_type,
                "topic": sample_topic(source, meta),
                "meta": meta,
            }
        )
    if problems:
        raise SystemExit("hops disagree with the mini-KG:\n" + "\n".join(problems))
    return rows


def main() -> None:
    sections = parse_facts(FACTS)
    triples = build_triples(sections)
    questions = build_questions(sections)
    KG_OUT.parent.mkdir(parents=True, exist_ok=True)
    KG_OUT.write_text("\n".join(triples) + "\n", encoding="utf-8")
    with SAMPLE_OUT.open("w", encoding="utf-8") as fh:
        for row in questions:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(triples)} triples -> {KG_OUT}\n{len(questions)} questions -> {SAMPLE_OUT}")


if __name__ == "__main__":
    main()
