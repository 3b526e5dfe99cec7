"""Write the messy lead file and its expected outcome (deterministic, seeded).

    python tests/data/make_messy_leads.py

writes, next to this script:

* ``messy_leads.csv``       the leads, in the order a supplier sent them;
* ``messy_suppression.csv`` the do-not-contact list (``kind,value``: phone in
  E.164, email, or domain);
* ``messy_campaign.yaml``   the campaign they are imported into;
* ``messy_expected.json``   the expected outcome: counts and one entry per row.

Every row is generated with an *intent* (clean, exact duplicate, junk name,
bad phone, ...) and the expected verdict and reason code come from that intent
alone, never from running the qualifier. Each bad row has exactly one fault.

Dedupe and suppression expectations assume the ingest service handles rows in
file order, and:

* looks up suppression first: a row whose phone, email or email domain is on
  the list is rejected as ``suppressed`` (suppressed rows have keys no other
  row shares, so the order of the two look-ups does not matter here);
* counts as an earlier lead only a lead it accepted (rejected and quarantined
  rows never become originals; here none share keys with a later row anyway);
* measures the 30-day window between the rows' ``created_at`` values: a row
  is a ``duplicate`` if an earlier accepted lead has the same normalised
  phone or email and a ``created_at`` at most 30 days before its own. Exact
  duplicates repeat the whole row, ``created_at`` included; in-window
  duplicates come 1 to 25 days after their original, out-of-window ones more
  than 31 days after it and are accepted;
* with ``on_duplicate: reject`` nothing is merged (``merged`` is 0; with
  ``merge`` the duplicates would be counted as merged instead).
"""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers

HERE = Path(__file__).parent
SEED = 20240501
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=3)  # row i is created at BASE_TIME + i * STEP (8 rows a day)
COLUMNS = ["first_name", "last_name", "email", "phone", "country", "postal_code", "product",
           "created_at", "utm_source", "consent_url"]

CAMPAIGN_YAML = """\
# Campaign used by tests/data/messy_leads.csv (written by make_messy_leads.py).
key: messy_health
name: Messy health leads
default_region: IN
fields:
  first_name: {type: string, required: true}
  last_name: {type: string}
  email: {type: email}
  phone: {type: phone, required: true}
  country: {type: country}
  postal_code: {type: postal_code}
  product: {type: enum, values: [health, life, motor]}
  created_at: {type: datetime}
dedupe:
  keys: [phone, email]
  window: 30d
  on_duplicate: reject
checks:
  junk_name: reject
  disposable_email: quarantine
"""

COUNTS: dict[str, int] = {
    "clean": 340, "exact_duplicate": 20, "duplicate_phone_in_window": 20,
    "duplicate_email_in_window": 15, "suppressed_phone": 20, "suppressed_email": 3,
    "suppressed_domain": 2, "junk_name": 30, "disposable_email": 20, "invalid_email": 15,
    "invalid_phone": 20, "missing_first_name": 10, "missing_phone": 10, "invalid_country": 10,
    "invalid_postal_code": 10, "invalid_product": 10, "unknown_field": 10,
}
OUT_OF_WINDOW = 15  # placed in the last rows so that old originals exist

#: intent -> (verdict after the service, reason code, verdict from qualify() alone)
OUTCOME: dict[str, tuple[str, str | None, str]] = {
    "clean": ("accepted", None, "accepted"),
    "duplicate_out_of_window": ("accepted", None, "accepted"),
    "exact_duplicate": ("rejected", "duplicate", "accepted"),
    "duplicate_phone_in_window": ("rejected", "duplicate", "accepted"),
    "duplicate_email_in_window": ("rejected", "duplicate", "accepted"),
    "suppressed_phone": ("rejected", "suppressed", "accepted"),
    "suppressed_email": ("rejected", "suppressed", "accepted"),
    "suppressed_domain": ("rejected", "suppressed", "accepted"),
    "junk_name": ("rejected", "junk_name", "rejected"),
    "disposable_email": ("quarantined", "disposable_email", "quarantined"),
    "invalid_email": ("rejected", "invalid_email", "rejected"),
    "invalid_phone": ("rejected", "invalid_phone", "rejected"),
    "missing_first_name": ("rejected", "required", "rejected"),
    "missing_phone": ("rejected", "required", "rejected"),
    "invalid_country": ("rejected", "invalid_country", "rejected"),
    "invalid_postal_code": ("rejected", "invalid_postal_code", "rejected"),
    "invalid_product": ("rejected", "invalid_value", "rejected"),
    "unknown_field": ("rejected", "unknown_field", "rejected"),
}

FIRST = {
    "IN": ["Priya", "Rahul", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rohan", "Meera"],
    "US": ["Emily", "Michael", "Sarah", "David", "Jessica", "Chris", "Olivia", "Ethan"],
    "GB": ["Oliver", "Amelia", "Harry", "Isla", "George", "Freya", "Charlie"],
    "BR": ["João", "Ana", "Lucas", "Mariana", "Gabriel", "Beatriz"],
    "DE": ["Lukas", "Sophie", "Jonas", "Lena", "Felix", "Hannah"],
    "NL": ["Daan", "Emma", "Sem", "Julia", "Bram", "Tess"],
}
LAST = {
    "IN": ["Sharma", "Patel", "Iyer", "Reddy", "Nair", "Gupta", "Singh", "Menon", "Joshi"],
    "US": ["Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Moore"],
    "GB": ["Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright"],
    "BR": ["Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa"],
    "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker"],
    "NL": ["de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser"],
}
COUNTRY_SPELLINGS = {
    "IN": ["India", "IN", "IND", "Inde", "Indien", "india ", "Bharat", ""],
    "US": ["USA", "US", "United States", "Estados Unidos", "États-Unis", "Vereinigte Staaten",
           "U.S.A."],
    "GB": ["UK", "United Kingdom", "GB", "Royaume-Uni", "Reino Unido", "Great Britain",
           "England"],
    "BR": ["Brasil", "Brazil", "BR", "BRA", "Brésil", "Brasilien"],
    "DE": ["Deutschland", "Germany", "DE", "DEU", "Allemagne", "Alemania"],
    "NL": ["Nederland", "Netherlands", "NL", "Pays-Bas", "Niederlande", "Holland"],
}
POSTAL = {
    "IN": ["400001", "400 001", "560034", "110001", "600 028"],
    "US": ["10001", "94105", "60601", "02134", "94105-1420", "30303"],
    "GB": ["SW1A 1AA", "sw1a1aa", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH"],
    "BR": ["01310-100", "01310100", "20040-020"],
    "DE": ["10115", "80331", "20095"],
    "NL": ["1012 AB", "1012ab", "3011 BD"],
}
BAD_POSTAL = [("US", "1234"), ("GB", "ABC123"), ("IN", "012345"), ("DE", "1234"),
              ("NL", "1234 SA"), ("BR", "1234-567"), ("CA", "D1A 0B1")]
CALLING = {"IN": "91", "US": "1", "GB": "44", "BR": "55", "DE": "49", "NL": "31"}
MAIL_DOMAINS = ["gmail.com", "Gmail.com", "yahoo.com", "outlook.com", "hotmail.co.uk",
                "acme-insure.com", "example.in", "web.de", "ziggo.nl", "uol.com.br"]
DISPOSABLE = ["mailinator.com", "yopmail.com", "guerrillamail.com", "sharklasers.com",
              "trashmail.com", "10minutemail.com"]
JUNK_NAMES = [("test", "test"), ("Test", "User"), ("asdf", "asdf"), ("asdf", "Sharma"),
              ("qwerty", "qwerty"), ("John", "Doe"), ("aaa", "bbb"), ("xxx", "xxx"),
              ("fake", "name"), ("Dummy", "Lead"), ("sdfgh", "jkl"), ("Rahul", "Rahul"),
              ("123", "456"), ("Priya", "test"), ("Mickey", "Mouse"), ("zxcv", "zxcv"),
              ("n/a", "n/a"), ("Lorem", "Ipsum"), ("Foo", "Bar"), ("Sample", "Lead")]
BAD_EMAILS = ["priya.shah@", "priya shah@gmail.com", "@gmail.com", "priya@gmail",
              "priya@@gmail.com", "priya.gmail.com", "priya@gmail..com"]
BAD_PHONES = [("12345", "IN"), ("+91 12345", ""), ("000-000-0000", "US"), ("+44 20 1234", ""),
              ("call me", "IN"), ("98123", "India"), ("+1 555 000 0000", ""),
              ("0000000000", "IN")]
BAD_COUNTRIES = ["Atlantis", "Narnia", "Wakanda", "Mars", "Gondor", "XX"]
BAD_PRODUCTS = ["car", "pets", "HEALTHY", "travel", "home"]
DNC_DOMAIN = "donotcall-corp.com"


@dataclass
class Person:
    country: str
    nsn: str  # national significant number
    first: str
    last: str
    email: str | None
    row: int = -1
    used: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def e164(self) -> str:
        return f"+{CALLING[self.country]}{self.nsn}"


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seen_nsn: set[str] = set()
        self.serial = 0

    def nsn(self, country: str) -> str:
        """A fresh national number, valid for ``country`` (phonenumbers guards the draw)."""
        r = self.rng
        while True:
            if country == "IN":
                n = r.choice("6789") + "".join(r.choice("0123456789") for _ in range(9))
            elif country == "US":
                exchange = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(2, 9)}"
                area = r.choice(["415", "212", "312", "646", "617"])
                n = area + exchange + f"{r.randint(0, 9999):04d}"
            elif country == "GB":
                n = "7" + r.choice("45789") + "".join(r.choice("0123456789") for _ in range(8))
            elif country == "BR":
                n = "119" + "".join(r.choice("0123456789") for _ in range(8))
            elif country == "DE":
                n = "151" + "".join(r.choice("0123456789") for _ in range(8))
            else:
                n = "6" + "".join(r.choice("0123456789") for _ in range(8))
            number = phonenumbers.parse(f"+{CALLING[country]}{n}")
            if n not in self.seen_nsn and phonenumbers.is_valid_number(number):
                self.seen_nsn.add(n)
                return n

    def phone_text(self, country: str, n: str, *, international: bool = False) -> str:
        """``n`` written the way people in ``country`` (or abroad) write it."""
        cc = CALLING[country]
        intl = {
            "IN": [f"+91 {n[:5]} {n[5:]}", f"+91-{n}", f"0091 {n[:5]} {n[5:]}", f"91{n}"],
            "US": [f"+1 {n[:3]}-{n[3:6]}-{n[6:]}", f"+1 ({n[:3]}) {n[3:6]} {n[6:]}"],
            "GB": [f"+44 {n[:4]} {n[4:]}", f"+44 (0){n[:4]} {n[4:]}", f"0044{n}"],
            "BR": [f"+55 {n[:2]} {n[2:7]} {n[7:]}", f"+55 ({n[:2]}) {n[2:7]}-{n[7:]}"],
            "DE": [f"+49 {n[:3]} {n[3:]}", f"+49 (0){n[:3]} {n[3:]}", f"0049 {n[:3]} {n[3:]}"],
            "NL": [f"+31 {n[:1]} {n[1:]}", f"+31 (0){n[:1]} {n[1:]}", f"+31{n}"],
        }[country]
        national = {
            "IN": [f"0{n}", n, f"{n[:5]} {n[5:]}", f"0{n[:5]}-{n[5:]}"],
            "US": [f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}",
                   f"1-{n[:3]}-{n[3:6]}-{n[6:]}"],
            "GB": [f"0{n[:4]} {n[4:]}", f"0{n}"],
            "BR": [f"({n[:2]}) {n[2:7]}-{n[7:]}", f"{n[:2]} {n[2:]}"],
            "DE": [f"0{n[:3]} {n[3:]}", f"0{n[:3]}/{n[3:]}"],
            "NL": [f"0{n[:1]} {n[1:]}", f"0{n[:1]}-{n[1:]}"],
        }[country]
        assert cc
        return self.rng.choice(intl if international else intl + national)

    def person(self, row: int, *, email: bool | None = None) -> Person:
        r = self.rng
        country = r.choices(list(FIRST), weights=[40, 15, 12, 10, 12, 11])[0]
        first, last = r.choice(FIRST[country]), r.choice(LAST[country])
        self.serial += 1
        mail = None
        if email if email is not None else r.random() < 0.75:
            local = ascii_fold(f"{first}.{last}{self.serial}").replace(" ", "")
            mail = f"{local}@{r.choice(MAIL_DOMAINS)}"
        return Person(country, self.nsn(country), first, last, mail, row)

    def casing(self, text: str) -> str:
        return self.rng.choice([text, text.lower(), text.upper(), f"  {text} "])

    def row_of(self, p: Person, row: int, *, phone: str | None = None, email: Any = ...,
               country_text: str | None = None, **overrides: str) -> dict[str, str]:
        r = self.rng
        if country_text is None:
            country_text = r.choice(COUNTRY_SPELLINGS[p.country])
        international = country_text == "" and p.country != "IN"
        d = {
            "first_name": self.casing(p.first), "last_name": self.casing(p.last),
            "email": self.casing(p.email) if p.email else "",
            "phone": (phone if phone is not None
                      else self.phone_text(p.country, p.nsn, international=international)),
            "country": country_text,
            "postal_code": r.choice(POSTAL[p.country]) if r.random() < 0.6 else "",
            "product": r.choice(["health", "Health", " LIFE ", "life", "motor", "Motor", ""]),
            "created_at": (BASE_TIME + row * STEP).isoformat().replace("+00:00", "Z"),
            "utm_source": "",
            "consent_url": (f"https://cert.example/{self.serial:06d}"
                            if r.random() < 0.5 else ""),
        }
        if email is not ... and email:
            d["email"] = email
        d.update(overrides)
        return d


def build(seed: int = SEED) -> tuple[list[dict[str, str]], list[str], list[tuple[str, str]]]:
    g = Generator(seed)
    rng = g.rng
    kinds = [k for k, n in COUNTS.items() for _ in range(n)]
    rng.shuffle(kinds)
    for _ in range(OUT_OF_WINDOW):
        kinds.insert(rng.randint(len(kinds) - 60, len(kinds)), "duplicate_out_of_window")
    rows: list[dict[str, str]] = []
    intents: list[str] = []
    originals: list[Person] = []
    suppression: list[tuple[str, str]] = []
    for i, kind in enumerate(kinds):
        def pick(lo: int, hi: int, row: int = i) -> Person | None:
            # an unused clean original created between lo and hi rows before this one
            pool = [p for p in originals if not p.used and lo <= row - p.row <= hi]
            return rng.choice(pool) if pool else None

        original = None
        if kind == "exact_duplicate":
            original = pick(1, 40)
        elif kind in ("duplicate_phone_in_window", "duplicate_email_in_window"):
            original = pick(8, 200)  # 1 to 25 days earlier (8 rows a day)
            if kind == "duplicate_email_in_window" and original and not original.email:
                original = None
        elif kind == "duplicate_out_of_window":
            original = pick(250, 10_000)  # more than 31 days earlier
        if kind != "clean" and kind in ("exact_duplicate", "duplicate_phone_in_window",
                                        "duplicate_email_in_window",
                                        "duplicate_out_of_window") and original is None:
            kind = "clean"  # no suitable original yet: this row is simply a new lead

        if kind == "clean":
            p = g.person(i)
            row = g.row_of(p, i)
            p.extra["row"] = row
            originals.append(p)
        elif kind == "exact_duplicate":
            assert original is not None
            original.used = True
            row = dict(original.extra["row"])
        elif kind in ("duplicate_phone_in_window", "duplicate_out_of_window"):
            assert original is not None
            original.used = True
            fresh = g.person(i)
            phone = g.phone_text(original.country, original.nsn, international=True)
            row = g.row_of(original, i, phone=phone, email=fresh.email or "",
                           country_text=rng.choice(COUNTRY_SPELLINGS[original.country]))
        elif kind == "duplicate_email_in_window":
            assert original is not None and original.email is not None
            original.used = True
            other = g.nsn(original.country)
            copy = Person(original.country, other, original.first, original.last,
                          original.email.upper() if rng.random() < 0.5 else original.email)
            row = g.row_of(copy, i)
            row["email"] = copy.email or ""
        elif kind.startswith("suppressed_"):
            p = g.person(i, email=True)
            if kind == "suppressed_domain":
                p.email = f"{ascii_fold(p.first).lower()}{i}@{DNC_DOMAIN}"
                suppression.append(("domain", DNC_DOMAIN))
            elif kind == "suppressed_email":
                suppression.append(("email", (p.email or "").lower()))
            else:
                suppression.append(("phone", p.e164))
            row = g.row_of(p, i)
            row["email"] = p.email or ""
        elif kind == "junk_name":
            p = g.person(i)
            first, last = rng.choice(JUNK_NAMES)
            row = g.row_of(p, i, first_name=first, last_name=last)
        elif kind == "disposable_email":
            p = g.person(i)
            row = g.row_of(p, i, email=f"{ascii_fold(p.first).lower()}{i}@{rng.choice(DISPOSABLE)}")
        elif kind == "invalid_email":
            row = g.row_of(g.person(i), i, email=rng.choice(BAD_EMAILS))
        elif kind == "invalid_phone":
            text, country = rng.choice(BAD_PHONES)
            row = g.row_of(g.person(i), i, phone=text, country_text=country, postal_code="")
        elif kind == "missing_first_name":
            row = g.row_of(g.person(i), i, first_name=rng.choice(["", "   "]))
        elif kind == "missing_phone":
            row = g.row_of(g.person(i), i, phone="")
        elif kind == "invalid_country":
            p = g.person(i)
            row = g.row_of(p, i, country_text=rng.choice(BAD_COUNTRIES),
                           phone=g.phone_text(p.country, p.nsn, international=True),
                           postal_code="")
        elif kind == "invalid_postal_code":
            country, code = rng.choice(BAD_POSTAL)
            if country == "CA":
                country, code = "US", "ABCDE"
            p = g.person(i)
            p.country = country
            p.nsn = g.nsn(country)
            row = g.row_of(p, i, country_text=country, postal_code=code)
        elif kind == "invalid_product":
            row = g.row_of(g.person(i), i, product=rng.choice(BAD_PRODUCTS))
        elif kind == "unknown_field":
            row = g.row_of(g.person(i), i, utm_source=rng.choice(["facebook", "google", "tv"]))
        else:
            raise AssertionError(kind)
        rows.append(row)
        intents.append(kind)
    for kind, value in [("phone", "+919000000001"), ("phone", "+14155550100"),
                        ("email", "nobody@example.org"), ("phone", "+447700900123")]:
        suppression.append((kind, value))
    return rows, intents, list(dict.fromkeys(suppression))


def expected(intents: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows_total": len(intents), "accepted": 0, "quarantined": 0,
                           "rejected": {}, "merged": 0,
                           "qualify_only": {"accepted": 0, "quarantined": 0, "rejected": {}},
                           "rows": []}
    for n, intent in enumerate(intents, start=1):
        verdict, reason, q_verdict = OUTCOME[intent]
        if verdict == "rejected":
            assert reason is not None
            out["rejected"][reason] = out["rejected"].get(reason, 0) + 1
        else:
            out[verdict] += 1
        q = out["qualify_only"]
        if q_verdict == "rejected":
            assert reason is not None
            q["rejected"][reason] = q["rejected"].get(reason, 0) + 1
        else:
            q[q_verdict] += 1
        out["rows"].append({"row": n, "intent": intent, "verdict": verdict, "reason": reason,
                            "qualify_verdict": q_verdict,
                            "qualify_reason": reason if q_verdict != "accepted" else None})
    out["rejected"] = dict(sorted(out["rejected"].items()))
    out["qualify_only"]["rejected"] = dict(sorted(out["qualify_only"]["rejected"].items()))
    return out


def main() -> None:
    rows, intents, suppression = build()
    with (HERE / "messy_leads.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with (HERE / "messy_suppression.csv").open("w", newline="", encoding="utf-8") as fh:
        writer2 = csv.writer(fh, lineterminator="\n")
        writer2.writerow(["kind", "value"])
        writer2.writerows(suppression)
    (HERE / "messy_campaign.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    (HERE / "messy_expected.json").write_text(json.dumps(expected(intents), indent=1,
                                                         ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    print(f"wrote {len(rows)} leads, {len(suppression)} suppression entries")


if __name__ == "__main__":
    main()
