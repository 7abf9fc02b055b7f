"""The spend advisor: facts it reads, answers it gives, what it remembers, determinism."""

from __future__ import annotations

import re

import pytest

from netra_ops.sandbox.services.agent import MODEL_PRICES, AgentTurn, SpendAdvisor, extract_facts

SEQUENCE = (
    "Hi, we want to lower our AI bill.",
    "We spend $12,000 a month, mostly on GPT-4o.",
    "What if we cut it by half?",
    "Could we even get under $4k?",
)


def _dollars(text: str) -> list[float]:
    return [float(v.replace(",", "")) for v in re.findall(r"\$(\d[\d,]*(?:\.\d+)?)", text)]


@pytest.mark.parametrize(
    ("text", "monthly"),
    [
        ("We spend $12,000 a month on inference", 12_000),
        ("about $12k/month", 12_000),
        ("roughly $400 a day", 12_000),
        ("$150k a year across teams", 12_500),
        ("12000 dollars per month", 12_000),
        ("our monthly bill is $9,500", 9_500),
    ],
)
def test_spend_is_read_and_normalised_to_a_month(text: str, monthly: float) -> None:
    assert extract_facts(text).monthly_spend == pytest.approx(monthly)


@pytest.mark.parametrize(
    ("text", "per_day"),
    [
        ("3 million tokens/day", 3e6),
        ("3M tokens a day", 3e6),
        ("90 million tokens per month", 3e6),
        ("20k requests per day", 30e6),  # 1,500 tokens per request
    ],
)
def test_volume_is_read_as_tokens_per_day(text: str, per_day: float) -> None:
    assert extract_facts(text).tokens_per_day == pytest.approx(per_day)


@pytest.mark.parametrize(
    ("text", "model"),
    [
        ("we run GPT-4o", "gpt-4o"),
        ("gpt 4o mini for triage", "gpt-4o-mini"),
        ("gpt-4 turbo", "gpt-4-turbo"),
        ("Claude 3 Opus", "claude-3-opus"),
        ("claude haiku", "claude-3-haiku"),
        ("we use claude", "claude-3.5-sonnet"),
        ("gemini 1.5 flash", "gemini-1.5-flash"),
        ("gemini pro", "gemini-1.5-pro"),
        ("self-hosted llama 3.1 8b", "llama-3-8b"),
        ("no model named here", None),
    ],
)
def test_model_names_are_recognised(text: str, model: str | None) -> None:
    assert extract_facts(text).model == model


@pytest.mark.parametrize(
    ("text", "goal", "target"),
    [
        ("can we cut it by half?", 0.5, None),
        ("we need to reduce costs by 30%", 0.3, None),
        ("a 25% cut would do", 0.25, None),
        ("we spend $12,000 and want to get under $4k", None, 4_000),
    ],
)
def test_goals_are_read(text: str, goal: float | None, target: float | None) -> None:
    facts = extract_facts(text)
    assert facts.goal_reduction == goal
    assert facts.target_spend == target
    if target is not None:
        assert facts.monthly_spend == 12_000  # the target is not mistaken for the spend


def test_an_answer_with_numbers_is_a_priced_recommendation() -> None:
    turn = SpendAdvisor().answer("u1", "t1", "We spend $12,000 a month on gpt-4o")

    results = turn.results
    assert turn.tool_name == "cost_analyzer"
    assert turn.parameters["monthly_spend_usd"] == 12_000
    assert turn.parameters["model"] == "gpt-4o"
    assert results["cheap_model"] == "gpt-4o-mini"
    assert 0 < results["projected_monthly_usd"] < 12_000
    assert results["savings_usd"] == pytest.approx(12_000 - results["projected_monthly_usd"])
    assert results["savings_pct"] == pytest.approx(results["savings_usd"] / 12_000, abs=1e-4)
    response = turn.final_response
    assert "Recommendation" in response and "gpt-4o-mini" in response
    assert 12_000 in _dollars(response)
    assert round(results["projected_monthly_usd"]) in _dollars(response)
    assert f"{results['savings_pct'] * 100:.1f}%" in response
    assert len(turn.reasoning) > 10 and len(response) > 20


def test_an_answer_without_numbers_gives_benchmarks_and_asks_for_spend() -> None:
    turn = SpendAdvisor().answer("u1", "t1", "Hello, can you help us spend less on AI?")

    assert turn.tool_name == "spend_benchmarks"
    assert "monthly spend" in turn.final_response
    assert len(_dollars(turn.final_response)) >= 3  # example spend, projection, savings
    assert "%" in turn.final_response
    assert turn.results["savings_usd"] > 0


def test_volume_alone_is_priced_at_list_price() -> None:
    turn = SpendAdvisor().answer("u1", "t1", "around 20k requests per day on claude opus")

    expected = 30e6 * 30 / 1e6 * MODEL_PRICES["claude-3-opus"]
    assert turn.results["current_monthly_usd"] == pytest.approx(expected)
    assert "spend estimated from volume" in turn.final_response


def test_a_low_cost_model_gets_batching_advice_instead_of_routing() -> None:
    turn = SpendAdvisor().answer("u1", "t1", "we use gpt-4o-mini for $2,000/month")

    assert turn.results["cheap_share"] == 0
    assert "batch API" in turn.final_response
    assert 0 < turn.results["savings_pct"] < 0.5


def test_a_later_turn_refers_back_to_earlier_facts() -> None:
    advisor = SpendAdvisor()
    advisor.answer("u1", "t1", "We spend $12,000 a month on gpt-4o")

    turn = advisor.answer("u1", "t1", "What if we cut it by half?")

    assert "Earlier you said your spend is $12,000/month" in turn.final_response
    assert "cutting it by half would mean a target of $6,000/month" in turn.final_response
    assert turn.parameters["goal_reduction"] == 0.5
    assert "meets your goal" in turn.final_response


def test_an_unreachable_goal_says_how_far_off_it_is() -> None:
    advisor = SpendAdvisor()
    advisor.answer("u1", "t1", "We spend $12,000 a month on gpt-4o")

    turn = advisor.answer("u1", "t1", "We must reduce it by 90%")

    assert turn.results["cheap_share"] == 0.85  # the routing cap
    assert "short of your 90% goal" in turn.final_response


def test_threads_and_users_do_not_share_memory() -> None:
    advisor = SpendAdvisor()
    advisor.answer("u1", "t1", "We spend $23,000 a month on gpt-4o")

    other_thread = advisor.answer("u1", "t2", "What if we cut it by half?")
    other_user = advisor.answer("u2", "t1", "What if we cut it by half?")

    for turn in (other_thread, other_user):
        assert turn.tool_name == "spend_benchmarks"
        assert "Earlier you said" not in turn.final_response
        assert "$23,000" not in turn.final_response


def test_the_same_messages_give_the_same_answers() -> None:
    first, second = SpendAdvisor(), SpendAdvisor()

    answers = [first.answer("u1", "t1", text) for text in SEQUENCE]
    again = [second.answer("u1", "t1", text) for text in SEQUENCE]

    assert answers == again
    assert all(isinstance(turn, AgentTurn) for turn in answers)
    assert len({turn.final_response for turn in answers}) == len(SEQUENCE)


def test_the_oldest_thread_is_forgotten_beyond_the_limit() -> None:
    advisor = SpendAdvisor(max_threads=2)
    advisor.answer("u1", "t1", "We spend $12,000 a month")
    advisor.answer("u1", "t2", "We spend $5,000 a month")
    advisor.answer("u1", "t3", "We spend $7,000 a month")

    assert advisor.facts("u1", "t1").monthly_spend is None
    assert advisor.facts("u1", "t3").monthly_spend == 7_000
