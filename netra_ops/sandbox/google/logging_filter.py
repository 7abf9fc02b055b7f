"""Google's filter language, the subset the sandbox's Logging and Monitoring emulation accept.

The grammar is Google's (AIP-160, the Logging query language): comparisons `FIELD OP VALUE`
joined by `AND`, `OR`, `NOT` (or a leading `-`), parentheses, and implicit `AND` between
adjacent terms. Precedence is Google's, which is NOT the usual one:

    NOT  >  OR  >  AND (explicit or implicit)

so `a OR NOT b AND NOT c OR d` means `(a OR (NOT b)) AND ((NOT c) OR d)`. That is also what
makes the Logging client's habit safe: it appends ` AND timestamp>="..."` to a filter without
the word `timestamp`, and `a OR b AND timestamp>=T` then means `(a OR b) AND timestamp>=T`.

Values are quoted (`"..."`, with `\\"` escapes) or bare (`ERROR`, `500`,
`projects/p/logs/run.googleapis.com%2Frequests`); `FIELD = ("a" OR "b")` compares the field
with each value. Boolean operators must be uppercase; string comparisons are not case
sensitive, as in Cloud Logging.

`parse_filter` only checks syntax and gives an `Expr` tree; `LogFilter` adds Cloud Logging's
field types (severity order, timestamps, integers) and evaluates a LogEntry's JSON.
Everything the sandbox does not implement raises `FilterError` naming it: the has operator
`:`, regular expressions `=~` `!~`, functions (`log_id()`, `SEARCH()`), global restrictions
(a bare value searching every field), unknown fields. Never a silently wrong answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import unquote

from netra_ops.errors import SandboxError

__all__ = [
    "MAX_FILTER_LENGTH",
    "SEVERITIES",
    "SUPPORTED_LOG_FIELDS",
    "And",
    "Comparison",
    "Expr",
    "FilterError",
    "LogFilter",
    "Not",
    "Or",
    "parse_filter",
    "parse_timestamp_us",
    "severity_rank",
]

MAX_FILTER_LENGTH = 20_000
SEVERITIES: dict[str, int] = {
    "DEFAULT": 0, "DEBUG": 100, "INFO": 200, "NOTICE": 300, "WARNING": 400,
    "ERROR": 500, "CRITICAL": 600, "ALERT": 700, "EMERGENCY": 800,
}
_KEYWORDS = ("AND", "OR", "NOT")
_OPERATORS = ("<=", ">=", "!=", "=~", "!~", "=", "<", ">", ":")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_VALUE_STOP = set(" \t\r\n()\"")


class FilterError(SandboxError):
    """A filter the sandbox cannot evaluate: a syntax error or an unsupported feature."""


@dataclass(frozen=True)
class Comparison:
    """`field op value`: `field` is the dotted path, `value` the text as written."""

    field: tuple[str, ...]
    op: str
    value: str

    @property
    def path(self) -> str:
        """The field as written, e.g. `resource.labels.service_name`."""
        return ".".join(self.field)


@dataclass(frozen=True)
class And:
    """All terms hold."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one term holds."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The term does not hold."""

    term: Expr


Expr = Comparison | And | Or | Not


def parse_filter(text: str) -> Expr | None:
    """The syntax tree of a filter (None for an empty filter); FilterError if malformed."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"the filter has {len(text)} characters; at most "
                          f"{MAX_FILTER_LENGTH} are allowed")
    return _Parser(text).parse()


class _Parser:
    """Recursive descent over the text; the value lexer depends on the position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Expr | None:
        self._skip()
        if self._at_end():
            return None
        expr = self._expression()
        self._skip()
        if not self._at_end():
            self._fail(f"unexpected {self._describe_next()}")
        return expr

    def _expression(self) -> Expr:
        terms = [self._sequence()]
        while self._keyword("AND"):
            terms.append(self._sequence())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def _sequence(self) -> Expr:
        terms = [self._factor()]
        while self._starts_term():
            terms.append(self._factor())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def _factor(self) -> Expr:
        terms = [self._term()]
        while self._keyword("OR"):
            terms.append(self._term())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def _term(self) -> Expr:
        self._skip()
        if self._keyword("NOT"):
            return Not(self._term())
        if self._peek() == "-":
            self.pos += 1
            return Not(self._term())
        return self._simple()

    def _simple(self) -> Expr:
        self._skip()
        if self._peek() == "(":
            self.pos += 1
            expr = self._expression()
            self._expect(")")
            return expr
        return self._comparison()

    def _comparison(self) -> Expr:
        start = self.pos
        for word in ("AND", "OR"):
            if self._keyword(word):
                self._fail(f"expected a field name, found the operator {word}", start)
        field = self._field()
        self._skip()
        if self._peek() == "(":
            self._fail(f"functions such as {'.'.join(field)}() are not supported by the "
                       "sandbox; compare a field instead, e.g. severity>=ERROR", start)
        op = self._operator()
        if op is None:
            self._global_restriction(field, start)
        self._skip()
        if self._peek() == "(":
            return self._value_list(field, op)
        return Comparison(field, op, self._value())

    def _value_list(self, field: tuple[str, ...], op: str) -> Expr:
        """`field op (v1 OR v2 ...)` (or AND): one comparison per value."""
        self._expect("(")
        values = [self._value()]
        joiner = None
        while True:
            self._skip()
            if self._peek() == ")":
                self.pos += 1
                break
            word = "AND" if self._keyword("AND") else "OR" if self._keyword("OR") else None
            if word is None:
                self._fail(f"expected AND, OR or ')' in a value list, found "
                           f"{self._describe_next()}")
            if joiner not in (None, word):
                self._fail("a value list mixes AND and OR; write separate comparisons "
                           "with parentheses instead")
            joiner = word
            values.append(self._value())
        comparisons = tuple(Comparison(field, op, v) for v in values)
        if len(comparisons) == 1:
            return comparisons[0]
        return And(comparisons) if joiner == "AND" else Or(comparisons)

    # -- lexical pieces ------------------------------------------------------------------
    def _field(self) -> tuple[str, ...]:
        parts = [self._field_part()]
        while self._peek() == ".":
            self.pos += 1
            parts.append(self._field_part())
        return tuple(parts)

    def _field_part(self) -> str:
        if self._peek() == '"':
            return self._quoted()
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            self._fail(f"expected a field name, found {self._describe_next()}")
        self.pos = match.end()
        return match.group()

    def _operator(self) -> str | None:
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return op
        return None

    def _value(self) -> str:
        self._skip()
        if self._peek() == '"':
            return self._quoted()
        start = self.pos
        while not self._at_end() and self.text[self.pos] not in _BARE_VALUE_STOP:
            self.pos += 1
        if self.pos == start:
            self._fail(f"expected a value, found {self._describe_next()}")
        if self._peek() == "(":
            self._fail(f"functions such as {self.text[start:self.pos]}() are not supported "
                       "by the sandbox; compare with a plain value", start)
        return self.text[start:self.pos]

    def _quoted(self) -> str:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while not self._at_end():
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if char == '"':
                return "".join(chars)
            chars.append(char)
        self._fail("a quoted string is not closed", start)

    def _keyword(self, word: str) -> bool:
        self._skip()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and (
            end == len(self.text) or self.text[end] in " \t\r\n()\"-"
        ):
            self.pos = end
            return True
        return False

    def _starts_term(self) -> bool:
        """Whether an implicit AND follows: another term, not AND/OR/')' or the end."""
        self._skip()
        if self._at_end() or self._peek() == ")":
            return False
        saved = self.pos
        is_keyword = self._keyword("AND") or self._keyword("OR")
        self.pos = saved
        return not is_keyword

    def _global_restriction(self, field: tuple[str, ...], start: int) -> NoReturn:
        word = ".".join(field)
        hint = ""
        if word.upper() in _KEYWORDS:
            hint = f" (Boolean operators must be uppercase: {word.upper()})"
        self._fail(f"'{word}' is a bare value (a global restriction that searches every "
                   f"field), which the sandbox does not support{hint}; compare a field, "
                   "e.g. severity>=ERROR", start)

    def _expect(self, char: str) -> None:
        self._skip()
        if self._peek() != char:
            self._fail(f"expected '{char}', found {self._describe_next()}")
        self.pos += 1

    def _skip(self) -> None:
        while not self._at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        return self.text[self.pos] if not self._at_end() else ""

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def _describe_next(self) -> str:
        if self._at_end():
            return "the end of the filter"
        return f"'{self.text[self.pos:self.pos + 20]}'"

    def _fail(self, message: str, at: int | None = None) -> NoReturn:
        where = self.pos if at is None else at
        raise FilterError(f"invalid filter at character {where + 1}: {message} "
                          f"(filter: {self.text!r})")


# -- Cloud Logging semantics -----------------------------------------------------------------

_MISSING = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESOURCE_LABELS = ("project_id", "service_name", "revision_name", "location",
                    "configuration_name", "build_id", "build_trigger_id")


def severity_rank(value: str) -> int:
    """The numeric rank of a severity name or number (DEFAULT=0 ... EMERGENCY=800)."""
    text = value.strip().upper()
    if text in SEVERITIES:
        return SEVERITIES[text]
    if text.lstrip("-").isdigit():
        return int(text)
    raise FilterError(f"unknown severity {value!r}; use one of {', '.join(SEVERITIES)}")


def parse_timestamp_us(value: str) -> int:
    """Microseconds since the epoch of an RFC 3339 timestamp (`Z` or an offset required)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{value!r} is not an RFC 3339 timestamp such as "
                          '"2025-01-31T12:00:00Z"') from None
    if moment.tzinfo is None:
        raise FilterError(f"timestamp {value!r} has no time zone; end it with Z or +00:00")
    return _epoch_us(moment)


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _string_key(value: str) -> str:
    return value.casefold()


def _log_name_key(value: str) -> str:
    return unquote(value).casefold()


_Kind = Callable[[str], Any]
_FIELD_KINDS: dict[tuple[str, ...], tuple[_Kind, _Kind]] = {
    # field path: (convert the filter's value, convert the entry's value)
    ("resource", "type"): (_string_key, _string_key),
    ("logName",): (_log_name_key, _log_name_key),
    ("insertId",): (_string_key, _string_key),
    ("severity",): (severity_rank, severity_rank),
    ("timestamp",): (parse_timestamp_us, parse_timestamp_us),
    ("receiveTimestamp",): (parse_timestamp_us, parse_timestamp_us),
    ("httpRequest", "status"): (lambda v: _integer(v, "httpRequest.status"), int),
    **{("resource", "labels", k): (_string_key, _string_key) for k in _RESOURCE_LABELS},
}
SUPPORTED_LOG_FIELDS = tuple(".".join(path) for path in _FIELD_KINDS)


def _integer(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise FilterError(f"{field} compares with an integer, not {value!r}") from None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b), "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b), "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b), ">=": lambda a, b: bool(a >= b),
}
_UNSUPPORTED_OPS = {
    ":": "the has operator ':' (substring match)",
    "=~": "regular expressions ('=~')",
    "!~": "regular expressions ('!~')",
}


@dataclass(frozen=True)
class _Test:
    """A compiled comparison: read the field from an entry, compare with a constant."""

    path: tuple[str, ...]
    op: str
    constant: Any
    convert: _Kind

    def __call__(self, entry: Mapping[str, Any]) -> bool:
        raw = _lookup(entry, self.path)
        if raw is _MISSING:
            return self.op == "!="
        try:
            value = self.convert(raw)
        except (FilterError, ValueError, TypeError, AttributeError):
            return self.op == "!="
        return _COMPARE[self.op](value, self.constant)


def _lookup(entry: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = entry
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


class LogFilter:
    """A Cloud Logging filter over LogEntry JSON objects (`{"logName", "resource", ...}`)."""

    def __init__(self, text: str | None) -> None:
        self.text = text or ""
        self.expr = parse_filter(self.text)
        self._match = _compile(self.expr) if self.expr is not None else (lambda _e: True)

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether the entry satisfies the filter."""
        return self._match(entry)

    def time_bounds(self) -> tuple[int | None, int | None]:
        """(lowest, highest) timestamp in µs that can match, from top-level AND terms.

        Both bounds are inclusive; None means unbounded. Used to skip entries cheaply.
        """
        terms = self.expr.terms if isinstance(self.expr, And) else (self.expr,)
        low: int | None = None
        high: int | None = None
        for term in _flatten_and(terms):
            if not isinstance(term, Comparison) or term.field != ("timestamp",):
                continue
            moment = parse_timestamp_us(term.value)
            if term.op in (">", ">="):
                bound = moment + (1 if term.op == ">" else 0)
                low = bound if low is None else max(low, bound)
            elif term.op in ("<", "<="):
                bound = moment - (1 if term.op == "<" else 0)
                high = bound if high is None else min(high, bound)
            elif term.op == "=":
                low = moment if low is None else max(low, moment)
                high = moment if high is None else min(high, moment)
        return low, high


def _flatten_and(terms: tuple[Expr | None, ...]) -> list[Expr]:
    flat: list[Expr] = []
    for term in terms:
        if isinstance(term, And):
            flat.extend(_flatten_and(term.terms))
        elif term is not None:
            flat.append(term)
    return flat


def _compile(expr: Expr) -> Callable[[Mapping[str, Any]], bool]:
    if isinstance(expr, Comparison):
        return _compile_comparison(expr)
    if isinstance(expr, Not):
        inner = _compile(expr.term)
        return lambda entry: not inner(entry)
    parts = [_compile(term) for term in expr.terms]
    if isinstance(expr, And):
        return lambda entry: all(part(entry) for part in parts)
    return lambda entry: any(part(entry) for part in parts)


def _compile_comparison(comparison: Comparison) -> _Test:
    if comparison.op in _UNSUPPORTED_OPS:
        raise FilterError(f"{_UNSUPPORTED_OPS[comparison.op]} is not supported by the "
                          f"sandbox (in {comparison.path}{comparison.op}{comparison.value}); "
                          "use =, !=, <, <=, >, >=")
    kinds = _FIELD_KINDS.get(comparison.field)
    if kinds is None:
        raise FilterError(f"the sandbox cannot filter on field {comparison.path!r}; "
                          f"supported fields: {', '.join(SUPPORTED_LOG_FIELDS)}")
    convert_constant, convert_entry = kinds
    return _Test(comparison.field, comparison.op, convert_constant(comparison.value),
                 convert_entry)
