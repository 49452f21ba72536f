"""A guard on free text: children's social-care data must not leak into the bot.

The bot is not the case record. A case is known to it only by its case reference, and every
free-text box says "No names or identifying details". People still paste a postcode or a
date of birth by habit, so each submission is checked here and, if something looks like an
identifier, the modal is refused inline before anything is stored.

Names cannot be recognised reliably, so this module looks for the identifiers that have a
shape: dates of birth, NHS numbers, postcodes, phone numbers and email addresses. It leans
towards catching them, but it must not block the ordinary words of audit writing ("12
visits", "2026-27 Q1", "the review on 3/11/2026"), or people learn to ignore it.

Dates are the hard case: meetings and reviews have dates too. A date is treated as a date of
birth when it is introduced as one ("DOB", "born on", ...) or when it is a full date more than
a year in the past, which in a quarterly audit is far more likely to be a birthday than an
event being discussed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core.policy import Policy

__all__ = [
    "DATE_OF_BIRTH",
    "EMAIL_ADDRESS",
    "NHS_NUMBER",
    "PHONE_NUMBER",
    "POSTCODE",
    "Finding",
    "find_identifiers",
    "free_text_problem",
]

DATE_OF_BIRTH = "date of birth"
NHS_NUMBER = "NHS number"
POSTCODE = "postcode"
PHONE_NUMBER = "phone number"
EMAIL_ADDRESS = "email address"

_ARTICLE = {DATE_OF_BIRTH: "a", NHS_NUMBER: "an", POSTCODE: "a", PHONE_NUMBER: "a", EMAIL_ADDRESS: "an"}
# Shown masked: echoing a whole NHS or phone number into a Slack modal would copy it again.
_MASKED_KINDS = {NHS_NUMBER, PHONE_NUMBER}
# A date this many days old or older is treated as a possible date of birth.
_OLD_DATE_DAYS = 365


@dataclass(frozen=True)
class Finding:
    """One piece of text that looks like an identifier, as the person typed it."""

    kind: str
    match: str


# --- patterns ------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"(?<![\w.+\-])[\w.%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b")

# Every postcode area in the UK (plus the non-geographic BF and BX). Restricting the outward
# code to real areas keeps codes like "KS2", "Q1" or "Y9" from ever looking like postcodes.
_POSTCODE_AREAS = (
    "AB AL B BA BB BD BF BH BL BN BR BS BT BX CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY "
    "E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN "
    "LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP "
    "SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE"
)
_POSTCODE_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    + "|".join(sorted(_POSTCODE_AREAS.split(), key=len, reverse=True))
    + r")[0-9][0-9A-Z]?[ \t]{0,2}[0-9][ABD-HJLNP-UW-Z]{2}(?![A-Za-z0-9])",
    re.IGNORECASE,
)

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
_ORD = r"(?:st|nd|rd|th)?"
# Not part of a longer number, a case reference ("CIC-10234") or a decimal.
_NUM_START = r"(?<![\w/])(?<!\w[.\-])"
_NUM_END = r"(?![\w/]|[.\-]\d)"

_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 3/11/2026, 03/11/26, 3-11-2026, 3.11.2026
    re.compile(
        _NUM_START + r"(?P<d>\d{1,2})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})" + _NUM_END
    ),
    # 2015-03-03
    re.compile(_NUM_START + r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _NUM_END),
    # 3 March 2015, 3rd of Mar. 2015
    re.compile(
        r"\b(?P<d>\d{1,2})" + _ORD + r"(?:\s+of)?\s+(?P<mname>" + _MONTH + r"),?\s+(?P<y>\d{4})\b",
        re.IGNORECASE,
    ),
    # March 3rd 2015, Mar 3, 2015
    re.compile(
        r"\b(?P<mname>" + _MONTH + r")\s+(?P<d>\d{1,2})" + _ORD + r",?\s+(?P<y>\d{4})\b", re.IGNORECASE
    ),
)
# Month and year only: identifying when introduced as a date of birth ("born March 2015").
_MONTH_YEAR_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b(?P<mname>" + _MONTH + r"),?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(_NUM_START + r"(?P<m>\d{1,2})[/.\-](?P<y>\d{4})" + _NUM_END),
)
# What introduces a date of birth, immediately before the date.
_DOB_CUE_RE = re.compile(
    r"(?:\bdob|\bd\.\s?o\.\s?b\.?|\bdate\s+of\s+birth|\bborn(?:\s+(?:on|in))?)"
    r"\s*(?:(?:is|was)\s+)?[:\-\u2013]?\s*(?:the\s+)?$",
    re.IGNORECASE,
)

# A run of digit groups separated by a space or hyphen, e.g. "+44 (0)7700 900-123".
_GROUP = r"\(?\d+(?:\)\d*)?"
_DIGIT_RUN_RE = re.compile(_NUM_START + r"\+?" + _GROUP + r"(?:(?:[ \t]*-[ \t]*|[ \t]+)" + _GROUP + r")*")
_DIGIT_GROUP_RE = re.compile(r"[+(]*\d+(?:\)\d*)?")


# --- helpers -------------------------------------------------------------------------------


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


def _two_digit_year(yy: int, today: date) -> int:
    year = 2000 + yy
    return year if year <= today.year + 10 else year - 100


def _date_from(match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    year = int(groups["y"])
    if len(groups["y"]) == 2:
        if groups.get("sep") != "/":
            return None  # "3.11.26" and "3-11-26" are too often versions or ranges
        year = _two_digit_year(year, today)
    day = int(groups["d"])
    month = _MONTHS[groups["mname"].rstrip(".").lower()] if groups.get("mname") else int(groups["m"])
    try:
        return date(year, month, day)
    except ValueError:
        if groups.get("mname") is None:
            try:  # American order: 12/25/2015
                return date(year, day, month)
            except ValueError:
                return None
        return None


def _has_dob_cue(text: str, start: int) -> bool:
    return _DOB_CUE_RE.search(text[max(0, start - 40) : start]) is not None


def _reads_as_ordinal(postcode: str) -> bool:
    """True for "E1 3rd" in "Room E1 3rd floor": a capitalised code and a lowercase ordinal.

    A postcode typed in lowercase ("b33 8th") or capitals ("B33 8TH") is still a postcode.
    """
    outward, _, inward = postcode.rpartition(" ")
    if not outward or not inward.islower() or not any(ch.isupper() for ch in outward):
        return False
    digit, suffix = inward[0], inward[1:]
    expected = {"1": "st", "2": "nd", "3": "rd"}.get(digit, "th")
    return suffix == expected


def _nhs_check_digit_ok(digits: str) -> bool:
    """The NHS number's modulus 11 check, which random 10-digit numbers mostly fail."""
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _phone_digits(groups: list[str]) -> str | None:
    """The national form (0...) of a run of groups, if it is written like a UK number."""
    digits = "".join(ch for g in groups for ch in g if ch.isdigit())
    first = groups[0].lstrip("(")
    # People group phone digits in threes or more; "01 02 03 04 05" is a list of numbers.
    if any(sum(ch.isdigit() for ch in g) < 3 for g in groups[1 if first.startswith("+") else 0 :]):
        return None
    if first.startswith("+"):
        if not digits.startswith("44"):
            return None
        rest = digits[2:]
        return rest if rest.startswith("0") else "0" + rest
    if digits.startswith("0044"):
        rest = digits[4:]
        return rest if rest.startswith("0") else "0" + rest
    return digits if digits.startswith("0") else None


def _is_uk_phone(national: str) -> bool:
    if national.startswith("07"):
        return len(national) == 11
    if national.startswith(("01", "02")):
        return len(national) in (10, 11)
    return False


def _numbers_in(text: str) -> Iterator[tuple[str, int, int]]:
    """NHS and phone numbers, found among runs of digit groups.

    Groups are tried from each starting point so that a number followed by more digits
    ("07700 900123 2 times") is still found, taking the longest reading that is valid.
    """
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = [
            (run.start() + m.start(), run.start() + m.end(), m.group())
            for m in _DIGIT_GROUP_RE.finditer(run.group())
        ]
        i = 0
        while i < len(groups):
            found: tuple[str, int] | None = None
            digit_count = 0
            for j in range(i, len(groups)):
                texts = [g[2] for g in groups[i : j + 1]]
                digit_count += sum(ch.isdigit() for ch in groups[j][2])
                if digit_count > 14:
                    break
                plain = [t.strip("()") for t in texts]
                nhs_shape = [len(t) for t in plain] in ([10], [3, 3, 4]) and all(t.isdigit() for t in plain)
                if nhs_shape and _nhs_check_digit_ok("".join(plain)):
                    found = (NHS_NUMBER, j)
                    break
                national = _phone_digits(texts)
                if national is not None and _is_uk_phone(national):
                    found = (PHONE_NUMBER, j)  # keep going: a longer reading may also be valid
            if found is None:
                i += 1
                continue
            kind, j = found
            yield kind, groups[i][0], groups[j][1]
            i = j + 1


def _mask(text: str) -> str:
    """Hide all but the last two characters, keeping spaces so the shape is recognisable."""
    keep_from = len(text.rstrip()) - 2
    return "".join(ch if i >= keep_from or ch in " -()" else "*" for i, ch in enumerate(text))


# --- public API ----------------------------------------------------------------------------


def find_identifiers(text: str, today: date | None = None) -> list[Finding]:
    """Everything in ``text`` that looks like an identifier, in reading order.

    Each stretch of text is reported at most once, by the most specific reading: an email's
    digits are not also a phone number, and a recent meeting date is not an NHS number.
    """
    if not text:
        return []
    today = today or date.today()
    found: list[tuple[int, Finding]] = []
    taken: list[tuple[int, int]] = []

    def claim(kind: str | None, start: int, end: int) -> None:
        if _overlaps(start, end, taken):
            return
        taken.append((start, end))
        if kind is not None:
            found.append((start, Finding(kind, text[start:end])))

    for m in _EMAIL_RE.finditer(text):
        claim(EMAIL_ADDRESS, m.start(), m.end())

    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            when = _date_from(m, today)
            if when is None:
                continue
            old = (today - when).days > _OLD_DATE_DAYS
            # A recent date is still claimed, so its digits are not read as a phone number.
            claim(DATE_OF_BIRTH if old or _has_dob_cue(text, m.start()) else None, m.start(), m.end())

    for pattern in _MONTH_YEAR_PATTERNS:
        for m in pattern.finditer(text):
            if _has_dob_cue(text, m.start()):
                claim(DATE_OF_BIRTH, m.start(), m.end())

    for kind, start, end in _numbers_in(text):
        claim(kind, start, end)

    for m in _POSTCODE_RE.finditer(text):
        if not _reads_as_ordinal(m.group()):
            claim(POSTCODE, m.start(), m.end())

    return [finding for _, finding in sorted(found, key=lambda item: item[0])]


def _shown(finding: Finding) -> str:
    shown = _mask(finding.match) if finding.kind in _MASKED_KINDS else finding.match
    shown = " ".join(shown.split())
    return shown if len(shown) <= 40 else shown[:37] + "..."


def free_text_problem(text: str, field_label: str, today: date | None = None) -> str | None:
    """The inline modal error for a free-text field, or None when the text is fine.

    One finding per kind is named (up to two kinds) so the message stays short enough to
    read under a text box; removing those usually shows the person what else to look for.
    """
    findings = find_identifiers(text, today)
    if not findings:
        return None
    first_of_kind: dict[str, Finding] = {}
    for finding in findings:
        first_of_kind.setdefault(finding.kind, finding)
    named = [f'{_ARTICLE[f.kind]} {f.kind} ("{_shown(f)}")' for f in list(first_of_kind.values())[:2]]
    what = " and ".join(named)
    if len(first_of_kind) > 2:
        what += " and other identifying details"
    it = "it" if len(findings) == 1 else "them"
    label = field_label.strip().rstrip("?:.").strip()
    where = f' in "{label}"' if label else ""
    return f"This looks like {what}. No names or identifying details{where}: please remove {it}."


# ---------------------------------------------------------------------------------------------
# small counts: the one rule for a number that could point to a child or a worker


class SmallCounts:
    """How counts are written: exact for the named people who may see them (``suppress=False``),
    and, where they reach a channel, a digest or an export, any count under the council's
    threshold (``suppression_threshold``, 5 by default) withheld, because a small number in a
    small service can point to a child or a worker."""

    def __init__(self, threshold: int, suppress: bool = True) -> None:
        self.threshold = threshold
        self.suppress = suppress

    def hidden(self, n: float) -> bool:
        return self.suppress and 0 < n < self.threshold

    def count(self, n: int) -> str:
        if n <= 0:
            return "none"
        return f"fewer than {self.threshold}" if self.hidden(n) else str(n)

    def export(self, n: int | None) -> str:
        if n is None:
            return ""
        return f"<{self.threshold}" if self.hidden(n) else str(n)

    def average(self, value: float | None) -> str | None:
        if value is None:
            return None
        if value == 0:
            return "none"
        if self.hidden(value):
            return f"fewer than {self.threshold}"
        return f"{value:.1f}".removesuffix(".0")

    def both_hidden(self, now: int, before: int | None) -> bool:
        """Both sides of a comparison withheld: even its direction would tell which small number
        is bigger, so no trend is shown."""
        return self.suppress and max(now, before or 0) < self.threshold

    def drawn(self, n: int) -> int:
        """The value a chart may draw: a withheld count is drawn at zero (and marked by the caller)."""
        return 0 if self.hidden(n) else n

    def too_small(self, counts: Iterable[int]) -> bool:
        """Every count raised is withheld: written out, they would be a column of "fewer than N"
        that says nothing, so the caller ranks them instead (``ranked``)."""
        raised = [n for n in counts if n > 0]
        return bool(raised) and all(self.hidden(n) for n in raised)

    def ranked(self, items: Iterable[tuple[str, int]]) -> list[list[str]]:
        """Names ordered most counted first, without their numbers: names counted equally share a
        place, so the order never claims a difference the counts do not have. Zeros are left out."""
        places: dict[int, list[str]] = {}
        for name, n in items:
            if n > 0:
                places.setdefault(n, []).append(name)
        return [sorted(places[n], key=str.casefold) for n in sorted(places, reverse=True)]

    def share(self, n: int, total: int) -> str | None:
        """A percentage of a total, only when both counts may be shown: a share of a shown total
        gives the part away (10% of 10 is 1), and a share of a withheld total means nothing. (A part
        written with ``count`` is withheld whenever its total is: it is never bigger.)"""
        if total <= 0 or self.hidden(total) or self.hidden(n):
            return None
        return f"{round(100 * n / total)}%"


def small_count(n: int, threshold: int) -> str:
    """A count for a channel, a digest or an export (see SmallCounts)."""
    return SmallCounts(threshold).count(n)


# ---------------------------------------------------------------------------------------------
# mrkdwn: text people typed, shown in Slack as they typed it


def escape(text: str) -> str:
    """Slack mrkdwn control characters, so learning text can never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------
# case references: the one identifier the bot keeps, and never in a channel

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/\-_.]*[A-Za-z0-9]|[A-Za-z0-9]")


def parse_case_refs(text: str | None, policy: Policy) -> tuple[list[str], list[str]]:
    """(valid, invalid) case references from a typed list, in order, without repeats.

    People paste lists separated by lines, commas or spaces; a reference typed in lower case is
    accepted when its upper-case form matches the council's pattern.
    """
    good: list[str] = []
    bad: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        ref = raw.strip().strip(".")
        if not ref:
            continue
        if not policy.case_reference_ok(ref) and policy.case_reference_ok(ref.upper()):
            ref = ref.upper()
        target = good if policy.case_reference_ok(ref) else bad
        if ref not in target:
            target.append(ref)
    return good, bad


# ---------------------------------------------------------------------------------------------
# the outbound gate: every piece of people's text passes here before a channel, digest or report

# Characters that look like a hyphen, and characters that show nothing: folded or removed before
# case references are looked for, so "CIN\u201110001" or "CIN-\u200b10001" cannot slip past.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u02d7\u2043"), "-")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u061c"
                                    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u180e"), None)
_RUNS = re.compile(r"[A-Za-z]+|\d+|-+")
_MAX_LETTERS = 12
"""A case reference's letters are short; longer letter runs are tried by their last few letters."""


def normalise(text: str | None) -> str:
    """NFKC, dash-likes folded to "-", zero-width and bidirectional controls removed."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_INVISIBLE)


def _ref_spans(text: str, policy: Policy) -> list[tuple[int, int]]:
    """Spans of ``text`` (already normalised) that are case references, found inside longer tokens
    too ("CIN-10001_notes", "CIN-10001/CIN-10002", "notesCIN-10001"): every run of letters, an
    optional hyphen and digits is tried, with each shorter tail of its letters."""
    spans: list[tuple[int, int]] = []
    runs = [(m.start(), m.end(), m.group(0)) for m in _RUNS.finditer(text)]
    for i, (start, end, value) in enumerate(runs):
        if not value.isdigit():
            continue
        # the digits alone (a council's references may be numbers only)
        candidates = [(start, end)]
        j = i - 1
        if j >= 0 and runs[j][2].startswith("-") and runs[j][1] == start:
            j -= 1
            joined = True
        else:
            joined = False
        if j >= 0 and runs[j][2].isalpha() and (runs[j][1] == start or joined and runs[j][1] == runs[j + 1][0]):
            letters_start, letters_end, letters = runs[j]
            for cut in range(max(0, len(letters) - _MAX_LETTERS), len(letters)):
                candidates.append((letters_start + cut, end))
        for a, b in candidates:
            word = re.sub("-+", "-", text[a:b].upper())
            if policy.case_reference_ok(word) or policy.case_reference_ok(word.replace("-", "")):
                spans.append((a, b))
                break
    return spans


def case_refs_in(text: str | None, policy: Policy) -> list[str]:
    """Case references in free text (which must never reach a channel), however they are disguised."""
    clean = normalise(text)
    return [clean[a:b] for a, b in _ref_spans(clean, policy)]


def redact_case_refs(text: str | None, policy: Policy) -> str:
    """The text, normalised, with every case reference replaced by "[case reference]"."""
    clean = normalise(text)
    if not clean:
        return ""
    out, last = [], 0
    for a, b in sorted(_ref_spans(clean, policy)):
        out += [clean[last:a], "[case reference]"]
        last = b
    out.append(clean[last:])
    return "".join(out)


_PERSON = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{4,}\b")
"""A Slack mention or a bare Slack user id: a worker, who must not be named in a channel."""


def outbound(text: str | None, policy: Policy) -> str:
    """THE outbound gate: what a person typed, made safe for a channel, a digest or a report.
    Normalised, case references and people's Slack ids redacted, and Slack's control characters
    escaped, so that ``<!channel>``, ``<#C…>`` and ``<https://x|click>`` are shown as typed, never
    acted on."""
    return escape(redacted(text, policy))


def redacted(text: str | None, policy: Policy) -> str:
    """The gate's first half, for text kept to be shown both in Slack and in files: normalised, with
    case references and people's Slack ids redacted; ``outbound`` (or a file's own format) escapes it."""
    return _PERSON.sub("[person]", redact_case_refs(text, policy))


def shared_text_problem(text: str | None, field_label: str, policy: Policy,
                        today: date | None = None) -> str | None:
    """What is wrong with text typed into a field that can be shared beyond DMs, for an inline
    error as it is typed: identifying details (``free_text_problem``) or a case reference."""
    if not text:
        return None
    problem = free_text_problem(text, field_label, today)
    if problem:
        return problem
    refs = case_refs_in(text, policy)
    if refs:
        return (f"{field_label} can be shared with a channel or the Board, so it must not name a case: "
                f"remove {refs[0]}.")
    return None


# ---------------------------------------------------------------------------------------------
# exports: people's text opened in a spreadsheet is text, never a formula (OWASP CSV injection)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (or, for tab and CR, hides one behind)."""


def safe_cell(value: Any) -> Any:
    """A CSV cell: text starting like a formula gets a leading single quote, as OWASP advises."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_append(sheet: Any, values: list[Any] | tuple[Any, ...]) -> None:
    """Append a row to an openpyxl sheet with every text cell stored as a string, never a formula.

    openpyxl turns any string starting with "=" into a formula; a cell typed as "s" is written as
    text, so Excel shows what people typed and runs nothing.
    """
    sheet.append(list(values))
    row = sheet.max_row
    for column, value in enumerate(values, start=1):
        if isinstance(value, str):
            sheet.cell(row=row, column=column).data_type = "s"
