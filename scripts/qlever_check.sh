#!/usr/bin/env bash
# Check fs1's KG queries on a real QLever (issue 21). For a machine with the `qlever` control tool
# (`pip install qlever`) and its engine (Docker/Podman image adfreiburg/qlever, or native qlever-index/qlever-server):
#   1. index the bundled mini-KG with QLever and start a server on it;
#   2. run `fs1 paths sample` against it and against the embedded store: the records must agree (KG name aside);
#   3. print QLever's query plan for every query shape fs1 sends (Accept: application/qlever-results+json) and
#      fail if a multi-column join is fed by a full scan (`IndexScan ?x ?y ?z`): the plan of the old pair query
#      (qlever#2423), which cannot run on all of Wikidata.
#
# Usage: scripts/qlever_check.sh [WORKDIR]        (env: PYTHON, QLEVER_PORT=7019, QLEVER_SYSTEM=docker|podman|native)
# Exit status: 0 all good, 1 a check failed, 2 QLever or fs1 missing.
set -euo pipefail

PYTHON=${PYTHON:-python}
PORT=${QLEVER_PORT:-7019}
SYSTEM=${QLEVER_SYSTEM:-docker}
WORK=$(realpath -m "${1:-$(mktemp -d -t fs1-qlever-XXXXXX)}")

command -v qlever >/dev/null || { echo "qlever_check: needs the qlever control tool (pip install qlever)" >&2; exit 2; }
"$PYTHON" -c "import fs1.kg" 2>/dev/null || { echo "qlever_check: fs1 is not importable by $PYTHON" >&2; exit 2; }

mkdir -p "$WORK"
KG_FILE=$("$PYTHON" -c "from fs1.kg import bundled_kg_path; print(bundled_kg_path())")
cp "$KG_FILE" "$WORK/mini_kg.nt"
cat >"$WORK/Qleverfile" <<EOF
[data]
NAME = fs1-mini
DESCRIPTION = fs1 bundled mini-KG
FORMAT = nt

[index]
INPUT_FILES = mini_kg.nt
MULTI_INPUT_JSON = { "cmd": "cat mini_kg.nt", "format": "nt", "parallel": "false" }
SETTINGS_JSON = { "num-triples-per-batch": 100000 }
STXXL_MEMORY = 1G

[server]
PORT = $PORT
ACCESS_TOKEN = fs1-check
MEMORY_FOR_QUERIES = 2G
TIMEOUT = 30s

[runtime]
SYSTEM = $SYSTEM
EOF

cd "$WORK"
rm -f fs1-mini.index.* fs1-mini.vocabulary.* fs1-mini.meta-data.json
echo "== indexing the mini-KG in $WORK"
qlever index
echo "== starting QLever on port $PORT"
qlever start --kill-existing-with-same-port
trap 'qlever stop >/dev/null 2>&1 || true' EXIT
URL="http://localhost:$PORT"

echo "== fs1 paths: QLever vs the embedded store"
rm -f qlever.jsonl local.jsonl
export FS1_CACHE_DIR="$WORK/cache"
"$PYTHON" -m fs1.cli.main paths sample --out qlever.jsonl --kg "sparql:$URL" --no-cache --server-timeout 30
"$PYTHON" -m fs1.cli.main paths sample --out local.jsonl
"$PYTHON" - <<'EOF'
import json
import sys

def load(name):
    rows = [json.loads(line) for line in open(name, encoding="utf-8")]
    return {r["ID"]: {k: v for k, v in r.items() if k not in ("kg", "kg_date")} for r in rows}

qlever, local = load("qlever.jsonl"), load("local.jsonl")
differ = sorted(i for i in local.keys() | qlever.keys() if local.get(i) != qlever.get(i))
found = sum(r["status"] == "found" for r in qlever.values())
print(f"{len(qlever)} records from QLever ({found} found), {len(local)} from the embedded store; {len(differ)} differ")
for i in differ[:10]:
    print(f"  {i}: qlever={qlever.get(i, {}).get('status')} local={local.get(i, {}).get('status')}")
sys.exit(1 if differ else 0)
EOF

echo "== query plans of every shape fs1 sends"
QLEVER_URL="$URL" "$PYTHON" - <<'EOF'
import json
import os
import re
import sys

import httpx

from fs1.kg import queries
from fs1.kg.settings import DEFAULT_DENY

URL = os.environ["QLEVER_URL"]
SHAPES = {
    "adjacency (capped, both directions)": queries.adjacency_query("Q76", DEFAULT_DENY, 257),
    "allowed degree (capped count)": queries.degree_query("Q30", DEFAULT_DENY, 2001),
    "raw degree (range counts)": queries.raw_degree_query("Q30"),
    "pair edges A->B": queries.pair_edges_queries(["Q76", "Q61"], ["Q30", "Q782"], DEFAULT_DENY)[0],
    "pair edges B->A": queries.pair_edges_queries(["Q76", "Q61"], ["Q30", "Q782"], DEFAULT_DENY)[1],
    "labels": queries.labels_query(["Q76", "Q30"], "en"),
    "property labels": queries.property_labels_query(["P19", "P27"], "en"),
    "Freebase MIDs": queries.mid_query(["/m/02mjmr"]),
    "data date": queries.DATA_DATE_QUERY,
}
FULL_SCAN = re.compile(r"IndexScan\s+\?\S+\s+\?\S+\s+\?\S+")
MULTI_COLUMN = re.compile(r"multi.?column.?join", re.IGNORECASE)


def tree_of(answer: dict) -> dict:
    info = answer.get("runtimeInformation") or {}
    return info.get("query_execution_tree") or info


def descendants(node: dict):
    for child in node.get("children") or []:
        yield child
        yield from descendants(child)


def show(node: dict, depth: int = 0) -> None:
    rows = node.get("result_rows", "?")
    print(f"    {'  ' * depth}{node.get('description', '?')}  [{rows} rows]")
    for child in node.get("children") or []:
        show(child, depth + 1)


failed = False
with httpx.Client(timeout=60) as client:
    for name, text in SHAPES.items():
        reply = client.post(
            URL, data={"query": text}, headers={"Accept": "application/qlever-results+json"}
        )
        if reply.status_code != 200:
            print(f"  FAIL {name}: HTTP {reply.status_code}: {reply.text[:300]}")
            failed = True
            continue
        tree = tree_of(reply.json())
        bad = [
            n for n in [tree, *descendants(tree)]
            if MULTI_COLUMN.search(n.get("description", ""))
            and any(FULL_SCAN.search(d.get("description", "")) for d in descendants(n))
        ]
        print(f"  {'FAIL' if bad else 'ok  '} {name}")
        show(tree)
        failed |= bool(bad)
sys.exit(1 if failed else 0)
EOF
echo "== all QLever checks passed"
