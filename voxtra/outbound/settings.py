"""A campaign's settings, declared once."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from voxtra.outbound.contacts import zone
from voxtra.outbound.detection import DetectionSettings
from voxtra.outbound.errors import CampaignError
from voxtra.outbound.rules import CallingWindow, RetryPolicy


class CampaignSettings(BaseModel):
    """How a campaign dials. Durations in seconds."""

    model_config = ConfigDict(extra="forbid")

    #: The dial string, with ``{number}`` and any contact variable in braces:
    #: ``PJSIP/{number}@trunk``, ``PJSIP/trunk/sip:{number}@carrier.example``.
    dial: str
    #: The caller id the called party sees (``"Sales <+15550100>"``).
    caller_id: str | None = None
    #: Dials under way at once, and dial starts per second.
    max_concurrent: int = Field(default=10, ge=1)
    calls_per_second: float = Field(default=1.0, gt=0)
    #: How long a dial rings before it counts as no answer.
    ring_timeout: int = Field(default=30, ge=1)
    retry: RetryPolicy = RetryPolicy()
    #: When contacts may be called, in their own time zone.
    window: CallingWindow = CallingWindow()
    #: The time zone of contacts that name none (an IANA name).
    timezone: str = "UTC"
    #: No dial starts after this moment (a time zone-aware datetime).
    deadline: datetime | None = None
    #: How long a worker's claim on a contact holds without being renewed; a dead
    #: worker's dials go back to the others this long after its last renewal.
    lease: float = Field(default=60.0, gt=0)
    #: Tell answering machines from people before the handler runs
    #: (:mod:`voxtra.outbound.detection`): on the call's own audio (``audio``, any
    #: Asterisk), or by Asterisk's ``AMD()`` (``asterisk``, its dialplan's
    #: ``voxtra-amd`` context). The handler finds ``call.metadata["answerer"]`` (human,
    #: machine, unsure) and ``["detection"]``; a machine's dial ends as ``machine``
    #: (retried by ``retry.machine``).
    machine_detection: Literal["none", "audio", "asterisk"] = "none"
    #: For a campaign that connects answered calls to agents or a queue: a call answered
    #: by a person whom the handler has not marked connected (:meth:`Campaign.connected`)
    #: this many seconds after the answer is abandoned, and hears ``identification``
    #: (the US rule, 47 CFR 64.1200(a)(7), is 2 s). None: no guard.
    abandon_after: float | None = Field(default=None, gt=0)
    #: What an abandoned call hears (who called, and a number to call back): a media URI
    #: for ``play_file``.
    identification: str | None = None
    #: The abandon rate (abandoned / answered by people, the whole campaign) to keep
    #: under: from 80 % of it on, dial starts are spaced twice as far apart.
    max_abandon_rate: float = Field(default=0.03, gt=0, le=1)
    detection: DetectionSettings = DetectionSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            zone(name)
        except CampaignError as exc:
            raise ValueError(str(exc)) from None
        return name

    @field_validator("deadline")
    @classmethod
    def _aware(cls, deadline: datetime | None) -> datetime | None:
        if deadline is not None and deadline.tzinfo is None:
            raise ValueError("deadline: give a time zone (datetime(..., tzinfo=UTC))")
        return deadline
