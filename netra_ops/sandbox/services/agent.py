"""The sandbox's AI agent: a deterministic, rule-based advisor on AI (LLM API) spend.

No model can be downloaded here, and a golden-path check needs an answer it can judge, so
the agent is a small rule engine. It reads the facts a user states (monthly spend, token
volume, request volume, the models in use, a savings goal), remembers them per
`(user_id, thread_id)`, and answers with a priced recommendation: move the simple share of
traffic to the vendor's cheaper tier, cache repeated prompts, and what that saves in dollars
and percent. Same messages in, same answers out.

Prices are list prices per million tokens, blended 3:1 input:output, rounded; they are
illustrative, not a quote.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MODEL_PRICES", "AgentTurn", "SpendAdvisor", "ThreadFacts", "extract_facts"]

# Blended USD per 1M tokens (3 parts input to 1 part output) and the cheaper tier to route to.
MODEL_PRICES: dict[str, float] = {
    "gpt-4": 37.50,
    "gpt-4-turbo": 15.00,
    "gpt-4o": 4.38,
    "gpt-4o-mini": 0.26,
    "gpt-3.5-turbo": 0.75,
    "claude-3-opus": 30.00,
    "claude-3.5-sonnet": 6.00,
    "claude-3-haiku": 0.50,
    "gemini-1.5-pro": 2.19,
    "gemini-1.5-flash": 0.13,
    "mistral-large": 3.00,
    "mistral-small": 0.30,
    "llama-3-70b": 0.64,
    "llama-3-8b": 0.06,
}
CHEAPER_TIER: dict[str, str] = {
    "gpt-4": "gpt-4o-mini",
    "gpt-4-turbo": "gpt-4o-mini",
    "gpt-4o": "gpt-4o-mini",
    "gpt-3.5-turbo": "gpt-4o-mini",
    "claude-3-opus": "claude-3-haiku",
    "claude-3.5-sonnet": "claude-3-haiku",
    "gemini-1.5-pro": "gemini-1.5-flash",
    "mistral-large": "mistral-small",
    "llama-3-70b": "llama-3-8b",
}
DEFAULT_MODEL = "gpt-4o"
ROUTED_SHARE = 0.60  # typical share of simple requests (classification, extraction, short Q&A)
MAX_ROUTED_SHARE = 0.85  # beyond this, quality on hard requests suffers
CACHE_SAVINGS = 0.10  # repeated system prompts and retrieved context served from cache
BATCH_SHARE, BATCH_DISCOUNT = 0.30, 0.50  # async work moved to a batch API at half price
TOKENS_PER_REQUEST = 1_500
DAYS_PER_MONTH = 30
MAX_THREADS = 10_000

_MODEL_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"gpt[-\s]?4o[-\s]?mini", "gpt-4o-mini"),
    (r"gpt[-\s]?4o", "gpt-4o"),
    (r"gpt[-\s]?4[-\s]?turbo", "gpt-4-turbo"),
    (r"gpt[-\s]?4\b", "gpt-4"),
    (r"gpt[-\s]?3\.5(?:[-\s]?turbo)?", "gpt-3.5-turbo"),
    (r"(?:\bclaude[-\s\d.]*)?\bopus\b", "claude-3-opus"),
    (r"(?:\bclaude[-\s\d.]*)?\bhaiku\b", "claude-3-haiku"),
    (r"(?:\bclaude[-\s\d.]*)?\bsonnet\b|\bclaude\b", "claude-3.5-sonnet"),
    (r"gemini[-\s\w.]*?flash", "gemini-1.5-flash"),
    (r"\bgemini\b", "gemini-1.5-pro"),
    (r"mistral[-\s]?small", "mistral-small"),
    (r"\bmistral\b", "mistral-large"),
    (r"llama[-\s\w.]*?\b8b\b", "llama-3-8b"),
    (r"\bllama\b", "llama-3-70b"),
)
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)\s*(k|m|b|thousand|million|billion)?\b"
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9}
_PERIOD = r"(?:\s*(?:/|per|a|an|each|every)\s*(day|daily|week|month|mo|year|yr))?"
_PER_MONTH = {"day": 30.0, "daily": 30.0, "week": 30 / 7, "month": 1.0, "mo": 1.0,
              "year": 1 / 12, "yr": 1 / 12}
_TARGET_MONEY = re.compile(
    r"(?:under|below|to|target(?:\s+of)?|budget(?:\s+of)?|at most|max(?:imum)?(?:\s+of)?)"
    r"\s+\$\s?" + _NUMBER, re.IGNORECASE)
_MONEY = re.compile(r"\$\s?" + _NUMBER + _PERIOD, re.IGNORECASE)
_MONEY_WORDS = re.compile(_NUMBER + r"\s*(?:usd|dollars)" + _PERIOD, re.IGNORECASE)
_TOKENS = re.compile(_NUMBER + r"\s*tokens?" + _PERIOD, re.IGNORECASE)
_REQUESTS = re.compile(
    _NUMBER + r"\s*(?:requests?|calls?|queries|conversations?|chats?)" + _PERIOD, re.IGNORECASE)
_HALF = re.compile(r"\b(?:by|in)\s+half\b|\bhalve\b|\b50\s*%", re.IGNORECASE)
_PERCENT_GOAL = re.compile(
    r"(?:cut|reduc|sav|lower|decreas|trim|drop)\w*\b[^%\d$]{0,30}?(\d{1,2}(?:\.\d+)?)\s*%"
    r"|(\d{1,2}(?:\.\d+)?)\s*%\s*(?:cut|reduction|less|lower|cheaper|savings?)",
    re.IGNORECASE)


@dataclass(frozen=True)
class AgentTurn:
    """One answer of the agent: what it thought, which tool it ran, and its reply."""

    reasoning: str
    tool_name: str
    parameters: dict[str, Any]
    results: dict[str, Any]
    final_response: str


@dataclass
class ThreadFacts:
    """What a user has told the agent in one thread (None: not said yet)."""

    monthly_spend: float | None = None
    tokens_per_day: float | None = None
    model: str | None = None
    goal_reduction: float | None = None
    target_spend: float | None = None
    turns: int = 0
    said_before: set[str] = field(default_factory=set)


def extract_facts(text: str) -> ThreadFacts:
    """The spend facts stated in one message (numbers normalised to USD/month, tokens/day)."""
    target = _TARGET_MONEY.search(text)
    remainder = _TARGET_MONEY.sub(" ", text)
    return ThreadFacts(
        monthly_spend=_monthly_spend(remainder),
        tokens_per_day=_tokens_per_day(remainder),
        model=_model(text),
        goal_reduction=_goal_reduction(remainder),
        target_spend=_number(*target.groups()) if target else None,
    )


class SpendAdvisor:
    """A rule-based AI-spend advisor that remembers each `(user_id, thread_id)` separately."""

    name = "spend_advisor"

    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        self._threads: OrderedDict[tuple[str, str], ThreadFacts] = OrderedDict()
        self._max_threads = max_threads

    def facts(self, user_id: str, thread_id: str) -> ThreadFacts:
        """The facts remembered for a thread (a fresh, empty record if none)."""
        key = (user_id, thread_id)
        if key not in self._threads:
            self._threads[key] = ThreadFacts()
            if len(self._threads) > self._max_threads:
                self._threads.popitem(last=False)
        self._threads.move_to_end(key)
        return self._threads[key]

    def answer(self, user_id: str, thread_id: str, text: str) -> AgentTurn:
        """Answer one message of a thread, using and updating what the thread said before."""
        memory = self.facts(user_id, thread_id)
        said_now = extract_facts(text)
        recalled = _merge(memory, said_now)
        memory.turns += 1
        if memory.monthly_spend is None and memory.tokens_per_day is None:
            return _benchmark_turn(memory, said_now)
        return _analysis_turn(memory, recalled)


def _merge(memory: ThreadFacts, said_now: ThreadFacts) -> list[str]:
    """Fold this message's facts into memory; return the earlier facts this turn relies on."""
    recalled = []
    for name in ("monthly_spend", "tokens_per_day", "model", "goal_reduction", "target_spend"):
        value = getattr(said_now, name)
        if value is not None:
            setattr(memory, name, value)
            memory.said_before.add(name)
        elif name in memory.said_before:
            recalled.append(name)
    if said_now.goal_reduction is not None:
        memory.target_spend = None
    if said_now.target_spend is not None:
        memory.goal_reduction = None
    return [name for name in recalled if getattr(memory, name) is not None]


def _benchmark_turn(memory: ThreadFacts, said_now: ThreadFacts) -> AgentTurn:
    model = memory.model or DEFAULT_MODEL
    example_spend = 10_000.0
    plan = _routing_plan(example_spend, model, ROUTED_SHARE)
    opener = (
        "I still need your numbers to give you a plan of your own."
        if memory.turns > 1
        else "I can size your savings once I know your monthly AI spend."
    )
    response = (
        f"{opener} As a benchmark: a team spending {_usd(example_spend)}/month on {model} that "
        f"routes {_pct(ROUTED_SHARE)} of its requests (classification, extraction, short "
        f"answers) to {plan['cheap_model']} and caches repeated prompts typically pays about "
        f"{_usd(plan['projected_monthly_usd'])}/month, saving {_usd(plan['savings_usd'])} "
        f"({_pct(plan['savings_pct'])}). {model} costs about "
        f"${MODEL_PRICES[model]:.2f} per 1M tokens blended. Tell me your monthly spend "
        "(e.g. \"$12,000 a month\"), your volume (e.g. \"3 million tokens/day\") and your "
        "models, and I will price a routing mix for you."
    )
    return AgentTurn(
        reasoning=(
            "No spend or volume given yet; answering with a benchmark for a "
            f"{_usd(example_spend)}/month {model} workload and asking for the user's numbers."
        ),
        tool_name="spend_benchmarks",
        parameters={"model": model, "example_monthly_spend_usd": example_spend},
        results={**plan, "needs": ["monthly_spend_usd", "tokens_per_day", "models"]},
        final_response=response,
    )


def _analysis_turn(memory: ThreadFacts, recalled: list[str]) -> AgentTurn:
    model = memory.model or DEFAULT_MODEL
    assumptions = [] if memory.model else [f"model not stated; assuming {DEFAULT_MODEL}"]
    spend, tokens = _spend_and_volume(memory, model, assumptions)
    goal = _goal(memory, spend)
    share = _share_for_goal(goal, model) if goal else ROUTED_SHARE
    plan = _routing_plan(spend, model, share)
    parameters = {
        "monthly_spend_usd": round(spend, 2),
        "tokens_per_day": round(tokens),
        "model": model,
        "goal_reduction": goal,
    }
    results = {**plan, "tokens_per_day": round(tokens), "assumptions": assumptions}
    sentences = [
        _recall_sentence(memory, recalled, goal),
        _plan_sentence(plan, model, share),
        _goal_sentence(goal, plan, spend),
        _volume_sentence(memory, spend, tokens, model),
        *(f"Assumption: {a}." for a in assumptions),
        _next_step(plan, model),
    ]
    return AgentTurn(
        reasoning=(
            f"Analyzing {_usd(spend)}/month on {model} (about {_count(tokens)} tokens/day); "
            f"pricing a {_pct(share)} routing mix to {plan['cheap_model']} plus prompt caching."
        ),
        tool_name="cost_analyzer",
        parameters=parameters,
        results=results,
        final_response=" ".join(s for s in sentences if s),
    )


def _spend_and_volume(
    memory: ThreadFacts, model: str, assumptions: list[str]
) -> tuple[float, float]:
    price = MODEL_PRICES[model]
    if memory.monthly_spend is not None:
        spend = memory.monthly_spend
        if memory.tokens_per_day is not None:
            return spend, memory.tokens_per_day
        assumptions.append(f"volume derived from spend at {model} list price")
        return spend, spend / price * 1e6 / DAYS_PER_MONTH
    tokens = memory.tokens_per_day or 0.0
    assumptions.append(f"spend estimated from volume at {model} list price")
    return tokens * DAYS_PER_MONTH / 1e6 * price, tokens


def _goal(memory: ThreadFacts, spend: float) -> float | None:
    if memory.target_spend is not None and spend > 0:
        return max(0.0, min(0.99, 1 - memory.target_spend / spend))
    return memory.goal_reduction


def _share_for_goal(goal: float, model: str) -> float:
    """The routed share that reaches `goal` (capped), never less than the default mix."""
    ratio = _price_ratio(model)
    if ratio >= 1:
        return 0.0
    needed = (1 - (1 - goal) / (1 - CACHE_SAVINGS)) / (1 - ratio)
    return round(min(MAX_ROUTED_SHARE, max(ROUTED_SHARE, needed)), 2)


def _routing_plan(spend: float, model: str, share: float) -> dict[str, Any]:
    cheap = CHEAPER_TIER.get(model, model)
    ratio = _price_ratio(model)
    if ratio >= 1:
        share = 0.0
    routed = spend * (1 - share * (1 - ratio))
    batched = routed * (1 - BATCH_SHARE * BATCH_DISCOUNT) if ratio >= 1 else routed
    projected = batched * (1 - CACHE_SAVINGS)
    savings = spend - projected
    return {
        "current_monthly_usd": round(spend, 2),
        "projected_monthly_usd": round(projected, 2),
        "savings_usd": round(savings, 2),
        "savings_pct": round(savings / spend, 4) if spend else 0.0,
        "premium_model": model,
        "cheap_model": cheap,
        "cheap_share": share,
    }


def _price_ratio(model: str) -> float:
    return MODEL_PRICES[CHEAPER_TIER.get(model, model)] / MODEL_PRICES[model]


def _recall_sentence(memory: ThreadFacts, recalled: list[str], goal: float | None) -> str:
    parts = []
    if "monthly_spend" in recalled and memory.monthly_spend is not None:
        parts.append(f"your spend is {_usd(memory.monthly_spend)}/month")
    if "tokens_per_day" in recalled and memory.tokens_per_day is not None:
        parts.append(f"you process about {_count(memory.tokens_per_day)} tokens/day")
    if "model" in recalled and memory.model:
        parts.append(f"you run {memory.model}")
    if not parts:
        return ""
    sentence = "Earlier you said " + _join(parts)
    if goal and "goal_reduction" not in recalled and "target_spend" not in recalled:
        target = _usd(_spend_of(memory) * (1 - goal))
        sentence += f"; cutting it by {_share_words(goal)} would mean a target of {target}/month"
    return sentence + "."


def _plan_sentence(plan: dict[str, Any], model: str, share: float) -> str:
    if plan["cheap_model"] == model:
        action = (
            f"You already run a low-cost tier ({model}), so routing saves little; move about "
            f"{_pct(BATCH_SHARE)} of non-interactive work to a batch API at half price and "
            "cache repeated prompts."
        )
    else:
        action = (
            f"Recommendation: route about {_pct(share)} of requests (classification, "
            f"extraction, short answers) from {model} to {plan['cheap_model']} and cache "
            "repeated prompts."
        )
    return (
        f"{action} Estimated spend drops from {_usd(plan['current_monthly_usd'])} to "
        f"{_usd(plan['projected_monthly_usd'])}/month, saving {_usd(plan['savings_usd'])}/month "
        f"({_pct(plan['savings_pct'])})."
    )


def _next_step(plan: dict[str, Any], model: str) -> str:
    if plan["cheap_model"] == model:
        return "Next step: list the jobs that can wait up to 24 hours for batch results."
    return "Next step: tag a week of requests by task type to confirm the routable share."


def _goal_sentence(goal: float | None, plan: dict[str, Any], spend: float) -> str:
    if goal is None:
        return ""
    target = spend * (1 - goal)
    if plan["savings_pct"] + 1e-9 >= goal:
        return f"That meets your goal of {_pct(goal)} ({_usd(target)}/month or less)."
    gap = plan["projected_monthly_usd"] - target
    return (
        f"That is {_usd(gap)}/month short of your {_pct(goal)} goal ({_usd(target)}/month); "
        "closing the gap needs batch processing of offline work or shorter prompts "
        "(trimming context by 20% cuts input cost by about the same share)."
    )


def _volume_sentence(memory: ThreadFacts, spend: float, tokens: float, model: str) -> str:
    list_price = MODEL_PRICES[model]
    if memory.monthly_spend is None or memory.tokens_per_day is None or tokens <= 0:
        return f"That is about {_count(tokens)} tokens/day at ${list_price:.2f} per 1M tokens."
    effective = spend / (tokens * DAYS_PER_MONTH / 1e6)
    sentence = (
        f"Your effective price is ${effective:.2f} per 1M tokens against a list price of "
        f"${list_price:.2f} for {model}."
    )
    if effective > 2 * list_price:
        sentence += (
            " Paying over twice list price usually means retries, oversized contexts or "
            "untracked workloads: audit those before routing."
        )
    return sentence


def _spend_of(memory: ThreadFacts) -> float:
    if memory.monthly_spend is not None:
        return memory.monthly_spend
    model = memory.model or DEFAULT_MODEL
    return (memory.tokens_per_day or 0.0) * DAYS_PER_MONTH / 1e6 * MODEL_PRICES[model]


def _monthly_spend(text: str) -> float | None:
    match = _MONEY.search(text) or _MONEY_WORDS.search(text)
    if match is None:
        return None
    amount, scale, period = match.groups()
    return _number(amount, scale) * _PER_MONTH[_period(period, text, default="month")]


def _tokens_per_day(text: str) -> float | None:
    match = _TOKENS.search(text)
    if match is not None:
        amount, scale, period = match.groups()
        monthly = _number(amount, scale) * _PER_MONTH[_period(period, text, default="day")]
        return monthly / DAYS_PER_MONTH
    match = _REQUESTS.search(text)
    if match is None:
        return None
    amount, scale, period = match.groups()
    monthly = _number(amount, scale) * _PER_MONTH[_period(period, text, default="day")]
    return monthly / DAYS_PER_MONTH * TOKENS_PER_REQUEST


def _model(text: str) -> str | None:
    lowered = text.lower()
    found = [
        (match.start(), rank, model)
        for rank, (pattern, model) in enumerate(_MODEL_PATTERNS)
        if (match := re.search(pattern, lowered))
    ]
    return min(found)[2] if found else None


def _goal_reduction(text: str) -> float | None:
    if _HALF.search(text):
        return 0.5
    match = _PERCENT_GOAL.search(text)
    if match is None:
        return None
    value = float(match.group(1) or match.group(2)) / 100
    return value if 0 < value < 1 else None


def _period(period: str | None, text: str, *, default: str) -> str:
    if period:
        return period.lower()
    lowered = text.lower()
    for word, name in (("monthly", "month"), ("daily", "day"), ("annual", "year"),
                       ("yearly", "year"), ("weekly", "week")):
        if word in lowered:
            return name
    return default


def _number(amount: str, scale: str | None) -> float:
    return float(amount.replace(",", "")) * _SCALE.get((scale or "").lower(), 1.0)


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _share_words(value: float) -> str:
    return "half" if abs(value - 0.5) < 1e-9 else _pct(value)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _count(value: float) -> str:
    for threshold, suffix in ((1e9, " billion"), (1e6, " million"), (1e3, "k")):
        if value >= threshold:
            return f"{value / threshold:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
