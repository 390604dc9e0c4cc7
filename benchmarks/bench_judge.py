"""P4: the judge cascade on a human-labelled set — judge calls saved against judging all, and rule agreement.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_judge.py                     # rules only (no model needed)
    .venv/bin/python benchmarks/bench_judge.py --serve-embedded    # + SmolLM2-135M judging via llama.cpp
    .venv/bin/python benchmarks/bench_judge.py --judge NAME --base-url URL [--prompt simpleqa] [--limit N]

The labelled set (``benchmarks/data/judge_labelled.jsonl``, 357 cases in the style of CWQ, ExaQT, GrailQA,
SimpleQA, Mintaka and WebQSP) was written by hand before any rule existed: realistic replies (boxed, verbose,
s1 answer markers, think tags, cut off), near misses, partial names, wrong years, aliases listed and unlisted,
hedges, refusals, lists. Labels follow the paper's judge criterion as a careful human reads it: 1 iff the
final answer asserts the gold entity/value (any main answer or alias, or a form that unmistakably names the
same thing: spelling variant, short form, surname when unambiguous); lists and hedges that include the gold
count; a negated mention does not; a less specific answer (year for a full date, state for a city) is 0;
another entity sharing words with the gold is 0. ``attempted`` is false for no answer and refusals.

It prints every candidate rule's precision against the labels, checks that the cascade's rule list
(``judge_rules.CASCADE_RULE_NAMES``) is exactly the candidates that clear ``KEEP_PRECISION``, the calls saved,
the cost of the rules (answers decided per second, caches cold), and — with a judge — the judge's own
agreement.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from fs1.judge import rules as judge_rules
from fs1.judge.agreement import LabelledCase, agreement_report, load_labelled
from fs1.judge.judge import load_judge
from fs1.scoring.match import match_normalized, normalized_golds
from fs1.scoring.normalize import normalize_answer

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "benchmarks" / "data" / "judge_labelled.jsonl"
DATE = "2026-11-26"
MACHINE = "2-core CPU dev box, no GPU"
GOAL_SAVED, GOAL_AGREEMENT = 0.70, 0.99


def _clear_caches() -> None:
    for cached in (judge_rules._rule_input, normalize_answer, match_normalized, normalized_golds):
        clear = getattr(cached, "cache_clear", None)
        if clear is not None:
            clear()


def rule_throughput(cases: list[LabelledCase], repeats: int) -> float:
    """Cascade decisions per second over the labelled answers, caches cleared before each pass (best pass)."""
    answered = [(c.answer, c.question.gold) for c in cases if c.answer is not None]
    best = float("inf")
    for _ in range(repeats):
        _clear_caches()
        start = time.perf_counter()
        for answer, gold in answered:
            judge_rules.decide(answer, gold)
        best = min(best, time.perf_counter() - start)
    return len(answered) / best


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """llama-cpp-python's server on the embedded SmolLM2-135M GGUF; yields its base URL."""
    sys.path.insert(0, str(ROOT))
    from tests.support.llama_server import LlamaServer

    with LlamaServer() as server:
        yield server.base_url


def print_rules(report: dict) -> None:
    """Each candidate rule against the labels; is the cascade's list the set that clears the bar?"""
    head = ("rule", "verdict", "fired", "agree", "prec", "wilson")
    print(
        f"{head[0]:18s} {head[1]:14s} {head[2]:>5s} {head[3]:>5s} {head[4]:>6s} {head[5]:>6s}  keep  misses"
    )
    for r in report["candidates"]:
        print(
            f"{r['rule']:18s} {r['verdict']:14s} {r['fired']:5d} {r['agree']:5d} {r['precision']:6.3f} "
            f"{r['wilson_low']:6.3f}  {'yes' if r['keep'] else 'no ':4s}  {' '.join(r['disagreements'])}"
        )
    kept = [r["rule"] for r in report["candidates"] if r["keep"]]
    status = "OK" if kept == list(judge_rules.CASCADE_RULE_NAMES) else "MISMATCH: update CASCADE_RULE_NAMES"
    print(f"rules clearing {judge_rules.KEEP_PRECISION:.0%}: {', '.join(kept)} -> cascade list {status}")


def print_cascade(report: dict) -> None:
    """The cascade's decisions, agreement and the judge calls it saves."""
    c, answered = report["cascade"], report["answered"]
    print(f"\ncascade decided {c['decided']}/{answered} ({c['decided_rate']:.1%}); agreement ", end="")
    print(
        f"{c['agree']}/{c['decided']} ({c['agreement']:.2%}); disagreements: {', '.join(c['disagreements'])}"
    )
    print(f"rule decisions vs labels: {c['confusion']}")
    ratio = report["judge_all_calls"] / max(report["cascade_calls"], 1)
    print(f"judge calls: judge-all {report['judge_all_calls']}, cascade {report['cascade_calls']} ", end="")
    print(f"-> {report['calls_saved']:.1%} fewer (ratio {ratio:.2f}x)")


def run_judge(args: argparse.Namespace, cases: list[LabelledCase]) -> str:
    """Judge the (first ``--limit``) labelled cases with the given judge; print and return its P4 note."""
    with contextlib.ExitStack() as stack:
        base_url = stack.enter_context(embedded_server()) if args.serve_embedded else args.base_url
        model = args.judge or "smollm2-135m"
        judge = load_judge(model, base_url=base_url, prompt=args.prompt)
        start = time.perf_counter()
        j = agreement_report(cases[: args.limit] if args.limit else cases, judge)["judge"]
        seconds = time.perf_counter() - start
    calls = judge.counters.calls
    print(f"\njudge {model} ({args.prompt} prompt) on {j['judged']} answered cases: agreement ", end="")
    print(f"{j['agreement_on_answered']:.1%}, error verdicts {j['errors']}, confusion {j['confusion']}")
    print(f"judge-all agreement {j['judge_all_agreement']:.1%} vs cascade (rules + judge) ", end="")
    print(f"{j['cascade_agreement']:.1%}; {calls} calls in {seconds:.1f} s ({calls / seconds:.1f}/s)")
    return (
        f"{model} judge ({args.prompt} prompt, {j['judged']} cases): "
        f"{j['agreement_on_answered']:.1%} agreement, "
        f"{j['errors']} error verdicts; cascade with it {j['cascade_agreement']:.1%}"
    )


def p4_line(report: dict, judge_note: str) -> str:
    """The benchmark line for benchmarks/RESULTS.md."""
    c = report["cascade"]
    met = report["calls_saved"] >= GOAL_SAVED and c["agreement"] >= GOAL_AGREEMENT
    return (
        f"P4 | {DATE} | {MACHINE} | {report['n_cases']} labelled cases (6 datasets): cascade "
        f"{report['cascade_calls']} vs {report['judge_all_calls']} judge calls ({report['calls_saved']:.1%} "
        f"fewer), rule decisions agree {c['agree']}/{c['decided']} ({c['agreement']:.1%}) | {judge_note} | "
        f"goal >= 70% fewer and >= 99% agreement: {'met' if met else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labelled", type=Path, default=LABELLED)
    parser.add_argument("--judge", help="judge model name (served name for --base-url)")
    parser.add_argument("--base-url", help="OpenAI-compatible server of the judge")
    parser.add_argument("--serve-embedded", action="store_true", help="judge with SmolLM2-135M via llama.cpp")
    parser.add_argument("--prompt", default="fs1", choices=["fs1", "fs1-clean", "simpleqa"])
    parser.add_argument("--limit", type=int, help="judge only the first N cases (rules always use all)")
    parser.add_argument("--repeats", type=int, default=20, help="passes for the rule timing")
    args = parser.parse_args()

    cases = load_labelled(args.labelled)
    report = agreement_report(cases)
    print(f"labelled set: {report['n_cases']} cases, {report['answered']} with an answer\n")
    print_rules(report)
    print_cascade(report)
    rate = rule_throughput(cases, args.repeats)
    print(f"rule cost: {rate:,.0f} answers/s decided with cold caches (1.7M answers: {1.7e6 / rate:.0f} s)")
    judge_note = "no judge model run"
    if args.serve_embedded or args.judge:
        judge_note = run_judge(args, cases)
    print("\n" + p4_line(report, judge_note))


if __name__ == "__main__":
    main()
