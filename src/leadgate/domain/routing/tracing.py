"""The lazy parts of a routing trace, built only when someone reads them.

decide() records what it examined; these turn it into trace parts on demand: a
condition's explanation, a tuple built on first access, the lead facts a matched rule
read, the index ranges of the rules that did not match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

from leadgate.domain.comparisons import jsonable
from leadgate.domain.conditions import Condition, explain_failure

__all__ = ["Lazy", "LazyExplain", "facts_read", "gaps"]

_JSON_SCALARS = frozenset({str, int, float, bool})
T = TypeVar("T")


class LazyExplain(Mapping[str, Any]):
    """A condition's explanation, computed only when someone reads it."""

    __slots__ = ("_cond", "_facts", "_short", "_value")

    def __init__(self, cond: Condition, facts: Mapping[str, Any], *,
                 short: bool = False) -> None:
        self._cond, self._facts, self._short = cond, facts, short
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = (explain_failure(self._cond, self._facts) if self._short
                           else self._cond.explain(self._facts))
        return self._value

    def __getitem__(self, k: str) -> Any:
        return self._get()[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


class Lazy(Sequence[T]):
    """A tuple built on first access."""

    __slots__ = ("_items", "_make")

    def __init__(self, make: Callable[[], tuple[T, ...]]) -> None:
        self._make = make
        self._items: tuple[T, ...] | None = None

    def _get(self) -> tuple[T, ...]:
        if self._items is None:
            self._items = self._make()
        return self._items

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...
    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        return self._get()[i]

    def __iter__(self) -> Iterator[T]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._get())


def facts_read(fields: tuple[str, ...], lead: Mapping[str, Any]) -> dict[str, Any]:
    """What a matched rule's condition read from the lead (the compact trace's account of
    why it matched: the condition itself is in the flow version)."""
    facts = {}
    get = lead.get
    for f in fields:
        v = get(f)
        facts[f] = v if v is None or type(v) in _JSON_SCALARS else jsonable(v)
    return facts


def gaps(hit: list[int], upto: int) -> list[list[int]]:
    """Inclusive ranges of 0..upto not in ``hit`` (sorted): O(len(hit)), not O(upto)."""
    out: list[list[int]] = []
    start = 0
    for i in hit:
        if i > start:
            out.append([start, i - 1])
        start = i + 1
    if start <= upto:
        out.append([start, upto])
    return out
