"""The condition language: parse, validate, evaluate and explain.

A condition is data (JSON/YAML) compiled once into a small tree of objects::

    {field: city, eq: Mumbai}                       # a leaf: one field, one operator
    {all: [cond, ...]}  {any: [cond, ...]}  {not: cond}
    true  (or an omitted / empty ``when``)          # always

Semantics shared by every operator:

* a field is *missing* when it is absent, ``None`` or the empty string; then every
  operator is false except ``exists: false`` and ``ne``;
* strings compare case-insensitively for ``eq``/``ne``/``in``/``not_in``/``contains``/
  ``starts_with``; ``regex`` is case-sensitive unless the pattern says ``(?i)``;
* numbers compare numerically, and a numeric string (``"5000"``) counts as its number.

Operands are checked when the condition is parsed, so a bad rule is refused when a flow
is saved, with a ``path`` such as ``rules[2].when.all[0].between``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, ClassVar

from leadgate.domain.comparisons import (
    FALSE_TEXTS,
    TRUE_TEXTS,
    between,
    contains,
    equal_to,
    is_missing,
    is_orderable,
    is_scalar,
    jsonable,
    order,
    starts_with,
    text_of,
    to_number,
)
from leadgate.domain.errors import InvalidCondition

__all__ = [
    "OPERATORS",
    "All",
    "Always",
    "Any_",
    "Condition",
    "Leaf",
    "Not",
    "equality_guard",
    "explain_failure",
    "is_missing",
    "parse_condition",
    "to_number",
]

#: Operator name -> (operand kind, one-line description). Exported by ``vocabulary()``.
OPERATORS: dict[str, tuple[str, str]] = {
    "eq": ("scalar", "equals (case-insensitive for text, numeric for numbers)"),
    "ne": ("scalar", "does not equal; true when the field is missing"),
    "in": ("list", "equals one of the listed values"),
    "not_in": ("list", "equals none of the listed values (false when missing)"),
    "gt": ("number_or_text", "greater than"),
    "gte": ("number_or_text", "greater than or equal"),
    "lt": ("number_or_text", "less than"),
    "lte": ("number_or_text", "less than or equal"),
    "between": ("range", "inclusive range [low, high]"),
    "contains": ("scalar", "substring of a text field, or member of a list field"),
    "starts_with": ("text_or_text_list", "text starts with the prefix (or any listed prefix)"),
    "regex": ("regex", "regular expression found in the text (re.search)"),
    "exists": ("boolean", "field is present (true) or missing (false)"),
}

class Condition(ABC):
    """A compiled condition over a mapping of facts."""

    @abstractmethod
    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        """True when the facts satisfy the condition."""

    @abstractmethod
    def explain(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-able account of the evaluation; always has ``matched``."""

    @abstractmethod
    def to_dict(self) -> Any:
        """The condition as data; ``parse_condition(c.to_dict())`` gives an equal condition."""

    @abstractmethod
    def fields(self) -> frozenset[str]:
        """Every field the condition reads."""


@dataclass(frozen=True)
class Always(Condition):
    """The condition that always holds (``true`` or an omitted ``when``)."""

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return True

    def explain(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return {"always": True, "matched": True}

    def to_dict(self) -> Any:
        return True

    def fields(self) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True)
class Leaf(Condition):
    """``{field: NAME, OP: operand}``."""

    field: str
    op: str
    operand: Any
    _test: Callable[[Any], bool] = dc_field(
        compare=False, repr=False, default=lambda _a: False)
    _if_missing: bool = dc_field(compare=False, repr=False, default=False)

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        actual = facts.get(self.field)
        if actual is None or actual == "":
            return self._if_missing
        return self._test(actual)

    def explain(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        actual = facts.get(self.field)
        missing = actual is None or actual == ""
        out: dict[str, Any] = {
            "field": self.field, "op": self.op, "expected": jsonable(self.operand),
            "actual": actual if type(actual) in (str, int, float, bool) else jsonable(actual),
            "matched": self._if_missing if missing else self._test(actual),
        }
        if missing:
            out["missing"] = True
        return out

    def to_dict(self) -> Any:
        operand = list(self.operand) if isinstance(self.operand, tuple) else self.operand
        return {"field": self.field, self.op: operand}

    def fields(self) -> frozenset[str]:
        return frozenset((self.field,))


@dataclass(frozen=True)
class All(Condition):
    """Every child holds."""

    children: tuple[Condition, ...]
    keyword: ClassVar[str] = "all"

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        for c in self.children:  # noqa: SIM110  (a loop beats all(genexpr) on the hot path)
            if not c.evaluate(facts):
                return False
        return True

    def explain(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        parts = [c.explain(facts) for c in self.children]
        out: dict[str, Any] = {self.keyword: parts, "matched": self._combine(parts)}
        failed = [i for i, p in enumerate(parts) if not p["matched"]]
        if failed:
            out["failed"] = failed
        return out

    def _combine(self, parts: list[dict[str, Any]]) -> bool:
        return all(p["matched"] for p in parts)

    def to_dict(self) -> Any:
        return {self.keyword: [c.to_dict() for c in self.children]}

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(c.fields() for c in self.children))


@dataclass(frozen=True)
class Any_(All):
    """At least one child holds."""

    keyword: ClassVar[str] = "any"

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        for c in self.children:  # noqa: SIM110  (a loop beats any(genexpr) on the hot path)
            if c.evaluate(facts):
                return True
        return False

    def _combine(self, parts: list[dict[str, Any]]) -> bool:
        return any(p["matched"] for p in parts)


@dataclass(frozen=True)
class Not(Condition):
    """The child does not hold."""

    child: Condition

    def evaluate(self, facts: Mapping[str, Any]) -> bool:
        return not self.child.evaluate(facts)

    def explain(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        inner = self.child.explain(facts)
        return {"not": inner, "matched": not inner["matched"]}

    def to_dict(self) -> Any:
        return {"not": self.child.to_dict()}

    def fields(self) -> frozenset[str]:
        return self.child.fields()


def explain_failure(cond: Condition, facts: Mapping[str, Any]) -> dict[str, Any]:
    """A short explanation of why ``cond`` does not hold: only the parts that failed.

    For ``all`` it is the first failing child (``partial: true``, ``failed: [its index]``);
    for ``any`` every (failing) child; for a
    leaf its own explanation. Cheaper and smaller than :meth:`Condition.explain`; used
    for the many rules a trace lists as not matching.
    """
    if isinstance(cond, Any_):
        return {"any": [explain_failure(c, facts) for c in cond.children], "matched": False}
    if isinstance(cond, All):
        for i, c in enumerate(cond.children):
            if not c.evaluate(facts):
                return {"all": [explain_failure(c, facts)], "failed": [i], "partial": True,
                        "matched": False}
        return cond.explain(facts)
    if isinstance(cond, Not):
        return {"not": cond.child.explain(facts), "matched": False}
    return cond.explain(facts)


def equality_guard(cond: Condition) -> tuple[str, frozenset[str]] | None:
    """A necessary condition ``field`` in ``values`` usable to index rules, if any.

    When the guard is ``(f, vs)`` and the lead's ``f`` is a text whose stripped, case-folded
    form is not in ``vs``, the condition cannot hold. Only non-numeric text operands of
    ``eq``/``in`` qualify (numbers and booleans compare loosely); ``all`` uses its first
    guarded child.
    """
    if isinstance(cond, Leaf) and cond.op in ("eq", "in"):
        values = cond.operand if cond.op == "in" else (cond.operand,)
        if values and all(isinstance(v, str) and to_number(v) is None
                          and v.strip().casefold() not in TRUE_TEXTS | FALSE_TEXTS for v in values):
            return cond.field, frozenset(v.strip().casefold() for v in values)
        return None
    if isinstance(cond, All) and not isinstance(cond, Any_):
        for c in cond.children:
            g = equality_guard(c)
            if g is not None:
                return g
    return None


def _one_of(values: tuple[Any, ...]) -> Callable[[Any], bool]:
    """``in``: equals one of ``values``. A text compared with texts that are neither
    numbers nor boolean words is one set lookup (what eq_text would conclude)."""
    preds = [equal_to(v) for v in values]

    def any_equal(a: Any) -> bool:
        for p in preds:  # noqa: SIM110  (a loop beats any(genexpr) on the hot path)
            if p(a):
                return True
        return False
    if not all(isinstance(v, str) and to_number(v) is None for v in values):
        return any_equal
    folded = frozenset(v.strip().casefold() for v in values)

    def in_texts(a: Any) -> bool:
        if type(a) is str:
            return a.strip().casefold() in folded
        return any_equal(a)
    return in_texts


def _none_of(values: tuple[Any, ...]) -> Callable[[Any], bool]:
    one_of = _one_of(values)
    return lambda a: not one_of(a)


def _leaf(data: Mapping[str, Any], path: str, fields: Collection[str] | None) -> Leaf:
    name = data["field"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidCondition("field must be a non-empty string", path=f"{path}.field")
    if fields is not None and name not in fields:
        raise InvalidCondition(f"unknown field {name!r}", path=f"{path}.field")
    ops = [k for k in data if k != "field"]
    for k in ops:
        if k not in OPERATORS:
            raise InvalidCondition(
                f"unknown operator {k!r}; expected one of {', '.join(OPERATORS)}",
                path=f"{path}.{k}")
    if not ops:
        raise InvalidCondition(f"missing operator for field {name!r}", path=path)
    if len(ops) > 1:
        raise InvalidCondition(
            f"exactly one operator per leaf, got {', '.join(map(repr, ops))}", path=path)
    op = ops[0]
    value = data[op]
    opath = f"{path}.{op}"
    test: Callable[[Any], bool]
    if_missing = False
    operand: Any = value
    if op in ("eq", "ne", "contains"):
        if not is_scalar(value):
            raise InvalidCondition(
                f"{op} needs a text, number or boolean, got {type(value).__name__}", path=opath)
        test = equal_to(value) if op != "contains" else contains(value)
        if op == "ne":
            eq = test
            test, if_missing = (lambda a: not eq(a)), True
    elif op in ("in", "not_in"):
        if not isinstance(value, list | tuple) or not all(is_scalar(v) for v in value):
            raise InvalidCondition(
                f"{op} needs a list of texts, numbers or booleans, got {value!r}", path=opath)
        operand = tuple(value)
        test = _one_of(operand) if op == "in" else _none_of(operand)
    elif op in ("gt", "gte", "lt", "lte"):
        if not is_orderable(value):
            raise InvalidCondition(f"{op} needs a number or a text, got {value!r}", path=opath)
        test = order(op, value)
    elif op == "between":
        if (not isinstance(value, list | tuple) or len(value) != 2
                or not all(is_orderable(v) for v in value)):
            raise InvalidCondition(f"between needs [low, high], got {value!r}", path=opath)
        lo, hi = value
        nlo, nhi = to_number(lo), to_number(hi)
        if (nlo is None) != (nhi is None):
            raise InvalidCondition("between needs two numbers or two texts", path=opath)
        if (nlo is not None and nhi is not None and nlo > nhi) or (
                nlo is None and str(lo).casefold() > str(hi).casefold()):
            raise InvalidCondition(f"between low {lo!r} is above high {hi!r}", path=opath)
        operand = tuple(value)
        test = between(lo, hi)
    elif op == "starts_with":
        prefixes = (value,) if isinstance(value, str) else value
        if (not isinstance(prefixes, list | tuple) or not prefixes
                or not all(isinstance(p, str) and p.strip() for p in prefixes)):
            raise InvalidCondition(
                f"starts_with needs a prefix or a non-empty list of prefixes, got {value!r}",
                path=opath)
        operand = value if isinstance(value, str) else tuple(value)
        test = starts_with(tuple(prefixes))
    elif op == "regex":
        if not isinstance(value, str):
            raise InvalidCondition(f"regex needs a text pattern, got {value!r}", path=opath)
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise InvalidCondition(f"invalid regular expression {value!r}: {exc}",
                                   path=opath) from None
        test = lambda a: pattern.search(text_of(a)) is not None  # noqa: E731
    else:  # exists
        if not isinstance(value, bool):
            raise InvalidCondition(f"exists needs true or false, got {value!r}", path=opath)
        test, if_missing = (lambda _a: value), not value
    return Leaf(name, op, operand, test, if_missing)


def parse_condition(data: Any, *, path: str = "when",
                    fields: Collection[str] | None = None) -> Condition:
    """Compile condition data into a :class:`Condition`.

    ``fields``, when given, is the set of field names a leaf may read; any other name is
    refused. Errors raise :class:`InvalidCondition` whose ``path`` names the culprit.
    """
    if data is None or data is True:
        return Always()
    if not isinstance(data, Mapping):
        raise InvalidCondition(
            f"expected a condition mapping or true, got {type(data).__name__}", path=path)
    if not data:
        return Always()
    if "field" in data:
        return _leaf(data, path, fields)
    keys = list(data)
    if len(keys) != 1 or keys[0] not in ("all", "any", "not"):
        extra = [k for k in keys if k not in ("all", "any", "not")]
        what = f"unknown key {extra[0]!r}" if extra else "use one of all/any/not per mapping"
        raise InvalidCondition(
            f"{what}; a condition is {{field: .., op: ..}}, {{all: [..]}}, {{any: [..]}} "
            "or {not: ..}", path=f"{path}.{extra[0]}" if extra else path)
    kw = keys[0]
    sub = f"{path}.{kw}"
    if kw == "not":
        return Not(parse_condition(data[kw], path=sub, fields=fields))
    items = data[kw]
    if not isinstance(items, list | tuple) or not items:
        raise InvalidCondition(f"{kw} needs a non-empty list of conditions", path=sub)
    children = tuple(parse_condition(c, path=f"{sub}[{i}]", fields=fields)
                     for i, c in enumerate(items))
    return All(children) if kw == "all" else Any_(children)
