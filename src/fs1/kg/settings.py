"""Path-search settings (hop limit, caps, hub guards, predicate deny-list) and their documented defaults.

The default deny-list removes predicates that connect almost anything to almost anything and carry no fact a
teacher could reason with:

- ``P31`` instance of, ``P279`` subclass of: class membership; their objects ("human", "city") are the largest hubs.
- ``P910`` topic's main category, ``P301`` category's main topic, ``P971`` category combines topics,
  ``P4224`` category contains, ``P1424`` topic's main template, ``P1151`` topic's main Wikimedia portal,
  ``P360`` is a list of, ``P2354`` has list: links into Wikimedia categories, templates, portals and lists.
- ``P1343`` described by source: links to encyclopaedias and dictionaries (hubs of millions of items).
- ``P5008`` on focus list of Wikimedia project, ``P6104`` maintained by WikiProject: editorial bookkeeping.
- ``P1889`` different from: a disambiguation hint, not a fact.

Item-valued ``wdt:`` claims only are ever followed, so literals and external ids (``P646`` Freebase ID …) never
appear on a path whatever the deny-list says.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fs1.errors import InputError
from fs1.kg.ids import EntityIdError, normalise_pid, normalise_qid

SHIPPED_HUB_LISTS = {"wikidata": Path(__file__).resolve().parent / "bundled" / "wikidata_hubs.txt"}

DEFAULT_DENY: tuple[str, ...] = (
    "P31",
    "P279",
    "P910",
    "P301",
    "P971",
    "P4224",
    "P1424",
    "P1151",
    "P360",
    "P2354",
    "P1343",
    "P5008",
    "P6104",
    "P1889",
)


class SearchSettings(BaseModel):
    """How paths between question and answer entities are searched."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_hops: int = Field(3, ge=1, le=6, description="Longest path searched (1 hop, else 2, … up to this).")
    max_paths: int = Field(
        32, ge=1, description="Cap on the shortest paths kept per (question, answer) pair."
    )
    degree_limit: int = Field(
        2000,
        ge=1,
        description="Intermediate nodes with more allowed edges than this are hubs and never on a path.",
    )
    endpoint_limit: int = Field(
        20000,
        ge=1,
        description="Most edges fetched for a question/answer entity; a bigger one is reached by lookups instead.",
    )
    deny: tuple[str, ...] = Field(
        DEFAULT_DENY, description="Predicates (PIDs) never followed; see module doc."
    )
    joint: bool = Field(
        True, description="Also search joint paths linking all question entities to the answer."
    )
    max_joint_paths: int = Field(16, ge=0, description="Cap on joint paths kept per answer entity.")
    pair_batch: int = Field(
        400,
        ge=1,
        description="Nodes per side in edge-lookup queries (one query pair covers up to pair_batch² node pairs).",
    )
    hub_list: str | None = Field(
        None,
        description="QIDs always treated as hubs (never intermediates): a file, one QID per line (# comments), "
        "or 'wikidata' for the shipped list of Wikidata's largest nodes. None = decide by counting only.",
    )
    label_batch: int = Field(400, ge=1, description="Ids per VALUES block in label queries.")
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", description="Label language tag.")

    @field_validator("deny", mode="before")
    @classmethod
    def _normalise_deny(cls, value: str | Iterable[object]) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        return tuple(dict.fromkeys(normalise_pid(str(v).strip()) for v in value))


EngineName = Literal["virtuoso", "qlever", "blazegraph", "oxigraph", "fuseki", "rdf4j"]


class EndpointOptions(BaseModel):
    """How a ``sparql:`` endpoint is asked (``fs1 paths`` options; ignored for ``local:`` KGs). docs/kg.md."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str | None = Field(
        None,
        description="sparql: User-Agent with a contact (e-mail or URL); default $FS1_USER_AGENT. Required for "
        "*.wikidata.org hosts (Wikimedia policy); elsewhere a descriptive fs1 one is used when unset.",
    )
    concurrency: int | None = Field(
        None,
        ge=1,
        description="sparql: queries in flight at once; default 1 for *.wikidata.org, 4 elsewhere.",
    )
    rate: float | None = Field(
        None,
        ge=0,
        description="sparql: most requests started per second (0 = no limit); default 5 for *.wikidata.org, "
        "no limit for loopback and private-network hosts, 20 for other hosts.",
    )
    cache: bool = Field(
        True,
        description="sparql: keep complete answers on disk and reuse them (--no-cache: ask everything afresh; "
        "answers cached under another graph, engine or row cap are never reused).",
    )
    server_timeout: int | None = Field(
        None,
        ge=1,
        description="sparql: per-query time limit in seconds, sent in the engine's own form (QLever timeout=Ns, "
        "Virtuoso timeout=ms, Blazegraph/Fuseki/RDF4J timeout=s); refused for engines without one (Oxigraph).",
    )
    default_graph: tuple[str, ...] = Field(
        (),
        description="sparql: default-graph-uri IRIs (comma-separated) sent with every query, GET and POST.",
    )
    named_graph: tuple[str, ...] = Field(
        (), description="sparql: named-graph-uri IRIs (comma-separated) sent with every query."
    )
    endpoint_max_rows: int | None = Field(
        None,
        ge=2,
        description="sparql: the most rows the endpoint returns per answer, where it cuts without saying so (a "
        "gateway adding a LIMIT); answers that reach it count as incomplete. Virtuoso's cap is read by itself.",
    )
    endpoint_engine: EngineName | None = Field(
        None,
        description="sparql: the engine behind the endpoint (virtuoso, qlever, blazegraph, oxigraph, fuseki, rdf4j) "
        "when fs1 cannot tell it (a proxy hiding it); default: detected once from the Server header or a probe.",
    )
    max_response_mb: float = Field(
        64.0,
        gt=0,
        description="sparql: largest reply read, in MB after decompression (a bigger one is an error).",
    )
    request_deadline: float = Field(
        300.0, gt=0, description="sparql: seconds one request may take in all, sending to last byte."
    )

    @field_validator("default_graph", "named_graph", mode="before")
    @classmethod
    def _split_iris(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
        iris = tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
        for iri in iris:
            if not iri.startswith(("http://", "https://", "urn:")) or any(c in iri for c in ' <>"{}|^`'):
                raise ValueError(f"not a graph IRI: {iri!r}")
        return iris


def read_hub_list(spec: str) -> frozenset[str]:
    """The QIDs of a hub list: a shipped name (``wikidata``) or a file; bad lines raise naming file and line."""
    path = SHIPPED_HUB_LISTS.get(spec, Path(spec).expanduser())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"hub list {spec!r}: cannot read {path} ({exc.strerror or exc})") from None
    qids = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            qids.add(normalise_qid(entry))
        except EntityIdError as exc:
            raise InputError(f"{path}:{number}: {exc}") from None
    return frozenset(qids)
