"""Junk detection: test and fake names, disposable email domains.

Disposable domains come from the ``disposable-email-domains`` package (a
community-maintained block list with an allow list of false positives); if it
is not installed, a short list shipped in ``leadgate/data`` is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from importlib import resources

from leadgate.domain.qualify.normalise import NAME_FIELDS

#: Whole words that mark a name as a test or placeholder.
JUNK_WORDS: frozenset[str] = frozenset({
    "test", "tester", "testing", "testtest", "fake", "asdf", "asdfg", "asdfgh", "qwerty",
    "qwertz", "azerty", "sample", "dummy", "foo", "baz", "foobar", "null", "none",
    "nil", "unknown", "anonymous", "anon", "nobody", "noname", "xxx", "xxxx", "abc",
    "abcd", "abcdef", "blah", "spam", "junk", "lorem", "ipsum", "demo", "jkl", "hjkl", "zxc",
    "zxcv", "qwe", "asd", "sdf", "user", "customer", "firstname",
    "lastname", "name", "yourname",
})

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop", "1234567890")
#: Every run of 4 neighbouring keys, forwards and backwards ("sdfg", "trew").
_MASH: frozenset[str] = frozenset(
    s for row in _ROWS for r in (row, row[::-1]) for s in (r[i:i + 4] for i in range(len(r) - 3))
)
#: Short runs that appear inside real names ("Doherty" holds "erty") are allowed.
_MASH_OK: frozenset[str] = frozenset({"erty", "ertz", "uiop", "poiu", "ghjk", "tyui", "rtyu",
                                      "wert", "mnbv", "dfgh"})
#: Whole names that are well-known placeholders.
PLACEHOLDER_NAMES: frozenset[tuple[str, str]] = frozenset({
    ("john", "doe"), ("jane", "doe"), ("mickey", "mouse"), ("donald", "duck"),
    ("john", "smith123"), ("first", "last"), ("joe", "bloggs"),
})
_VOWELS = frozenset("aeiouy")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+")
_TRIPLE = re.compile(r"(.)\1\1")


# Names repeat a great deal in real traffic (and the answer depends on the name alone).
@lru_cache(maxsize=8192)
def junk_name_reason(name: str) -> str | None:
    """Why one name value looks fake, or ``None`` if it looks like a real name."""
    low = name.strip().lower()
    letters = _LETTER.findall(low)
    if len(letters) < 1:
        return "has no letters"
    if any(ch.isdigit() for ch in low):
        return "contains digits"
    if low.replace(" ", "") in ("n/a", "n.a.", "n.a", "-", "?"):
        return "is a placeholder"
    words = _WORD.findall(low)
    if any(w in JUNK_WORDS for w in words) or "".join(words) in JUNK_WORDS:
        return "is a test or placeholder word"
    squashed = "".join(letters)
    if _TRIPLE.search(squashed):
        return "repeats one letter"
    if any(squashed[i:i + 4] in _MASH and squashed[i:i + 4] not in _MASH_OK
           for i in range(len(squashed) - 3)):
        return "looks like a keyboard mash"
    if squashed.isascii() and len(squashed) >= 5 and not (_VOWELS & set(squashed)):
        return "has no vowels"
    if len(set(squashed)) == 1 and len(squashed) > 1:
        return "repeats one letter"
    return None


def junk_names(values: Mapping[str, object]) -> dict[str, str]:
    """Name fields that look fake, each with a sentence saying why."""
    found: dict[str, str] = {}
    names = {k: v for k, v in values.items() if k.lower() in NAME_FIELDS and isinstance(v, str)}
    for field, value in names.items():
        why = junk_name_reason(value)
        if why:
            found[field] = f"The name {value!r} {why}."
    if found or len(names) < 2:  # the pair checks need a first and a last name
        return found
    first_key = next((k for k in ("first_name", "firstname", "given_name") if k in names), None)
    last_key = next((k for k in ("last_name", "lastname", "family_name", "surname")
                     if k in names), None)
    if first_key and last_key and not found:
        first, last = names[first_key].strip(), names[last_key].strip()
        pair = (first.casefold(), last.casefold())
        if pair in PLACEHOLDER_NAMES:
            found[first_key] = f"The name {first} {last} is a well-known placeholder."
        elif pair[0] == pair[1]:
            found[last_key] = f"The first and last name are the same ({first!r})."
        elif len(_LETTER.findall(first + last)) < 3:
            found[first_key] = "The name has too few letters."
    return found


@cache
def _disposable() -> tuple[frozenset[str], frozenset[str]]:
    try:
        import disposable_email_domains as ded  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        text = resources.files("leadgate.data").joinpath("disposable_domains.txt").read_text()
        block = frozenset(x.strip().lower() for x in text.splitlines()
                          if x.strip() and not x.startswith("#"))
        return block, frozenset()
    return frozenset(ded.blocklist), frozenset(getattr(ded, "allowlist", ()))


# Domains repeat a great deal in real traffic; the lists are fixed for the process.
@lru_cache(maxsize=8192)
def is_disposable_domain(domain: str) -> bool:
    """True if ``domain`` or a parent of it is a known throw-away mailbox provider."""
    block, allow = _disposable()
    parts = domain.lower().strip(".").split(".")
    for i in range(len(parts) - 1):
        candidate = ".".join(parts[i:])
        if candidate in allow:
            return False
        if candidate in block:
            return True
    return False
