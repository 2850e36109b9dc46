"""ARI resource and event models, generated from the swagger files of Asterisk
(ARI 10.0.0) by ``scripts/gen_ari_models.py``. Do not edit by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from voxtra.ari.model_base import AriModel, Event, Message


class AdditionalParam(AriModel):
    """ARI model ``AdditionalParam``."""

    parameter_name: str | None = None
    parameter_value: str | None = None


class Application(AriModel):
    """ARI model ``Application``."""

    bridge_ids: list[str] = Field(default_factory=list)
    channel_ids: list[str] = Field(default_factory=list)
    device_names: list[str] = Field(default_factory=list)
    endpoint_ids: list[str] = Field(default_factory=list)
    events_allowed: list[dict[str, Any]] = Field(default_factory=list)
    events_disallowed: list[dict[str, Any]] = Field(default_factory=list)
    name: str | None = None


class ApplicationMoveFailed(Event):
    """ARI model ``ApplicationMoveFailed``."""

    args: list[str] = Field(default_factory=list)
    channel: Channel
    destination: str | None = None


class ApplicationRegistered(Event):
    """ARI model ``ApplicationRegistered``."""


class ApplicationReplaced(Event):
    """ARI model ``ApplicationReplaced``."""


class ApplicationUnregistered(Event):
    """ARI model ``ApplicationUnregistered``."""


class AsteriskInfo(AriModel):
    """ARI model ``AsteriskInfo``."""

    build: BuildInfo | None = None
    config: ConfigInfo | None = None
    status: StatusInfo | None = None
    system: SystemInfo | None = None


class AsteriskPing(AriModel):
    """ARI model ``AsteriskPing``."""

    asterisk_id: str | None = None
    ping: str | None = None
    timestamp: str | None = None


class Bridge(AriModel):
    """ARI model ``Bridge``."""

    bridge_class: str | None = None
    bridge_type: str | None = None
    bridgevars: dict[str, Any] | None = None
    channels: list[str] = Field(default_factory=list)
    creationtime: datetime | None = None
    creator: str | None = None
    id: str
    name: str | None = None
    technology: str | None = None
    video_mode: str | None = None
    video_source_id: str | None = None


class BridgeAttendedTransfer(Event):
    """ARI model ``BridgeAttendedTransfer``."""

    destination_application: str | None = None
    destination_bridge: str | None = None
    destination_link_first_leg: Channel | None = None
    destination_link_second_leg: Channel | None = None
    destination_threeway_bridge: Bridge | None = None
    destination_threeway_channel: Channel | None = None
    destination_type: str | None = None
    is_external: bool | None = None
    replace_channel: Channel | None = None
    result: str | None = None
    transfer_target: Channel | None = None
    transferee: Channel | None = None
    transferer_first_leg: Channel
    transferer_first_leg_bridge: Bridge | None = None
    transferer_second_leg: Channel
    transferer_second_leg_bridge: Bridge | None = None


class BridgeBlindTransfer(Event):
    """ARI model ``BridgeBlindTransfer``."""

    bridge: Bridge | None = None
    channel: Channel
    context: str | None = None
    exten: str | None = None
    is_external: bool | None = None
    replace_channel: Channel | None = None
    result: str | None = None
    transferee: Channel | None = None


class BridgeCreated(Event):
    """ARI model ``BridgeCreated``."""

    bridge: Bridge


class BridgeDestroyed(Event):
    """ARI model ``BridgeDestroyed``."""

    bridge: Bridge


class BridgeMerged(Event):
    """ARI model ``BridgeMerged``."""

    bridge: Bridge
    bridge_from: Bridge


class BridgeVideoSourceChanged(Event):
    """ARI model ``BridgeVideoSourceChanged``."""

    bridge: Bridge
    old_video_source_id: str | None = None


class BuildInfo(AriModel):
    """ARI model ``BuildInfo``."""

    date: str | None = None
    kernel: str | None = None
    machine: str | None = None
    options: str | None = None
    os: str | None = None
    user: str | None = None


class CallBroadcast(Event):
    """ARI model ``CallBroadcast``."""

    called: str | None = None
    caller: str | None = None
    channel: Channel


class CallClaimed(Event):
    """ARI model ``CallClaimed``."""

    channel: Channel
    winner_app: str | None = None


class CallerID(AriModel):
    """ARI model ``CallerID``."""

    name: str | None = None
    number: str | None = None


class Channel(AriModel):
    """ARI model ``Channel``."""

    accountcode: str | None = None
    caller: CallerID | None = None
    caller_rdnis: str | None = None
    channelvars: dict[str, Any] | None = None
    connected: CallerID | None = None
    creationtime: datetime | None = None
    dialplan: DialplanCEP | None = None
    id: str
    language: str | None = None
    name: str | None = None
    protocol_id: str | None = None
    state: str | None = None
    tenantid: str | None = None


class ChannelCallerId(Event):
    """ARI model ``ChannelCallerId``."""

    caller_presentation: int | None = None
    caller_presentation_txt: str | None = None
    channel: Channel


class ChannelConnectedLine(Event):
    """ARI model ``ChannelConnectedLine``."""

    channel: Channel


class ChannelCreated(Event):
    """ARI model ``ChannelCreated``."""

    channel: Channel


class ChannelDestroyed(Event):
    """ARI model ``ChannelDestroyed``."""

    cause: int | None = None
    cause_txt: str | None = None
    channel: Channel
    tech_cause: int | None = None


class ChannelDialplan(Event):
    """ARI model ``ChannelDialplan``."""

    channel: Channel
    dialplan_app: str | None = None
    dialplan_app_data: str | None = None


class ChannelDtmfReceived(Event):
    """ARI model ``ChannelDtmfReceived``."""

    channel: Channel
    digit: str | None = None
    duration_ms: int | None = None


class ChannelEnteredBridge(Event):
    """ARI model ``ChannelEnteredBridge``."""

    bridge: Bridge
    channel: Channel | None = None


class ChannelHangupRequest(Event):
    """ARI model ``ChannelHangupRequest``."""

    cause: int | None = None
    channel: Channel
    soft: bool | None = None
    tech_cause: int | None = None


class ChannelHold(Event):
    """ARI model ``ChannelHold``."""

    channel: Channel
    musicclass: str | None = None


class ChannelLeftBridge(Event):
    """ARI model ``ChannelLeftBridge``."""

    bridge: Bridge
    channel: Channel


class ChannelStateChange(Event):
    """ARI model ``ChannelStateChange``."""

    channel: Channel


class ChannelTalkingFinished(Event):
    """ARI model ``ChannelTalkingFinished``."""

    channel: Channel
    duration: int | None = None


class ChannelTalkingStarted(Event):
    """ARI model ``ChannelTalkingStarted``."""

    channel: Channel


class ChannelToneDetected(Event):
    """ARI model ``ChannelToneDetected``."""

    channel: Channel


class ChannelTransfer(Event):
    """ARI model ``ChannelTransfer``."""

    refer_to: ReferTo
    referred_by: ReferredBy
    state: str | None = None


class ChannelUnhold(Event):
    """ARI model ``ChannelUnhold``."""

    channel: Channel


class ChannelUserevent(Event):
    """ARI model ``ChannelUserevent``."""

    bridge: Bridge | None = None
    channel: Channel | None = None
    endpoint: Endpoint | None = None
    eventname: str | None = None
    userevent: dict[str, Any] | None = None


class ChannelVarset(Event):
    """ARI model ``ChannelVarset``."""

    channel: Channel | None = None
    value: str | None = None
    variable: str | None = None


class ConfigInfo(AriModel):
    """ARI model ``ConfigInfo``."""

    default_language: str | None = None
    max_channels: int | None = None
    max_load: float | None = None
    max_open_files: int | None = None
    name: str | None = None
    setid: SetId | None = None


class ConfigTuple(AriModel):
    """ARI model ``ConfigTuple``."""

    attribute: str | None = None
    value: str | None = None


class ContactInfo(AriModel):
    """ARI model ``ContactInfo``."""

    aor: str | None = None
    contact_status: str | None = None
    roundtrip_usec: str | None = None
    uri: str | None = None


class ContactStatusChange(Event):
    """ARI model ``ContactStatusChange``."""

    contact_info: ContactInfo
    endpoint: Endpoint


class DeviceState(AriModel):
    """ARI model ``DeviceState``."""

    name: str | None = None
    state: str | None = None


class DeviceStateChanged(Event):
    """ARI model ``DeviceStateChanged``."""

    device_state: DeviceState


class Dial(Event):
    """ARI model ``Dial``."""

    caller: Channel | None = None
    dialstatus: str | None = None
    dialstring: str | None = None
    forward: str | None = None
    forwarded: Channel | None = None
    peer: Channel


class Dialed(AriModel):
    """ARI model ``Dialed``."""


class DialplanCEP(AriModel):
    """ARI model ``DialplanCEP``."""

    app_data: str | None = None
    app_name: str | None = None
    context: str | None = None
    exten: str | None = None
    priority: int | None = None


class Endpoint(AriModel):
    """ARI model ``Endpoint``."""

    channel_ids: list[str] = Field(default_factory=list)
    resource: str | None = None
    state: str | None = None
    technology: str | None = None


class EndpointStateChange(Event):
    """ARI model ``EndpointStateChange``."""

    endpoint: Endpoint


class FormatLangPair(AriModel):
    """ARI model ``FormatLangPair``."""

    format: str | None = None
    language: str | None = None


class LiveRecording(AriModel):
    """ARI model ``LiveRecording``."""

    cause: str | None = None
    duration: int | None = None
    format: str | None = None
    name: str | None = None
    silence_duration: int | None = None
    state: str | None = None
    talking_duration: int | None = None
    target_uri: str | None = None


class LogChannel(AriModel):
    """ARI model ``LogChannel``."""

    channel: str | None = None
    configuration: str | None = None
    status: str | None = None
    type: str | None = None


class Mailbox(AriModel):
    """ARI model ``Mailbox``."""

    name: str | None = None
    new_messages: int | None = None
    old_messages: int | None = None


class MissingParams(Message):
    """ARI model ``MissingParams``."""

    params: list[str] = Field(default_factory=list)


class Module(AriModel):
    """ARI model ``Module``."""

    description: str | None = None
    name: str | None = None
    status: str | None = None
    support_level: str | None = None
    use_count: int | None = None


class Peer(AriModel):
    """ARI model ``Peer``."""

    address: str | None = None
    cause: str | None = None
    peer_status: str | None = None
    port: str | None = None
    time: str | None = None


class PeerStatusChange(Event):
    """ARI model ``PeerStatusChange``."""

    endpoint: Endpoint
    peer: Peer


class Playback(AriModel):
    """ARI model ``Playback``."""

    id: str
    language: str | None = None
    media_uri: str | None = None
    next_media_uri: str | None = None
    state: str | None = None
    target_uri: str | None = None


class PlaybackContinuing(Event):
    """ARI model ``PlaybackContinuing``."""

    playback: Playback


class PlaybackFinished(Event):
    """ARI model ``PlaybackFinished``."""

    playback: Playback


class PlaybackStarted(Event):
    """ARI model ``PlaybackStarted``."""

    playback: Playback


class RESTHeader(AriModel):
    """ARI model ``RESTHeader``."""

    name: str | None = None
    value: str | None = None


class RESTQueryStringParameter(AriModel):
    """ARI model ``RESTQueryStringParameter``."""

    name: str | None = None
    value: str | None = None


class RESTRequest(AriModel):
    """ARI model ``RESTRequest``."""

    content_type: str | None = None
    message_body: str | None = None
    method: str | None = None
    query_strings: list[RESTQueryStringParameter] = Field(default_factory=list)
    request_id: str | None = None
    transaction_id: str | None = None
    type: str | None = None
    uri: str | None = None


class RESTResponse(Event):
    """ARI model ``RESTResponse``."""

    content_type: str | None = None
    message_body: str | None = None
    reason_phrase: str | None = None
    request_id: str | None = None
    status_code: int | None = None
    transaction_id: str | None = None
    uri: str | None = None


class RTPstat(AriModel):
    """ARI model ``RTPstat``."""

    channel_uniqueid: str | None = None
    local_maxjitter: float | None = None
    local_maxrxploss: float | None = None
    local_minjitter: float | None = None
    local_minrxploss: float | None = None
    local_normdevjitter: float | None = None
    local_normdevrxploss: float | None = None
    local_ssrc: int | None = None
    local_stdevjitter: float | None = None
    local_stdevrxploss: float | None = None
    maxrtt: float | None = None
    minrtt: float | None = None
    normdevrtt: float | None = None
    remote_maxjitter: float | None = None
    remote_maxrxploss: float | None = None
    remote_minjitter: float | None = None
    remote_minrxploss: float | None = None
    remote_normdevjitter: float | None = None
    remote_normdevrxploss: float | None = None
    remote_ssrc: int | None = None
    remote_stdevjitter: float | None = None
    remote_stdevrxploss: float | None = None
    rtt: float | None = None
    rxcount: int | None = None
    rxjitter: float | None = None
    rxoctetcount: int | None = None
    rxploss: int | None = None
    stdevrtt: float | None = None
    txcount: int | None = None
    txjitter: float | None = None
    txoctetcount: int | None = None
    txploss: int | None = None


class RecordingFailed(Event):
    """ARI model ``RecordingFailed``."""

    recording: LiveRecording


class RecordingFinished(Event):
    """ARI model ``RecordingFinished``."""

    recording: LiveRecording


class RecordingStarted(Event):
    """ARI model ``RecordingStarted``."""

    recording: LiveRecording


class ReferTo(AriModel):
    """ARI model ``ReferTo``."""

    bridge: Bridge | None = None
    connected_channel: Channel | None = None
    destination_channel: Channel | None = None
    requested_destination: RequiredDestination | None = None


class ReferredBy(AriModel):
    """ARI model ``ReferredBy``."""

    bridge: Bridge | None = None
    connected_channel: Channel | None = None
    source_channel: Channel | None = None


class RequiredDestination(AriModel):
    """ARI model ``RequiredDestination``."""

    additional_protocol_params: list[AdditionalParam] = Field(default_factory=list)
    destination: str | None = None
    protocol_id: str | None = None


class SetId(AriModel):
    """ARI model ``SetId``."""

    group: str | None = None
    user: str | None = None


class Sound(AriModel):
    """ARI model ``Sound``."""

    formats: list[FormatLangPair] = Field(default_factory=list)
    id: str
    text: str | None = None


class StasisEnd(Event):
    """ARI model ``StasisEnd``."""

    channel: Channel


class StasisStart(Event):
    """ARI model ``StasisStart``."""

    args: list[str] = Field(default_factory=list)
    channel: Channel
    replace_channel: Channel | None = None


class StatusInfo(AriModel):
    """ARI model ``StatusInfo``."""

    last_reload_time: datetime | None = None
    startup_time: datetime | None = None


class StoredRecording(AriModel):
    """ARI model ``StoredRecording``."""

    format: str | None = None
    name: str | None = None


class SystemInfo(AriModel):
    """ARI model ``SystemInfo``."""

    entity_id: str | None = None
    version: str | None = None


class TextMessage(AriModel):
    """ARI model ``TextMessage``."""

    body: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    variables: dict[str, Any] | None = None


class TextMessageReceived(Event):
    """ARI model ``TextMessageReceived``."""

    endpoint: Endpoint | None = None
    message: TextMessage


class Variable(AriModel):
    """ARI model ``Variable``."""

    value: str | None = None


class Variables(AriModel):
    """ARI model ``Variables``."""

    variables: dict[str, Any] | None = None


EVENT_TYPES: dict[str, type[Message]] = {
    "ApplicationMoveFailed": ApplicationMoveFailed,
    "ApplicationRegistered": ApplicationRegistered,
    "ApplicationReplaced": ApplicationReplaced,
    "ApplicationUnregistered": ApplicationUnregistered,
    "BridgeAttendedTransfer": BridgeAttendedTransfer,
    "BridgeBlindTransfer": BridgeBlindTransfer,
    "BridgeCreated": BridgeCreated,
    "BridgeDestroyed": BridgeDestroyed,
    "BridgeMerged": BridgeMerged,
    "BridgeVideoSourceChanged": BridgeVideoSourceChanged,
    "CallBroadcast": CallBroadcast,
    "CallClaimed": CallClaimed,
    "ChannelCallerId": ChannelCallerId,
    "ChannelConnectedLine": ChannelConnectedLine,
    "ChannelCreated": ChannelCreated,
    "ChannelDestroyed": ChannelDestroyed,
    "ChannelDialplan": ChannelDialplan,
    "ChannelDtmfReceived": ChannelDtmfReceived,
    "ChannelEnteredBridge": ChannelEnteredBridge,
    "ChannelHangupRequest": ChannelHangupRequest,
    "ChannelHold": ChannelHold,
    "ChannelLeftBridge": ChannelLeftBridge,
    "ChannelStateChange": ChannelStateChange,
    "ChannelTalkingFinished": ChannelTalkingFinished,
    "ChannelTalkingStarted": ChannelTalkingStarted,
    "ChannelToneDetected": ChannelToneDetected,
    "ChannelTransfer": ChannelTransfer,
    "ChannelUnhold": ChannelUnhold,
    "ChannelUserevent": ChannelUserevent,
    "ChannelVarset": ChannelVarset,
    "ContactStatusChange": ContactStatusChange,
    "DeviceStateChanged": DeviceStateChanged,
    "Dial": Dial,
    "EndpointStateChange": EndpointStateChange,
    "MissingParams": MissingParams,
    "PeerStatusChange": PeerStatusChange,
    "PlaybackContinuing": PlaybackContinuing,
    "PlaybackFinished": PlaybackFinished,
    "PlaybackStarted": PlaybackStarted,
    "RESTResponse": RESTResponse,
    "RecordingFailed": RecordingFailed,
    "RecordingFinished": RecordingFinished,
    "RecordingStarted": RecordingStarted,
    "StasisEnd": StasisEnd,
    "StasisStart": StasisStart,
    "TextMessageReceived": TextMessageReceived,
}
