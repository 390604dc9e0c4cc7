"""P5: min-hop path search (≤ 3 hops) on a synthetic Wikidata-shaped graph with power-law degrees.

Builds a graph of ``--edges`` item–item claims (plus class edges, literals, external ids, labels and property
declarations, as in a WDQS dump), bulk-loads it into the embedded store once, then times ``fs1.kg`` path search per
question (one entity pair) against the naive reference: the 1-, 2- and 3-hop basic graph patterns (portable
SPARQL, docs/protocol.md §A.2) run one after the other on the same store, with the same deny-list and hub rule.

Two pair sets: ``random`` (uniform entity pairs: mostly no path within 3 hops, the costliest case) and ``walk``
(the answer a 1–3 step random walk from the question entity, as in QA data). Latency is wall-clock and process CPU
time (the machine is shared; CPU time is what the search itself costs); ``warm`` shares caches across questions as
``fs1 paths`` does, ``cold`` uses a fresh finder per question. Also prints load time, store size, speed-up ratios
and how often both methods give the same hops and paths.

    python benchmarks/bench_paths.py --edges 1000000          # then --edges 10000000 if time and memory allow

P5b, ``--endpoint-rate``: the bundled sample through ``sparql:`` against local servers (``oxigraph serve`` and, when
installed, Virtuoso), at the old default of 100 requests/s and at the loopback default (no spacing), interleaved
rounds in one process; prints wall time per run, the ratio and the share of the old run that was fs1's own spacing.

    PYTHONPATH=src:. python benchmarks/bench_paths.py --endpoint-rate --rounds 5
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from fs1.kg import SearchSettings, open_kg
from fs1.kg.finder import PathFinder
from fs1.kg.queries import degree_query, naive_paths_query
from fs1.records import PathRecord, Question

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
WB = "http://wikiba.se/ontology#"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
N_PROPS, N_CLASSES = 400, 200
CHUNK = 1_000_000


def generate(path: Path, edges: int, seed: int) -> int:
    """Write the synthetic graph; returns the number of entities (``Q1 … QN``; classes come after)."""
    rng = np.random.default_rng(seed)
    n = max(1000, edges // 8)
    with path.open("w", encoding="utf-8") as out:
        for p in range(1, N_PROPS + 1):
            kind = "WikibaseItem" if p % 10 else "ExternalId"
            out.write(f"<{WD}P{p}> <{WB}directClaim> <{WDT}P{p}> .\n")
            out.write(
                f'<{WD}P{p}> <{WB}propertyType> <{WB}{kind}> .\n<{WD}P{p}> {LABEL} "property {p}"@en .\n'
            )
        for start in range(0, edges, CHUNK):
            k = min(CHUNK, edges - start)
            # Subjects mildly skewed, objects heavily (preferential attachment-like): hubs with 10^4–10^5 edges.
            subj = (n * rng.random(k) ** 1.5).astype(np.int64) + 1
            obj = (n * rng.random(k) ** 3.0).astype(np.int64) + 1
            pred = (N_PROPS * rng.random(k) ** 2.0).astype(np.int64) + 1
            pred[pred % 10 == 0] += 1  # item claims only on item-typed properties
            triples = zip(subj.tolist(), pred.tolist(), obj.tolist(), strict=True)
            out.writelines(f"<{WD}Q{s}> <{WDT}P{p}> <{WD}Q{o}> .\n" for s, p, o in triples if s != o)
            # Class edges (P31 → a few hundred classes: the biggest hubs) and literal external-id claims.
            cls = rng.integers(1, n + 1, k // 10).tolist()
            out.writelines(f"<{WD}Q{s}> <{WDT}P31> <{WD}Q{n + 1 + s % N_CLASSES}> .\n" for s in cls)
            out.writelines(f'<{WD}Q{s}> <{WDT}P10> "/m/0{s:x}" .\n' for s in cls)
        out.writelines(f'<{WD}Q{i}> {LABEL} "entity {i}"@en .\n' for i in range(1, n + N_CLASSES + 1))
    return n


def du(path: Path) -> int:
    """Bytes used by the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``."""
    return float(np.percentile(np.array(values), q))


def random_pairs(n: int, count: int, seed: int) -> list[tuple[str, str]]:
    """Uniform random pairs of distinct entities."""
    rng = np.random.default_rng(seed)
    return [(f"Q{a}", f"Q{b}") for a, b in rng.integers(1, n + 1, (count, 2)).tolist() if a != b]


def walk_pairs(kg, n: int, count: int, seed: int) -> list[tuple[str, str]]:
    """(start, end) of 1–3 step random walks over allowed edges avoiding hubs, so a path of ≤ 3 hops exists."""
    rng = np.random.default_rng(seed)
    graph = PathFinder(kg).graph
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        start = node = f"Q{int(rng.integers(1, n + 1))}"
        for _ in range(int(rng.integers(1, 4))):
            adj = graph.adjacency([node], 2000)[node]
            options = sorted(adj.by_neighbour) if adj.complete else []
            if not options:
                break
            node = options[int(rng.integers(len(options)))]
        if node != start:
            pairs.append((start, node))
    return pairs


def time_ours(kg, pairs, settings: SearchSettings, *, warm: bool) -> tuple[list[float], list[float], list]:
    """Wall and CPU seconds per question, and the records, of fs1.kg search."""
    finder = PathFinder(kg, settings)
    wall, cpu, records = [], [], []
    for i, (a, b) in enumerate(pairs):
        if not warm:
            finder = PathFinder(kg, settings)
        question = Question(
            ID=str(i), question="?", main_answers=["x"], question_entities=[a], answer_entities=[b]
        )
        t0, c0 = time.perf_counter(), time.process_time()
        records.append(finder.record(question))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu, records


def naive_search(kg, a: str, b: str, settings: SearchSettings) -> tuple[int | None, set]:
    """The reference: 1-, 2-, 3-hop BGPs in turn; paths through hubs are dropped after the query."""
    is_hub: dict[str, bool] = {}
    for hops in range(1, settings.max_hops + 1):
        paths = set()
        for row in kg.select(naive_paths_query(a, b, hops, settings.deny)):
            path = tuple(
                tuple(row[f"{v}{i}"].rsplit("/", 1)[1] for v in ("s", "p", "o")) for i in range(1, hops + 1)
            )
            inner = {x for t in path for x in (t[0], t[2])} - {a, b}
            for node in inner - is_hub.keys():
                count = kg.select(degree_query(node, settings.deny, settings.degree_limit + 1))[0]["c"]
                is_hub[node] = int(count) > settings.degree_limit
            if not any(is_hub[n] for n in inner):
                paths.add(path)
        if paths:
            return hops, paths
    return None, set()


def _naive_worker(spec: str, cache_dir: str, pairs, settings_dump: dict, conn) -> None:
    kg = open_kg(spec, cache_dir=Path(cache_dir))
    settings = SearchSettings(**settings_dump)
    for a, b in pairs:
        t0, c0 = time.perf_counter(), time.process_time()
        hops, paths = naive_search(kg, a, b, settings)
        conn.send((time.perf_counter() - t0, time.process_time() - c0, hops, paths))


def time_naive(spec: str, cache_dir: Path, pairs, settings: SearchSettings, timeout_s: float) -> list[tuple]:
    """(wall, cpu, hops, paths) per pair, run in a child process so a runaway query can be cut off."""
    out: list[tuple] = []
    ctx = mp.get_context("fork")
    while len(out) < len(pairs):
        todo = pairs[len(out) :]
        parent, child = ctx.Pipe()
        args = (spec, str(cache_dir), todo, settings.model_dump(), child)
        proc = ctx.Process(target=_naive_worker, args=args)
        proc.start()
        for _ in todo:
            if not parent.poll(timeout_s):
                proc.kill()
                out.append((timeout_s, timeout_s, "timeout", set()))
                break
            out.append(parent.recv())
        proc.join()
    return out


def same_result(naive: tuple, record: PathRecord, cap: int) -> bool:
    """Same hop count and the same paths (ours may stop at the ``cap`` of paths kept)."""
    _, _, hops, paths = naive
    ours = {tuple((t["s"], t["p"], t["o"]) for t in p) for p in record.paths}
    return hops == record.hops and ours <= paths and (len(ours) == len(paths) or len(ours) == cap)


def line(name: str, values: list[float]) -> str:
    return (
        f"{name}: p50 {pct(values, 50) * 1e3:.1f} ms  p95 {pct(values, 95) * 1e3:.1f} ms  "
        f"mean {statistics.mean(values) * 1e3:.1f} ms  max {max(values) * 1e3:.0f} ms"
    )


def report_set(args, kg, spec: str, cache: Path, name: str, pairs, settings: SearchSettings) -> None:
    """Time one pair set with fs1.kg (warm, cold) and the naive BGPs; print figures and ratios."""
    warm_wall, warm_cpu, records = time_ours(kg, pairs, settings, warm=True)
    cold_wall, cold_cpu, _ = time_ours(kg, pairs, settings, warm=False)
    outcomes = statistics.Counter(r.hops if r.status == "found" else r.status for r in records)
    print(f"[{name}] {len(pairs)} pairs, outcomes {dict(sorted(outcomes.items(), key=str))}")
    for label, values in (("warm wall", warm_wall), ("warm cpu", warm_cpu), ("cold wall", cold_wall)):
        print(f"[{name}] fs1.kg {line(label, values)}")
    print(f"[{name}] fs1.kg {line('cold cpu', cold_cpu)}")
    k = min(args.naive_pairs, len(pairs))
    naive = time_naive(spec, cache, pairs[:k], settings, args.naive_timeout)
    cut = sum(1 for n in naive if n[2] == "timeout")
    print(f"[{name}] naive BGPs, first {k} pairs ({cut} cut off at {args.naive_timeout:.0f} s):")
    print(
        f"[{name}]   {line('wall', [n[0] for n in naive])}\n[{name}]   {line('cpu', [n[1] for n in naive])}"
    )
    naive_cpu = [n[1] for n in naive]
    for label, values in (("warm", warm_cpu[:k]), ("cold", cold_cpu[:k])):
        ratio_mean = statistics.mean(naive_cpu) / statistics.mean(values)
        print(
            f"[{name}] speed-up (cpu, {label}): mean {ratio_mean:.0f}x  p95 {pct(naive_cpu, 95) / pct(values, 95):.0f}x"
        )
    agree = sum(
        same_result(n, r, settings.max_paths)
        for n, r in zip(naive, records[:k], strict=True)
        if n[2] != "timeout"
    )
    print(f"[{name}] same hops and paths as naive: {agree}/{k - cut}")
    print(
        f"[{name}] load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall > cpu when shared)"
    )


def time_endpoint(url: str, questions: list, rate: float) -> tuple[float, int]:
    """Wall seconds of one ``fs1 paths`` search over ``questions`` against ``url``, and the requests it sent."""
    from fs1.kg import find_paths
    from fs1.kg.endpoint import EndpointSettings, SparqlKG

    start = time.perf_counter()
    with SparqlKG(EndpointSettings(url=url, rate=rate, cache=False)) as kg:
        kg.profile  # noqa: B018  (the engine probes are part of every run)
        records = list(find_paths(kg, questions))
        sent = kg.requests_sent
    assert sum(r.status == "found" for r in records) > 40
    return time.perf_counter() - start, sent


def bench_endpoint_rate(rounds: int, workdir: Path) -> None:
    """P5b: the sample over HTTP at 100 requests/s (the old default) and with no spacing (the loopback default)."""
    from contextlib import ExitStack

    from tests.fixtures.kg.servers import OxigraphServer
    from tests.fixtures.kg.virtuoso import VirtuosoServer, virtuoso_missing

    from fs1.data import load_benchmark
    from fs1.kg import bundled_kg_path

    questions = load_benchmark("sample")
    with ExitStack() as stack:
        (workdir / "oxi").mkdir(parents=True, exist_ok=True)
        servers = {"oxigraph": stack.enter_context(OxigraphServer(bundled_kg_path(), workdir / "oxi")).url}
        if virtuoso_missing() is None:
            virtuoso = stack.enter_context(VirtuosoServer(workdir / "virtuoso"))
            virtuoso.load(bundled_kg_path(), "urn:fs1:sample")
            servers["virtuoso"] = f"{virtuoso.url}?default-graph-uri=urn:fs1:sample"
        for name, url in servers.items():
            time_endpoint(url, questions, 0.0)  # warm the server's caches once
            times: dict[float, list[float]] = {100.0: [], 0.0: []}
            for _ in range(rounds):
                for rate in times:
                    wall, sent = time_endpoint(url, questions, rate)
                    times[rate].append(wall)
            old, new = (statistics.median(times[r]) for r in (100.0, 0.0))
            print(
                f"{name}: {len(questions)} questions, {sent} requests; median of {rounds}: rate 100/s {old:.2f} s, "
                f"no spacing {new:.2f} s → {old / new:.2f}× faster; spacing was {1 - new / old:.0%} of the old run"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edges", type=int, default=1_000_000, help="item–item claims in the synthetic graph")
    ap.add_argument("--pairs", type=int, default=1000, help="pairs per set timed with fs1.kg")
    ap.add_argument("--naive-pairs", type=int, default=100, help="of those, how many also run the naive BGPs")
    ap.add_argument(
        "--naive-timeout", type=float, default=60.0, help="seconds before a naive pair is cut off"
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fs1-bench-paths"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--reuse", action="store_true", help="reuse the graph file and store of an earlier --keep run"
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated file and store")
    ap.add_argument("--endpoint-rate", action="store_true", help="P5b: request spacing against local servers")
    ap.add_argument("--rounds", type=int, default=5, help="--endpoint-rate: interleaved rounds per rate")
    args = ap.parse_args()
    if args.endpoint_rate:
        args.workdir.mkdir(parents=True, exist_ok=True)
        try:
            bench_endpoint_rate(args.rounds, args.workdir)
        finally:
            shutil.rmtree(args.workdir, ignore_errors=True)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    nt, cache = args.workdir / f"synthetic-{args.edges}.nt", args.workdir / "cache"
    n = max(1000, args.edges // 8)
    if not (args.reuse and nt.exists()):
        t0 = time.perf_counter()
        generate(nt, args.edges, args.seed)
        shutil.rmtree(cache, ignore_errors=True)
        print(f"generated {args.edges:,} item edges, {n:,} entities in {time.perf_counter() - t0:.0f} s")
    print(f"file {nt.stat().st_size / 2**20:.0f} MiB")
    t0 = time.perf_counter()
    spec = f"local:{nt}"
    kg = open_kg(spec, cache_dir=cache)
    print(f"open/bulk load: {time.perf_counter() - t0:.1f} s, store {du(cache) / 2**20:.0f} MiB")
    settings = SearchSettings(max_hops=3)
    report_set(args, kg, spec, cache, "random", random_pairs(n, args.pairs, args.seed + 1), settings)
    report_set(args, kg, spec, cache, "walk", walk_pairs(kg, n, args.pairs, args.seed + 2), settings)
    kg.close()
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
