"""Outbound campaigns: :class:`Campaign` calls a contact list through the app, paced,
retried, within calling hours, never a do-not-call number, resumable after a crash."""

from voxtra.outbound.campaign import Campaign
from voxtra.outbound.contacts import Contact
from voxtra.outbound.errors import CampaignError
from voxtra.outbound.rules import DO_NOT_CALL, INTERRUPTED, CallingWindow, Retry, RetryPolicy
from voxtra.outbound.settings import CampaignSettings
from voxtra.outbound.sqlite import SqliteStore
from voxtra.outbound.store import CampaignStore, Claim, ContactRecord

__all__ = ["DO_NOT_CALL", "INTERRUPTED", "CallingWindow", "Campaign", "CampaignError",
           "CampaignSettings", "CampaignStore", "Claim", "Contact", "ContactRecord", "Retry",
           "RetryPolicy", "SqliteStore"]
