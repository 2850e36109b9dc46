"""The people a campaign calls: a number, the variables its handler gets, a time zone."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxtra.outbound.errors import CampaignError

#: Characters people write inside phone numbers that dialling ignores.
_SEPARATORS = re.compile(r"[\s().\-/]")


def normalise(number: str) -> str:
    """``number`` as dialled: spaces, dots, dashes, slashes and brackets dropped
    ("+1 (555) 010-0199" is "+15550100199"), so lists written by hand compare."""
    return _SEPARATORS.sub("", number)


@dataclass(frozen=True)
class Contact:
    """One number to call. ``variables`` reach the handler as ``call.metadata``;
    ``timezone`` (an IANA name) places the contact's calling window, the campaign's
    own time zone when None."""

    number: str
    variables: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None

    def __post_init__(self) -> None:
        number = normalise(self.number)
        if not number:
            raise CampaignError(f"contact {self.number!r}: no number")
        object.__setattr__(self, "number", number)
        if self.timezone:
            zone(self.timezone)

    @classmethod
    def from_csv(cls, path: str | Path, *, number: str = "number",
                 timezone: str = "timezone") -> list[Contact]:
        """Contacts from a CSV file with a header row: the ``number`` column (required),
        the ``timezone`` column (optional), every other column a variable."""
        source = Path(path)
        try:
            with source.open(newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise CampaignError(f"cannot read contacts from {source}: {exc}") from exc
        if rows and number not in rows[0]:
            raise CampaignError(f"{source}: no {number!r} column (columns: "
                                f"{', '.join(rows[0])})")
        contacts = []
        for line, row in enumerate(rows, start=2):
            variables = {k: v for k, v in row.items()
                         if k not in (number, timezone) and k is not None}
            try:
                contacts.append(cls(row[number] or "", variables, row.get(timezone) or None))
            except CampaignError as exc:
                raise CampaignError(f"{source}, line {line}: {exc}") from None
        return contacts


def contacts_of(items: Iterable[Contact | str]) -> list[Contact]:
    """Contacts from contacts or bare numbers."""
    return [item if isinstance(item, Contact) else Contact(item) for item in items]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``, or a :class:`CampaignError` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignError(f"unknown time zone {name!r}") from exc
