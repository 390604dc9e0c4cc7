"""Wikidata/Freebase identifiers: strict validation and normalisation before anything reaches a SPARQL query.

Every id that is written into a query text passes through this module. Only ASCII ``Q``/``P`` + digits (QIDs, PIDs)
and Freebase MIDs of a strict shape are accepted; anything else (``Q1> } DROP …``, ``Q1 .``, full-width digits,
trailing newlines, look-alike letters) raises ``EntityIdError``. Labels and other free text are never put in queries.
"""

from __future__ import annotations

import re

from fs1.errors import InputError

WD_ENTITY = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
WIKIBASE = "http://wikiba.se/ontology#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

# re.ASCII so that \w-like classes never admit other scripts; [0-9] rather than \d for the same reason.
_QID = re.compile(r"Q[1-9][0-9]{0,11}", re.ASCII)
_PID = re.compile(r"P[1-9][0-9]{0,7}", re.ASCII)
# Freebase MIDs: "m." or "/m/" then the Freebase alphabet (digits, lower-case consonants, underscore).
_MID = re.compile(r"(?:m\.|/m/)([0-9b-df-hj-np-tv-z_]{2,12})", re.ASCII)
# Freebase "g." ids (answers in WebQSP/CWQ): no P646 value on Wikidata, so they never map and never reach a query.
_GID = re.compile(r"g\.[0-9a-z_]{2,16}", re.ASCII)
_ENTITY_IRI = re.compile(re.escape(WD_ENTITY) + r"(Q[1-9][0-9]{0,11})", re.ASCII)
_WDT_IRI = re.compile(re.escape(WDT) + r"(P[1-9][0-9]{0,7})", re.ASCII)


class EntityIdError(InputError):
    """An entity or property id that is not a well-formed QID, PID or Freebase MID."""


def _shown(raw: object) -> str:
    """A short, printable rendering of a rejected id for error messages."""
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def normalise_qid(raw: str) -> str:
    """Return the bare QID (``Q42``) for ``Q42``, ``wd:Q42`` or the entity IRI; raise ``EntityIdError`` otherwise."""
    if isinstance(raw, str):
        text = raw
        if text.startswith("wd:"):
            text = text[3:]
        elif text.startswith(WD_ENTITY):
            text = text[len(WD_ENTITY) :]
        if _QID.fullmatch(text):
            return text
    raise EntityIdError(f"invalid Wikidata item id {_shown(raw)} (expected Q followed by digits)")


def normalise_pid(raw: str) -> str:
    """Return the bare PID (``P31``) for ``P31``, ``wdt:P31`` or the direct-claim IRI; raise otherwise."""
    if isinstance(raw, str):
        text = raw
        for prefix in ("wdt:", "wd:", WDT, WD_ENTITY):
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
        if _PID.fullmatch(text):
            return text
    raise EntityIdError(f"invalid Wikidata property id {_shown(raw)} (expected P followed by digits)")


def normalise_mid(raw: str) -> str:
    """Return the P646 string form (``/m/0d05w3``) of a Freebase MID given as ``m.0d05w3`` or ``/m/0d05w3``."""
    if isinstance(raw, str):
        text = raw[3:] if raw.startswith("ns:") else raw
        match = _MID.fullmatch(text)
        if match:
            return "/m/" + match.group(1)
    raise EntityIdError(f"invalid Freebase MID {_shown(raw)} (expected m.0abc or /m/0abc)")


def is_mid(raw: str) -> bool:
    """True when ``raw`` looks like a Freebase MID (in any accepted spelling)."""
    return isinstance(raw, str) and _MID.fullmatch(raw[3:] if raw.startswith("ns:") else raw) is not None


def parse_entity(raw: str) -> tuple[str, str]:
    """Classify a question/answer entity: ``("qid", "Q42")``, ``("mid", "/m/0abc")`` or ``("gid", "g.11b…")`` (a
    Freebase id Wikidata's P646 does not carry: kept, never mapped); raise on anything else."""
    if is_mid(raw):
        return "mid", normalise_mid(raw)
    if isinstance(raw, str) and _GID.fullmatch(raw):
        return "gid", raw
    try:
        return "qid", normalise_qid(raw)
    except EntityIdError:
        raise EntityIdError(
            f"invalid entity id {_shown(raw)} (expected a Wikidata QID or a Freebase MID)"
        ) from None


def is_qid(raw: str) -> bool:
    """True when ``raw`` is a bare QID."""
    return isinstance(raw, str) and _QID.fullmatch(raw) is not None


def qid_from_iri(iri: str) -> str | None:
    """The QID of a Wikidata item IRI, or ``None`` for any other IRI (properties, lexemes, other namespaces)."""
    match = _ENTITY_IRI.fullmatch(iri)
    return match.group(1) if match else None


def pid_from_wdt_iri(iri: str) -> str | None:
    """The PID of a ``wdt:`` direct-claim predicate IRI, or ``None`` for any other predicate."""
    match = _WDT_IRI.fullmatch(iri)
    return match.group(1) if match else None


def term_id(iri: str) -> str | None:
    """The bare id (``Q42`` or ``P31``) of an entity IRI ``wd:Q…``/``wd:P…`` or a ``wdt:P…`` IRI; else ``None``."""
    if iri.startswith(WD_ENTITY):
        local = iri[len(WD_ENTITY) :]
        return local if _QID.fullmatch(local) or _PID.fullmatch(local) else None
    return pid_from_wdt_iri(iri)


def wd(qid_or_pid: str) -> str:
    """SPARQL prefixed name ``wd:Q42`` / ``wd:P31`` of a validated id."""
    if _QID.fullmatch(qid_or_pid) or _PID.fullmatch(qid_or_pid):
        return "wd:" + qid_or_pid
    raise EntityIdError(f"invalid id {_shown(qid_or_pid)} for a query")


def wdt(pid: str) -> str:
    """SPARQL prefixed name ``wdt:P31`` of a validated PID."""
    return "wdt:" + normalise_pid(pid)


def mid_literal(mid: str) -> str:
    """SPARQL string literal of a MID in P646 form; the regex admits no quote or backslash, so it is safe."""
    return '"' + normalise_mid(mid) + '"'
