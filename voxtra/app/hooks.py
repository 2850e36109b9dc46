"""The app's calls as webhook events (:mod:`voxtra.webhooks`): started, answered, each
DTMF key, each final transcript, each recording stored by its sink, ended."""

from __future__ import annotations

from collections.abc import Callable

from voxtra.ari.model_base import Message
from voxtra.ari.models import ChannelDtmfReceived, ChannelStateChange
from voxtra.call.session import CallSession
from voxtra.voice.events import UserTranscriptEvent
from voxtra.webhooks import WebhookSender


class CallWebhooks:
    def __init__(self, sender: WebhookSender, tracked: Callable[[str], bool]) -> None:
        """``tracked(channel_id)``: whether the channel is a call of the app."""
        self.sender = sender
        self.tracked = tracked

    def call_started(self, call: CallSession) -> None:
        self.sender.send("call.started", call.id, {
            "caller_id": call.caller_id, "called_number": call.called_number,
            "direction": str(call.direction)})

        def transcript(event: UserTranscriptEvent) -> None:
            if event.final and not event.backchannel and event.text.strip():
                self.sender.send("call.transcript", call.id, {"text": event.text})

        call.on("transcript", transcript)

    def event(self, event: Message) -> None:
        channel_id = event.channel_id
        if channel_id is None or not self.tracked(channel_id):
            return
        if isinstance(event, ChannelStateChange) and event.channel.state == "Up":
            self.sender.send("call.answered", channel_id, {})
        elif isinstance(event, ChannelDtmfReceived) and event.digit:
            self.sender.send("call.dtmf", channel_id, {"digit": event.digit})

    def call_ended(self, call: CallSession) -> None:
        for metadata in call.recordings.values():
            self.sender.send("call.recording", call.id, {
                "name": metadata.name, "format": metadata.format,
                "location": metadata.location, "duration": metadata.duration})
        self.sender.send("call.ended", call.id, {
            "state": str(call.state), "duration": round(call.duration, 3),
            "cause": call.hangup_cause})
