"""The SPARQL texts of path search, written once and sent unchanged to the embedded store and to HTTP endpoints.

Portable SPARQL 1.1 only (docs/protocol.md §A.2): explicit PREFIX lines, ``rdfs:label`` with a language filter, no
``SERVICE wikibase:label`` or engine hints. Ids are interpolated only after ``fs1.kg.ids`` validated them; no label
or other free text is ever written into a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fs1.kg.ids import WD_ENTITY, WDT, mid_literal, normalise_qid, wd, wdt

PREFIXES = (
    "PREFIX wd: <http://www.wikidata.org/entity/>\n"
    "PREFIX wdt: <http://www.wikidata.org/prop/direct/>\n"
    "PREFIX wikibase: <http://wikiba.se/ontology#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
)
OUT, IN = "out", "in"


def _allowed_predicate(var: str, deny: Sequence[str]) -> str:
    """FILTER keeping ``wdt:`` direct claims only, minus the deny-list."""
    text = f'FILTER(STRSTARTS(STR({var}), "{WDT}P"))'
    if deny:
        text += f" FILTER({var} NOT IN ({', '.join(wdt(p) for p in deny)}))"
    return text


def _item(var: str) -> str:
    """Condition that ``var`` is a Wikidata item IRI (not a literal, property, lexeme or statement node)."""
    return f'isIRI({var}) && STRSTARTS(STR({var}), "{WD_ENTITY}Q")'


def _adjacency_select(qid: str, deny: Sequence[str], limit: int, offset: int | None = None) -> str:
    node = wd(normalise_qid(qid))
    # A page of a longer listing needs a total order, so every page is a slice of the same sequence.
    window = (
        f"LIMIT {int(limit)}"
        if offset is None
        else f"ORDER BY ?dir ?p ?n LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    return (
        "SELECT ?dir ?p ?n WHERE {\n"
        + f'  {{ {node} ?p ?n . BIND("{OUT}" AS ?dir) }} UNION {{ ?n ?p {node} . BIND("{IN}" AS ?dir) }}\n'
        + f"  FILTER({_item('?n')}) {_allowed_predicate('?p', deny)}\n"
        + f"}} {window}"
    )


def adjacency_query(qid: str, deny: Sequence[str], limit: int) -> str:
    """Allowed item–item edges at ``qid`` in both directions, at most ``limit`` rows (one row per edge)."""
    return PREFIXES + _adjacency_select(qid, deny, limit)


def adjacency_page_query(qid: str, deny: Sequence[str], size: int, offset: int) -> str:
    """Rows ``offset`` to ``offset + size`` of the allowed edges at ``qid`` in a fixed order: one page of a listing
    longer than the endpoint's row cap (Virtuoso's ``ResultSetMaxRows``), which cuts any longer answer."""
    return PREFIXES + _adjacency_select(qid, deny, size, offset)


def degree_query(qid: str, deny: Sequence[str], limit: int) -> str:
    """``?c`` = the number of allowed edges at ``qid``, counted up to ``limit`` (the engine counts, rows stay put)."""
    return PREFIXES + f"SELECT (COUNT(*) AS ?c) WHERE {{ {_adjacency_select(qid, deny, limit)} }}"


def pair_edges_queries(
    a_nodes: Sequence[str], b_nodes: Sequence[str], deny: Sequence[str]
) -> tuple[str, str]:
    """Allowed edges between any node of ``a_nodes`` and any node of ``b_nodes``, in either direction.

    Two queries, each with two one-column VALUES blocks bound straight onto one triple pattern: ``A → B`` edges,
    then ``B → A``. The older single query (a two-column ``VALUES (?a ?b)`` outside a two-way UNION) is planned by
    QLever as a multi-column join over two full scans (qlever#2423, #3276), which cannot run on all of Wikidata;
    this shape is a plain index lookup on QLever, Blazegraph and Oxigraph alike, and covers |A|×|B| pairs.
    """
    return _directed_edges(a_nodes, b_nodes, deny), _directed_edges(b_nodes, a_nodes, deny)


def _directed_edges(subjects: Sequence[str], objects: Sequence[str], deny: Sequence[str]) -> str:
    s_values = " ".join(wd(normalise_qid(n)) for n in subjects)
    o_values = " ".join(wd(normalise_qid(n)) for n in objects)
    return (
        PREFIXES
        + "SELECT ?s ?p ?o WHERE {\n"
        + f"  VALUES ?s {{ {s_values} }}\n"
        + f"  VALUES ?o {{ {o_values} }}\n"
        + f"  ?s ?p ?o . {_allowed_predicate('?p', deny)}\n"
        + "}"
    )


def raw_degree_query(qid: str) -> str:
    """``?out`` / ``?in`` = all triples with ``qid`` as subject / object, unfiltered.

    Each count is a single triple pattern, which Blazegraph answers from its range counts and QLever from index
    metadata without a scan; it bounds the allowed degree from above, so a small one settles "not a hub" at once.
    """
    node = wd(normalise_qid(qid))
    return (
        PREFIXES
        + f"SELECT ?out ?in WHERE {{ {{ SELECT (COUNT(*) AS ?out) WHERE {{ {node} ?p ?o }} }} "
        + f"{{ SELECT (COUNT(*) AS ?in) WHERE {{ ?s ?p {node} }} }} }}"
    )


# Where a Wikidata copy states its data date: WDQS's updater keeps ``<http://www.wikidata.org> schema:dateModified``
# current; an index built from a dump (QLever, a local store) keeps the dump header's ``wikibase:Dump`` date.
DATA_DATE_QUERY = (
    "PREFIX schema: <http://schema.org/>\n"
    "SELECT ?d WHERE { { <http://www.wikidata.org> schema:dateModified ?d } "
    "UNION { <http://wikiba.se/ontology#Dump> schema:dateModified ?d } }"
)


def labels_query(ids: Iterable[str], language: str) -> str:
    """Labels in ``language`` of items and property entities (``Q…``/``P…``)."""
    values = " ".join(wd(i) for i in ids)
    return (
        PREFIXES
        + f'SELECT ?n ?l WHERE {{ VALUES ?n {{ {values} }} ?n rdfs:label ?l FILTER(LANG(?l) = "{language}") }}'
    )


def property_labels_query(pids: Iterable[str], language: str) -> str:
    """Labels of the property entities behind ``wdt:`` predicates, found through ``wikibase:directClaim``."""
    values = " ".join(wdt(p) for p in pids)
    return (
        PREFIXES
        + f"SELECT ?p ?l WHERE {{ VALUES ?p {{ {values} }} ?prop wikibase:directClaim ?p ; rdfs:label ?l "
        + f'FILTER(LANG(?l) = "{language}") }}'
    )


def mid_query(mids: Iterable[str]) -> str:
    """Items whose Freebase ID (P646, a plain string ``/m/0abc``) is one of ``mids``."""
    values = " ".join(mid_literal(m) for m in mids)
    return PREFIXES + f"SELECT ?mid ?item WHERE {{ VALUES ?mid {{ {values} }} ?item wdt:P646 ?mid }}"


def naive_paths_query(src: str, dst: str, hops: int, deny: Sequence[str]) -> str:
    """One basic graph pattern for all ``hops``-hop paths src→dst, both directions per hop (§2.2/§2.3 shape).

    The slow reference the benchmark compares against, and a cross-check in tests. Rows hold ``?s{i} ?p{i} ?o{i}``.
    """
    nodes = [wd(normalise_qid(src))] + [f"?m{i}" for i in range(1, hops)] + [wd(normalise_qid(dst))]
    lines = []
    for i in range(1, hops + 1):
        a, b = nodes[i - 1], nodes[i]
        lines.append(
            f"  {{ {a} ?p{i} {b} . BIND({a} AS ?s{i}) BIND({b} AS ?o{i}) }} UNION "
            f"{{ {b} ?p{i} {a} . BIND({b} AS ?s{i}) BIND({a} AS ?o{i}) }}"
        )
        lines.append("  " + _allowed_predicate(f"?p{i}", deny))
    mids = nodes[1:-1]
    for m in mids:
        others = [n for n in nodes if n != m]
        lines.append(f"  FILTER({_item(m)} && {m} NOT IN ({', '.join(others)}))")
    variables = " ".join(f"?s{i} ?p{i} ?o{i}" for i in range(1, hops + 1))
    return PREFIXES + f"SELECT DISTINCT {variables} WHERE {{\n" + "\n".join(lines) + "\n}"
