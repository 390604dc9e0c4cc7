"""Budget forcing over the backend interface: Wait insertion, the margin rule, forced answers at the budget, caps,
n > 1, sweeps that continue (equal to running each budget from scratch under greedy), and prefill savings."""

from __future__ import annotations

import pytest

from fs1.backends.base import SamplingParams
from fs1.backends.hf import TransformersBackend
from fs1.generate.budget import BudgetConfig, budget_forcing
from fs1.prompts import ANSWER_MARKER, THINK_START, WAIT

GREEDY = SamplingParams()
# The scripted model thinks " one two three" (3 tokens) and then emits the answer marker; " Wait," is 2 tokens.
ATTEMPT, WAIT_TOKENS = 3, 2


@pytest.fixture(scope="module")
def scripted(scripted_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(scripted_model_dir), threads=1, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):  # noqa: ANN001, ANN201
    return TransformersBackend(str(tiny_model_dir), threads=1, device="cpu", dtype="float32")


def think_prompt(backend: TransformersBackend, question: str = "Q?") -> str:
    return backend.chat_prompt(question) + THINK_START


def run(backend, prompts, cfg, n=1, params=GREEDY, seeds=None):  # noqa: ANN001, ANN201
    return list(budget_forcing(backend, prompts, n, params, cfg, seeds))


def test_waits_until_min_think_then_natural_end(scripted):  # noqa: ANN001
    assert scripted.count_tokens(WAIT) == WAIT_TOKENS
    (out,) = run(scripted, [think_prompt(scripted)], BudgetConfig([200], min_think_tokens=20))
    # Ends at 3, 8, 13, 18 are cut (< 20 and > 32 budget left); the end at 23 is accepted.
    assert (out.think_tokens, out.waits, out.meta["think_end"]) == (23, 4, "natural")
    thinking, answer = out.text.split(ANSWER_MARKER, 1)
    assert thinking == " one two three" + (WAIT + " one two three") * 4 + "\n"
    assert scripted.count_tokens(thinking.rstrip("\n")) == out.think_tokens
    assert out.budget == 200 and out.finish_reason == "stop" and answer.startswith("\n")


def test_margin_rule_accepts_end_near_budget(scripted):  # noqa: ANN001
    (out,) = run(scripted, [think_prompt(scripted)], BudgetConfig([40], min_think_tokens=100))
    # At 3 tokens 37 > 32 remain: Wait; at 8, only 32 remain: the end is accepted although min is not reached.
    assert (out.think_tokens, out.waits) == (8, 1)


def test_no_min_accepts_first_end(scripted):  # noqa: ANN001
    (out,) = run(scripted, [think_prompt(scripted)], BudgetConfig([100]))
    assert (out.think_tokens, out.waits, out.meta["think_end"]) == (ATTEMPT, 0, "natural")


def test_budget_forces_answer_marker(tiny):  # noqa: ANN001
    outs = run(tiny, [think_prompt(tiny, q) for q in ("A?", "Bee?")], BudgetConfig([12], answer_max_tokens=5))
    for out in outs:
        assert out.think_tokens == 12 and out.meta["think_end"] == "budget"
        thinking, answer = out.text.split("\n" + ANSWER_MARKER + "\n")
        assert tiny.count_tokens(thinking) in (
            11,
            12,
            13,
        )  # re-tokenising the text may merge/split at the seam
        assert out.answer_tokens <= 5


def test_answer_cap(scripted):  # noqa: ANN001
    # The scripted answer is " one two three<|im_start|>answer" then end-of-turn: 5 tokens; a cap of 2 cuts it.
    (out,) = run(scripted, [think_prompt(scripted)], BudgetConfig([50], answer_max_tokens=2))
    assert out.answer_tokens == 2 and out.finish_reason == "length"
    assert out.text.endswith(ANSWER_MARKER + "\n one two")


def test_sweep_continuation_equals_scratch_under_greedy(tiny, scripted):  # noqa: ANN001
    for backend, min_think in ((tiny, None), (scripted, 30), (scripted, None)):
        prompts = [think_prompt(backend, q) for q in ("A?", "Bee see?", "D")]
        budgets = [8, 20, 45]
        cont = run(backend, prompts, BudgetConfig(budgets, min_think_tokens=min_think, answer_max_tokens=6))
        scratch = run(
            backend,
            prompts,
            BudgetConfig(budgets, min_think_tokens=min_think, answer_max_tokens=6, continue_sweep=False),
        )
        key = lambda o: (o.budget, o.prompt_index, o.sample)  # noqa: E731
        assert [vars(o) for o in sorted(cont, key=key)] == [vars(o) for o in sorted(scratch, key=key)]
        assert {o.budget for o in cont} == set(budgets) and len(cont) == len(budgets) * len(prompts)


def test_sweep_prefills_less_than_scratch(tiny):  # noqa: ANN001
    prompts = [think_prompt(tiny, q) for q in ("A?", "Bee see?")]
    budgets = [16, 32, 64]
    tiny.stats.prefilled_tokens = 0
    run(tiny, prompts, BudgetConfig(budgets, answer_max_tokens=4))
    cont = tiny.stats.prefilled_tokens
    tiny.stats.prefilled_tokens = 0
    run(tiny, prompts, BudgetConfig(budgets, answer_max_tokens=4, continue_sweep=False))
    assert cont < tiny.stats.prefilled_tokens


def test_n_samples_with_budgets_and_seeds(tiny):  # noqa: ANN001
    params = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, repetition_penalty=1.05)
    prompts = [think_prompt(tiny, "A?"), think_prompt(tiny, "B?")]
    seeds = [5, 6, 7, 8, 9, 10]
    outs = run(tiny, prompts, BudgetConfig([6, 12], answer_max_tokens=3), n=3, params=params, seeds=seeds)
    assert len(outs) == 2 * 3 * 2
    assert sorted({(o.prompt_index, o.sample, o.seed) for o in outs}) == [
        (p, s, seeds[p * 3 + s]) for p in range(2) for s in range(3)
    ]
    again = run(tiny, prompts, BudgetConfig([6, 12], answer_max_tokens=3), n=3, params=params, seeds=seeds)
    assert [o.text for o in outs] == [o.text for o in again]
    assert len({o.text for o in outs if o.budget == 12 and o.prompt_index == 0}) > 1


class _NoLimits(TransformersBackend):
    """The same model through the path for backends that cannot cap sequences individually."""

    supports_sequence_limits = False


def test_backends_without_per_sequence_caps_give_the_same_result(scripted_model_dir, scripted):  # noqa: ANN001
    plain = _NoLimits(str(scripted_model_dir), threads=1, device="cpu")
    prompts = [think_prompt(scripted, q) for q in ("A?", "Bee see?")]
    cfg = BudgetConfig([30, 60], min_think_tokens=40, answer_max_tokens=4)
    assert [vars(o) for o in run(plain, prompts, cfg)] == [vars(o) for o in run(scripted, prompts, cfg)]


def test_config_validation():
    with pytest.raises(ValueError):
        BudgetConfig([])
    with pytest.raises(ValueError):
        BudgetConfig([0, 5])
    assert BudgetConfig([512, 256, 512]).budgets == [256, 512]
