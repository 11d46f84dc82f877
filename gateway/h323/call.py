"""One H.323 call's signalling, sans-IO: H.225.0 (Q.931) and H.245, callee and caller.

Bytes and ``now`` in (``receive`` for each Q.931 payload of the call signalling
connection, ``receive_h245`` for each payload of a separate H.245 connection), frozen
actions out (``actions()``), the next timer out (``next_timer``/``handle_timer``). The
asyncio shell (``gateway/h323/gateway.py``) frames TPKT, owns sockets and RTP ports,
asks the MCU to admit the call and runs the media this core plans.

Media: Fast Connect (H.323 8.1.7) when the Setup proposes it and a codec fits both
ways, else H.245's own procedure (capability exchange, master/slave determination,
logical channels opened each way), tunnelled in H.225.0 messages or on a separate
connection. Audio and video are each one session (H.245 session 1 and 2) with one codec
both ways (the media session runs one format per stream): G.711 µ-law or A-law, or
G.722, in the order of ``audio_codecs``; H.264, H.263 or H.261 in the order of the
``VideoPolicy``, sized by the peer's capability like an SDP answer.

Bad input never raises out of here: PER that does not decode gets a ReleaseComplete
with cause 95 (or is dropped, for H.245, with functionNotUnderstood where H.245 allows
it); a Q.931 message the call state does not allow gets a Status with cause 101.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from gateway.h323 import h225, h245, q931, video
from gateway.h323.q931 import IE, Cause, MessageType
from gateway.leg import RefuseCause
from gateway.media import VideoSendFormat
from gateway.sdp.video import VideoFormat, VideoPolicy

Address = tuple[str, int]
SETUP_TIMEOUT_S = 10.0  # a connection that sends no Setup
MEDIA_TIMEOUT_S = 15.0  # connected, but no media channel agreed (H.245 never came)
ANSWER_TIMEOUT_S = 30.0  # we called: no Connect

# Why a call is refused, as the Q.931 cause of the ReleaseComplete.
REFUSALS: dict[RefuseCause, Cause] = {
    RefuseCause.NOT_FOUND: Cause.UNALLOCATED_NUMBER,
    RefuseCause.BUSY: Cause.USER_BUSY,
    RefuseCause.FULL: Cause.NO_CIRCUIT_AVAILABLE,
    RefuseCause.CLOSED_NOW: Cause.CALL_REJECTED,
    RefuseCause.NEEDS_ENCRYPTION: Cause.BEARER_CAPABILITY_NOT_AUTHORIZED,
    RefuseCause.NO_COMMON_MEDIA: Cause.INCOMPATIBLE_DESTINATION,
    RefuseCause.BAD_REQUEST: Cause.INVALID_MESSAGE,
}


# -- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendQ931:
    data: bytes  # one Q.931 message (the shell adds TPKT)


@dataclass(frozen=True, slots=True)
class SendH245:
    data: bytes  # one H.245 message for the separate H.245 connection


@dataclass(frozen=True, slots=True)
class Incoming:
    """A Setup to answer: the shell asks the MCU and calls ``accept`` or ``refuse``."""

    dialled: str  # the alias or number that picks the conference ("" when none)
    display_name: str
    caller: str  # the caller's aliases, for the call record
    separate_h245: bool  # no tunnelling: ``accept`` needs an H.245 address


@dataclass(frozen=True, slots=True)
class ConnectH245:
    """Open the separate H.245 connection to the peer's address."""

    address: Address


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream agreed so far."""

    codec: str  # SDP name
    payload_type: int  # what both sides put in their packets
    send_to: Address | None  # the peer's RTP (None: not known yet, do not send)
    send_rtcp_to: Address | None
    receiving: bool  # the peer sends to our port
    video: VideoSendFormat | None = None  # what we encode for the peer (video only)


@dataclass(frozen=True, slots=True)
class Media:
    """The streams agreed so far: the shell starts or updates the media session."""

    audio: Stream | None
    video: Stream | None


@dataclass(frozen=True, slots=True)
class Answered:
    """The call is up (we sent or received Connect)."""


@dataclass(frozen=True, slots=True)
class Key:
    digit: str  # userInputIndication, or a Q.931 keypad element


@dataclass(frozen=True, slots=True)
class KeyFrameAsked:
    """videoFastUpdatePicture from the peer."""


@dataclass(frozen=True, slots=True)
class Ended:
    reason: str  # for logs and the call record
    by_remote: bool
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the call signalling (and any H.245) connection."""


Action = (SendQ931 | SendH245 | Incoming | ConnectH245 | Media | Answered | Key
          | KeyFrameAsked | Ended | Close)


@dataclass(frozen=True, slots=True)
class Local:
    """Our media addresses for the call: RTP ports (RTCP on the next) on ``ip``."""

    ip: str
    audio_port: int
    video_port: int | None = None  # None: no video (no ports left, or turned off)

    def rtp(self, kind: str) -> Address:
        port = self.audio_port if kind == "audio" else self.video_port
        assert port is not None
        return (self.ip, port)

    def rtcp(self, kind: str) -> Address:
        host, port = self.rtp(kind)
        return (host, port + 1)

    def has(self, kind: str) -> bool:
        return kind == "audio" or self.video_port is not None


def bitrate_for(width: int, height: int, frame_rate: float) -> int:
    """A bit rate that carries ``width`` x ``height`` at ``frame_rate`` well in H.264
    or H.263 (0.1 bit a pixel: 720p30 at 2.8 Mbit/s, 426x240 at 300 kbit/s), at least
    64 kbit/s."""
    return max(64_000, int(width * height * frame_rate * BITS_PER_PIXEL))


BITS_PER_PIXEL = 0.1

SESSIONS = {"audio": 1, "video": 2}
OUR_CHANNELS = {"audio": 1, "video": 2}  # the numbers of the channels we open


@dataclass(slots=True)
class _Kind:
    """One stream's H.245 state: the peer's channel to us and ours to it."""

    name: str  # "audio" or "video"
    codec: str | None = None
    payload_type: int | None = None
    their_channel: int | None = None
    receiving: bool = False
    our_channel: int | None = None
    send_to: Address | None = None
    send_rtcp_to: Address | None = None
    send_format: VideoSendFormat | None = None
    peer_bitrate: int | None = None  # what the peer's capability allows, before any cap
    peer_formats: list[VideoFormat] = field(default_factory=list)  # video: what it takes

    def stream(self) -> Stream | None:
        if self.codec is None or self.payload_type is None:
            return None
        return Stream(self.codec, self.payload_type, self.send_to, self.send_rtcp_to,
                      self.receiving, self.send_format)


class H323Call:
    """The signalling of one call; ``caller`` False for a call we answer."""

    def __init__(self, now: float, *, audio_codecs: Sequence[str] = ("PCMU", "PCMA", "G722"),
                 video_policy: VideoPolicy | None = None, mtu: int = 1200,
                 setup_timeout_s: float = SETUP_TIMEOUT_S,
                 media_timeout_s: float = MEDIA_TIMEOUT_S,
                 caller: bool = False, random: bytes | None = None) -> None:
        self.audio_codecs = [c for c in audio_codecs if c in h245.AUDIO_CAPABILITIES]
        self.video_policy = video_policy
        self.video_codecs = [c for c in (video_policy.preferences if video_policy else ())
                             if c in ("H264", "H263", "H261")]
        self.mtu = mtu
        self.media_timeout_s = media_timeout_s
        self.caller = caller
        self.state = "idle"  # idle, admitting, calling, connected, released
        self.reason = ""
        self._actions: list[Action] = []
        self._seed = random or os.urandom(20)
        self.call_id = self._seed[:16]
        self.conference_id = self.call_id
        self._reference = int.from_bytes(self._seed[16:18], "big") & 0x7FFF or 1
        self._deadline: float | None = now + (ANSWER_TIMEOUT_S if caller else setup_timeout_s)
        self.tunnelling = True
        self._h245_out: list[bytes] = []
        self._h245_separate = False
        self._h245_open = False  # separate connection up (or tunnelling in use)
        self._peer_h245: Address | None = None  # the caller's H.245 address (no tunnelling)
        self._local: Local | None = None
        self._proposals: list[h245.Channel] = []
        # H.245 procedure state
        self._tcs_sent = False
        self._their_codecs: list[str] | None = None  # audio; None until their TCS
        self._msd_number = int.from_bytes(self._seed[18:20], "big") << 8
        self._msd_confirmed = False
        self._fast_answered = False
        self._answerable = caller  # a call reference both sides know (a Setup went)
        self.kinds = {name: _Kind(name) for name in ("audio", "video")}
        self._media_said: Media | None = None
        self.keys_seen = 0
        self.video_cap_asked: int | None = None  # our flowControlCommand's, None: none

    @property
    def codec(self) -> str | None:
        return self.kinds["audio"].codec

    # -- the shell's calls ---------------------------------------------------------------

    def actions(self) -> list[Action]:
        self._flush_h245()
        out, self._actions = self._actions, []
        return out

    def next_timer(self) -> float | None:
        return self._deadline if self.state != "released" else None

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline or self.state == "released":
            return
        if self.state == "idle" and not self.caller:
            self._release(None, "no Setup", by_remote=True, send=False)
        elif self.state == "calling":
            self._release(Cause.NO_USER_RESPONDING, "no answer", by_remote=False)
        elif self.state == "connected":
            self._release(Cause.RECOVERY_ON_TIMER_EXPIRY, "no media channel agreed",
                          by_remote=False)
        else:
            self._deadline = None

    def receive(self, payload: bytes, now: float) -> None:
        """One Q.931 message from the call signalling connection."""
        if self.state == "released":
            return
        try:
            message = q931.decode(payload)
        except q931.Q931Error as error:
            self._release(None, f"bad Q.931: {error}", by_remote=True, send=False)
            return
        if self.state == "idle" and not self.caller:
            if message.type != MessageType.SETUP:
                self._release(None, f"Q.931 message 0x{message.type:02x} before Setup",
                              by_remote=True, send=False)
                return
            self._reference = message.call_reference
            self._answerable = True  # a call reference to release, however bad the rest
            self._on_setup(message, now)
            return
        if message.call_reference != self._reference:
            self._status(Cause.INVALID_MESSAGE, message)  # another call on this link
            return
        self._on_message(message, now)

    def receive_h245(self, payload: bytes, now: float) -> None:
        """One H.245 message from the separate H.245 connection."""
        if self.state != "released":
            self._on_h245(payload, now)

    def h245_connected(self, now: float) -> None:
        """The separate H.245 connection is up (we connected, or the peer did)."""
        if self.state == "released" or self._h245_open:
            return
        self._h245_open = True
        self._start_h245()

    def h245_lost(self, now: float) -> None:
        """The separate H.245 connection closed: H.245 ending ends the call."""
        if self.state == "connected" and self._h245_separate:
            self._release(Cause.NORMAL_CLEARING, "H.245 connection closed", by_remote=True)

    def accept(self, local: Local, now: float, *, h245_address: Address | None = None) -> None:
        """Answer the Setup: CallProceeding, then Connect (with Fast Connect when a codec
        fits); ``h245_address`` is where we listen for a separate H.245 connection."""
        if self.state != "admitting":
            return
        self._local = local
        self._send_q931(MessageType.CALL_PROCEEDING, h225.call_proceeding(self.call_id))
        fast = self._answer_fast_start(local)
        self.state = "connected"
        self._deadline = now + self.media_timeout_s if fast is None else None
        if not self.tunnelling and self._peer_h245 is not None:
            self._h245_separate = True
            self._actions.append(ConnectH245(self._peer_h245))
            h245_address = None
        elif not self.tunnelling and h245_address is not None:
            self._h245_separate = True
        self._send_q931(MessageType.CONNECT, h225.connect(
            self.call_id, self.conference_id, fast_start=fast or (),
            h245_address=h245_address if self._h245_separate else None),
            with_h245=self.tunnelling)
        self._actions.append(Answered())
        if fast is not None:
            self._say_media()
        if self.tunnelling:
            self._h245_open = True
            self._start_h245()
        self._open_ours()  # the peer's capabilities may have come with its Setup

    def setup(self, local: Local, now: float, *, destination: str, signal_address: Address,
              source_name: str = "MCU", source_number: str = "") -> None:
        """Call out (``caller=True``): a Setup with tunnelling and Fast Connect proposals,
        an audio channel each way in each of our codecs (and video when we have ports)."""
        if not self.caller or self.state != "idle":
            return
        self._local = local
        self.state = "calling"
        self._deadline = now + ANSWER_TIMEOUT_S
        proposals: list[bytes] = []
        number = 100
        for name, data_types in (("audio", [h245.audio_data_type(c) for c in self.audio_codecs]),
                                 ("video", self._our_video_types())):
            if not local.has(name):
                continue
            for data_type in data_types:
                for reverse in (True, False):
                    number += 1
                    olc = h245.channel_olc(number, data_type, SESSIONS[name],
                                           local.rtcp(name),
                                           local.rtp(name) if reverse else None,
                                           reverse=reverse,
                                           payload_type=video.H264_PAYLOAD_TYPE
                                           if name == "video" else None)
                    proposals.append(h245.encode_olc(olc))
        ies = {IE.BEARER_CAPABILITY: q931.BEARER_CAPABILITY,
               IE.DISPLAY: q931.display_ie(source_name)}
        if destination and all(c in "0123456789*#" for c in destination):
            ies[IE.CALLED_PARTY_NUMBER] = q931.number_ie(destination)
        self._send_q931(MessageType.SETUP, h225.setup(
            self.call_id, self.conference_id, destination=destination,
            source_name=source_name, source_number=source_number,
            signal_address=signal_address, fast_start=proposals), ies=ies)

    def _our_video_types(self) -> list[object]:
        if self.video_policy is None:
            return []
        policy = self.video_policy
        out = []
        for codec in self.video_codecs:
            size = {"H264": policy.max_size}.get(codec, (352, 288))
            fmt = VideoSendFormat(codec, video.STATIC_TYPES.get(codec, video.H264_PAYLOAD_TYPE),
                                  size[0], size[1], policy.max_fps, policy.max_bitrate_bps)
            out.append(video.data_type(fmt))
        return out

    def refuse(self, cause: RefuseCause, reason: str) -> None:
        if self.state != "admitting":
            return
        self._release(REFUSALS.get(cause, Cause.CALL_REJECTED), reason, by_remote=False)

    def hang_up(self, reason: str, cause: int = Cause.NORMAL_CLEARING) -> None:
        if self.state == "released":
            return
        if self._h245_open and self.state == "connected":
            self._queue_h245(h245.end_session())
        self._release(cause, reason, by_remote=False)

    def connection_lost(self) -> None:
        if self.state != "released":
            self._release(None, "connection lost", by_remote=True, send=False)

    def request_keyframe(self) -> bool:
        """videoFastUpdatePicture on the peer's video channel (False: none open)."""
        channel = self.kinds["video"].their_channel
        if channel is None or self.state != "connected" or not self._h245_open:
            return False
        self._queue_h245(h245.video_fast_update(channel))
        return True

    def request_video_size(self, width: int, height: int, frame_rate: float) -> bool:
        """Ask the peer to send less video (issue 14). H.245 has no way to ask for a
        picture size on an open channel: its format was fixed when it opened. It can
        cap the channel's bit rate (flowControlCommand), which the sender meets with
        smaller or coarser pictures: the rate a ``width`` x ``height`` picture needs
        (``bitrate_for``), or no restriction once that reaches the most we take on
        video anyway (the video policy's ``max_bitrate_bps``). False: no video channel
        from the peer is open."""
        kind = self.kinds["video"]
        channel = kind.their_channel
        if channel is None or self.state != "connected" or not self._h245_open:
            return False
        ceiling = (self.video_policy.max_bitrate_bps if self.video_policy is not None
                   else None)
        wanted = bitrate_for(width, height, frame_rate)
        capped = None if ceiling is None or wanted >= ceiling else wanted
        if capped != self.video_cap_asked:
            self.video_cap_asked = capped
            self._queue_h245(h245.flow_control(channel, capped))
        return True

    # -- Setup and Fast Connect --------------------------------------------------------------

    def _on_setup(self, message: q931.Message, now: float) -> None:
        uu = message.user_user
        if uu is None:
            self._release(Cause.MANDATORY_IE_MISSING, "Setup without user-user information",
                          by_remote=True)
            return
        try:
            pdu = h225.decode(uu)
        except h225.H225Error as error:
            self._release(Cause.INVALID_MESSAGE, str(error), by_remote=True)
            return
        if pdu.body != "setup":
            self._release(Cause.INVALID_MESSAGE, f"Setup carrying {pdu.body}", by_remote=True)
            return
        self.call_id = pdu.call_identifier or self.call_id
        conference = pdu.fields.get("conferenceID")
        if isinstance(conference, bytes) and len(conference) == 16:
            self.conference_id = conference
        self.tunnelling = pdu.tunnelling
        self._proposals = []
        for element in pdu.fast_start:
            try:
                channel = h245.channel_of(h245.decode_olc(element))
            except h245.H245Error:
                continue
            if channel is not None:
                self._proposals.append(channel)
        self.state = "admitting"
        self._deadline = None
        aliases = pdu.destination_aliases
        dialled = message.called_number or (aliases[0] if aliases else "")
        caller = ", ".join(pdu.source_aliases) or message.calling_number
        self._actions.append(Incoming(dialled, message.display or caller, caller,
                                      separate_h245=not self.tunnelling))
        self._tunnelled_h245(pdu, now)
        if not self.tunnelling and pdu.h245_address is not None:
            self._peer_h245 = pdu.h245_address  # we connect to it once we answer

    def _answer_fast_start(self, local: Local) -> list[bytes] | None:
        """The accepted proposals: for audio (and video when we have its ports), a
        channel each way in the first codec of ours the caller proposed both ways;
        None when audio has none (Fast Connect refused: H.245 then opens the channels)."""
        answers: list[dict[str, object]] = []
        for name, codecs in (("audio", self.audio_codecs), ("video", self.video_codecs)):
            if not local.has(name):
                continue
            for codec in codecs:
                sends = [c for c in self._proposals if c.forward and c.kind == name
                         and c.codec == codec]
                takes = [c for c in self._proposals if not c.forward and c.kind == name
                         and c.codec == codec and c.media is not None]
                if sends and takes:
                    answers += self._accept_pair(self.kinds[name], sends[0], takes[0], local)
                    break
            else:
                if name == "audio":
                    return None
        return [h245.encode_olc(olc) for olc in answers]

    def _accept_pair(self, kind: _Kind, sends: h245.Channel, takes: h245.Channel,
                     local: Local) -> list[dict[str, object]]:
        kind.codec = sends.codec
        kind.their_channel, kind.receiving = sends.number, True
        kind.our_channel = OUR_CHANNELS[kind.name]
        kind.send_to = takes.media
        kind.send_rtcp_to = takes.media_control or _next_port(takes.media)
        if kind.name == "video":
            fmt = video.format_of(takes.data_type[1], takes.payload_type)
            if fmt is None or self.video_policy is None:
                return []
            kind.send_format = video.send_format(fmt, self.video_policy, self.mtu)
            kind.peer_bitrate = kind.send_format.bitrate_bps
            kind.payload_type = kind.send_format.payload_type
        else:
            kind.payload_type = h245.AUDIO_PAYLOAD_TYPES[kind.codec or ""]
        rtp, rtcp = local.rtp(kind.name), local.rtcp(kind.name)
        return [h245.fast_start_answer(sends, number=sends.number, media=rtp, media_control=rtcp),
                h245.fast_start_answer(takes, number=kind.our_channel, media=rtp,
                                       media_control=rtcp)]

    # -- Q.931 after Setup ---------------------------------------------------------------------

    def _on_message(self, message: q931.Message, now: float) -> None:
        kind = message.type
        pdu = None
        uu = message.user_user
        if uu is not None:
            try:
                pdu = h225.decode(uu)
            except h225.H225Error as error:
                self._release(Cause.INVALID_MESSAGE, str(error), by_remote=True)
                return
        if kind == MessageType.RELEASE_COMPLETE:
            cause = message.cause
            self._release(None, "released by the peer" + (f" (cause {cause})" if cause
                                                           else ""),
                          by_remote=True, send=False, peer_cause=cause)
            return
        if kind == MessageType.STATUS_ENQUIRY:
            self._status(Cause.RESPONSE_TO_STATUS_ENQUIRY, message)
        elif kind == MessageType.INFORMATION:
            for digit in message.ies.get(IE.KEYPAD, b"").decode("ascii", "replace"):
                if digit.upper() in h245.KEYS:
                    self._key(digit.upper())
        elif kind in (MessageType.CALL_PROCEEDING, MessageType.ALERTING,
                      MessageType.PROGRESS, MessageType.CONNECT) and self.caller:
            self._on_answer_progress(kind, pdu, now)
        elif kind not in (MessageType.FACILITY, MessageType.STATUS, MessageType.NOTIFY,
                          MessageType.INFORMATION):
            self._status(Cause.MESSAGE_NOT_COMPATIBLE_WITH_STATE
                         if kind in MessageType._value2member_map_
                         else Cause.MESSAGE_TYPE_NONEXISTENT, message)
        if pdu is not None and self.state != "released":
            self._tunnelled_h245(pdu, now)

    def _on_answer_progress(self, kind: int, pdu: h225.Pdu | None, now: float) -> None:
        """CallProceeding, Alerting, Progress or Connect to our Setup: Fast Connect
        answers may come in any of them; Connect puts the call up."""
        if self.state not in ("calling", "connected") or pdu is None:
            return
        if pdu.fast_start and not self._fast_answered:
            self._take_fast_answer(pdu.fast_start)
        if pdu.h245_address is not None and not pdu.tunnelling and not self._h245_separate:
            self.tunnelling = False
            self._h245_separate = True
            self._actions.append(ConnectH245(pdu.h245_address))
        if kind == MessageType.CONNECT and self.state == "calling":
            self.state = "connected"
            self.tunnelling = self.tunnelling and pdu.tunnelling
            self._deadline = None if self._fast_answered else now + self.media_timeout_s
            self._actions.append(Answered())
            if self.tunnelling:
                self._h245_open = True
                self._start_h245()
            self._say_media()

    def _take_fast_answer(self, elements: list[bytes]) -> None:
        """The callee's accepted proposals: where to send, what it sends on."""
        assert self._local is not None
        for element in elements:
            try:
                channel = h245.channel_of(h245.decode_olc(element))
            except h245.H245Error:
                continue
            if channel is None or channel.kind not in self.kinds or channel.codec is None:
                continue
            kind = self.kinds[channel.kind]
            if kind.codec is not None and kind.codec != channel.codec:
                continue
            kind.codec = channel.codec
            if channel.forward and channel.media is not None:  # our proposal to send
                kind.our_channel = channel.number
                kind.send_to = channel.media
                kind.send_rtcp_to = channel.media_control or _next_port(channel.media)
                if kind.name == "video" and self.video_policy is not None:
                    fmt = video.format_of(channel.data_type[1], channel.payload_type)
                    if fmt is not None:
                        kind.send_format = video.send_format(fmt, self.video_policy, self.mtu)
                        kind.peer_bitrate = kind.send_format.bitrate_bps
            elif not channel.forward:  # its channel to us
                kind.their_channel, kind.receiving = channel.number, True
            if kind.name == "audio":
                kind.payload_type = h245.AUDIO_PAYLOAD_TYPES[kind.codec]
            elif kind.payload_type is None:
                kind.payload_type = channel.payload_type or video.STATIC_TYPES.get(
                    kind.codec, video.H264_PAYLOAD_TYPE)
        self._fast_answered = self.kinds["audio"].codec is not None
        if self.kinds["video"].send_format is None:  # no video answered both ways
            self.kinds["video"] = _Kind("video")

    def _status(self, cause: Cause, message: q931.Message) -> None:
        state = {"connected": q931.CallState.ACTIVE, "admitting":
                 q931.CallState.INCOMING_CALL_PROCEEDING}.get(self.state, q931.CallState.NULL)
        reply = q931.Message(MessageType.STATUS, message.call_reference,
                             not message.from_destination,
                             {IE.CAUSE: q931.cause_ie(cause),
                              IE.CALL_STATE: q931.call_state_ie(state)})
        self._actions.append(SendQ931(q931.encode(reply)))

    # -- H.245 -----------------------------------------------------------------------------

    def _tunnelled_h245(self, pdu: h225.Pdu, now: float) -> None:
        if not pdu.h245:
            return
        if not self.tunnelling:
            return  # tunnelled H.245 on a call that refused tunnelling: ignored
        for data in pdu.h245:
            if self.state == "released":
                return
            self._on_h245(data, now)

    def _start_h245(self) -> None:
        """Our capabilities and master/slave determination, once H.245 is open."""
        if self._tcs_sent:
            return
        self._tcs_sent = True
        local = self._local
        video_caps = (video.capabilities(self.video_policy)
                      if self.video_policy is not None and local is not None
                      and local.has("video") else [])
        self._queue_h245(h245.terminal_capability_set(1, self.audio_codecs, video_caps))
        self._queue_h245(h245.master_slave_determination(self._msd_number))

    def _on_h245(self, data: bytes, now: float) -> None:
        try:
            message = h245.decode(data)
        except h245.H245Error:
            return  # nothing to answer to: H.245 has no reply for undecodable bytes
        handler = _H245_HANDLERS.get((message.category, message.name))
        if handler is not None:
            handler(self, message.value)
        elif message.category == "request":
            self._queue_h245(h245.function_not_understood(message))

    def _on_tcs(self, value: object) -> None:
        sequence = value.get("sequenceNumber", 0) if isinstance(value, dict) else 0
        self._their_codecs = h245.audio_codecs_of(value)
        self.kinds["video"].peer_formats = h245.video_formats_of(value)
        self._queue_h245(h245.terminal_capability_set_ack(sequence))
        self._open_ours()

    def _on_msd(self, value: object) -> None:
        try:
            theirs = (int(value["terminalType"]),  # type: ignore[index]
                      int(value["statusDeterminationNumber"]))  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            return
        master = h245.we_are_master((h245.MCU_TERMINAL_TYPE, self._msd_number), theirs)
        if master is None:  # equal numbers: pick again next time (H.245 C.2)
            self._msd_number = (self._msd_number + 0x10101) & 0xFFFFFF
            master = True
        self._queue_h245(h245.master_slave_ack(peer_is_master=not master))
        self._open_ours()

    def _on_msd_ack(self, value: object) -> None:
        """The answer to our determination: we confirm it back (H.245 C.2), once."""
        decision = value.get("decision") if isinstance(value, dict) else None
        if self._msd_confirmed or not isinstance(decision, tuple):
            return
        self._msd_confirmed = True
        self._queue_h245(h245.master_slave_ack(peer_is_master=decision[0] == "slave"))

    def _open_ours(self) -> None:
        """Open our channels once the peer's capabilities are known (the normal
        procedure; Fast Connect opened them already)."""
        if self._their_codecs is None or self._local is None or self.state != "connected":
            return
        audio = self.kinds["audio"]
        if audio.our_channel is None:
            codec = audio.codec if audio.codec in self._their_codecs else next(
                (c for c in self.audio_codecs if c in self._their_codecs), None)
            if codec is None:
                self.hang_up("no audio codec in common", Cause.INCOMPATIBLE_DESTINATION)
                return
            audio.codec, audio.payload_type = codec, h245.AUDIO_PAYLOAD_TYPES[codec]
            audio.our_channel = OUR_CHANNELS["audio"]
            self._queue_h245(h245.open_logical_channel(h245.channel_olc(
                audio.our_channel, h245.audio_data_type(codec), SESSIONS["audio"],
                self._local.rtcp("audio"))))
        self._open_our_video()

    def _open_our_video(self) -> None:
        kind = self.kinds["video"]
        if (kind.our_channel is not None or self.video_policy is None or self._local is None
                or not self._local.has("video")):
            return
        offered = {fmt.name: fmt for fmt in kind.peer_formats}
        codec = kind.codec if kind.codec in offered else next(
            (c for c in self.video_codecs if c in offered), None)
        if codec is None:
            return  # an audio call: the peer takes none of our video
        fmt = offered[codec]
        kind.codec = codec
        kind.send_format = video.send_format(fmt, self.video_policy, self.mtu)
        kind.peer_bitrate = kind.send_format.bitrate_bps
        kind.payload_type = kind.payload_type or kind.send_format.payload_type
        kind.our_channel = OUR_CHANNELS["video"]
        self._queue_h245(h245.open_logical_channel(h245.channel_olc(
            kind.our_channel, video.data_type(kind.send_format), SESSIONS["video"],
            self._local.rtcp("video"), payload_type=kind.payload_type)))

    def _on_olc(self, value: object) -> None:
        channel = h245.channel_of(value)
        number = value.get("forwardLogicalChannelNumber", 0) if isinstance(value, dict) else 0
        kind = self.kinds.get(channel.kind) if channel is not None else None
        codecs = self.audio_codecs if channel is not None and channel.kind == "audio" \
            else self.video_codecs
        if (channel is None or kind is None or not channel.forward or self._local is None
                or not self._local.has(kind.name) or channel.codec not in codecs
                or (kind.codec is not None and channel.codec != kind.codec)):
            self._queue_h245(h245.open_logical_channel_reject(int(number)))
            return
        kind.codec = channel.codec
        if kind.name == "audio":
            kind.payload_type = h245.AUDIO_PAYLOAD_TYPES[kind.codec or ""]
        elif channel.payload_type is not None:
            kind.payload_type = channel.payload_type
        elif kind.payload_type is None:
            kind.payload_type = video.STATIC_TYPES.get(kind.codec or "", video.H264_PAYLOAD_TYPE)
        kind.their_channel, kind.receiving = channel.number, True
        self._queue_h245(h245.open_logical_channel_ack(
            channel.number, channel.session_id or SESSIONS[kind.name],
            self._local.rtp(kind.name), self._local.rtcp(kind.name)))
        if kind.name == "video":
            self._open_our_video()
        self._say_media()

    def _kind_of_ours(self, value: object) -> _Kind | None:
        number = value.get("forwardLogicalChannelNumber") if isinstance(value, dict) else None
        return next((k for k in self.kinds.values() if k.our_channel is not None
                     and k.our_channel == number), None)

    def _on_olc_ack(self, value: object) -> None:
        kind = self._kind_of_ours(value)
        if kind is None:
            return
        media, control = h245.ack_media(value)
        if media is None:
            return
        kind.send_to, kind.send_rtcp_to = media, control or _next_port(media)
        self._say_media()

    def _on_olc_reject(self, value: object) -> None:
        kind = self._kind_of_ours(value)
        if kind is not None and kind.name == "audio":
            self.hang_up("the peer refused our audio channel", Cause.INCOMPATIBLE_DESTINATION)
        elif kind is not None:  # video refused: an audio call
            kind.send_to = None
            self._say_media()

    def _on_close(self, value: object) -> None:
        number = int(value.get("forwardLogicalChannelNumber", 0)) if isinstance(
            value, dict) else 0
        self._queue_h245(h245.close_logical_channel_ack(number))
        for kind in self.kinds.values():
            if number == kind.their_channel:
                kind.receiving = False
        self._say_media()

    def _on_request_close(self, value: object) -> None:
        kind = self._kind_of_ours(value)
        number = int(value.get("forwardLogicalChannelNumber", 0)) if isinstance(
            value, dict) else 0
        self._queue_h245(h245.request_channel_close_ack(number))
        if kind is not None:
            kind.send_to = None
            self._say_media()

    def _on_round_trip(self, value: object) -> None:
        sequence = value.get("sequenceNumber", 0) if isinstance(value, dict) else 0
        self._queue_h245(h245.round_trip_delay_response(int(sequence)))

    def _on_user_input(self, value: object) -> None:
        for digit in h245.keys_of(value):
            self._key(digit)

    def _on_misc_command(self, value: object) -> None:
        kind = value.get("type") if isinstance(value, dict) else None
        if isinstance(kind, tuple) and kind[0] == "videoFastUpdatePicture":
            self._actions.append(KeyFrameAsked())

    def _on_flow_control(self, value: object) -> None:
        """flowControlCommand: the peer caps what we send on our video channel (or the
        whole call) at ``maximumBitRate`` (100 bit/s units), or lifts the cap."""
        kind = self.kinds["video"]
        if kind.send_format is None or self.video_policy is None or not isinstance(value,
                                                                                   dict):
            return
        scope, restriction = value.get("scope"), value.get("restriction")
        if not (isinstance(scope, tuple) and isinstance(restriction, tuple)):
            return
        if scope[0] == "logicalChannelNumber" and scope[1] != kind.our_channel:
            return
        ceiling = kind.peer_bitrate or self.video_policy.max_bitrate_bps
        bitrate = ceiling if restriction[0] == "noRestriction" else max(
            8_000, min(ceiling, int(restriction[1]) * 100))
        if bitrate != kind.send_format.bitrate_bps:
            kind.send_format = replace(kind.send_format, bitrate_bps=bitrate)
            self._say_media()

    def _on_end_session(self, value: object) -> None:
        if self.state == "connected":
            self._queue_h245(h245.end_session())
        self._release(Cause.NORMAL_CLEARING, "endSession from the peer", by_remote=True)

    def _ignore(self, value: object) -> None:
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _key(self, digit: str) -> None:
        self.keys_seen += 1
        self._actions.append(Key(digit))

    def _say_media(self) -> None:
        audio = self.kinds["audio"].stream()
        if audio is None:
            return  # a call is audio first: video waits for it
        media = Media(audio, self.kinds["video"].stream())
        if media != self._media_said:
            self._media_said = media
            self._actions.append(media)
            if audio.send_to is not None or audio.receiving:
                self._deadline = None  # media agreed: the H.245 watchdog is done

    def _queue_h245(self, data: bytes) -> None:
        self._h245_out.append(data)

    def _flush_h245(self) -> None:
        """Queued H.245 messages: one Facility when tunnelling, else each on the
        separate connection once it is up (held until then)."""
        if not self._h245_out or self.state not in ("connected", "admitting"):
            if self.state == "released":
                self._h245_out.clear()
            return
        if self.tunnelling and self.state == "connected":
            messages, self._h245_out = self._h245_out, []
            self._send_q931(MessageType.FACILITY, None, h245_messages=messages)
        elif self._h245_separate and self._h245_open:
            messages, self._h245_out = self._h245_out, []
            self._actions.extend(SendH245(data) for data in messages)

    def _send_q931(self, kind: MessageType, body: dict[str, object] | None, *,
                   with_h245: bool = False, h245_messages: Sequence[bytes] = (),
                   ies: dict[int, bytes] | None = None) -> None:
        if with_h245:
            h245_messages, self._h245_out = [*h245_messages, *self._h245_out], []
        body_name = {MessageType.CALL_PROCEEDING: "callProceeding",
                     MessageType.ALERTING: "alerting", MessageType.CONNECT: "connect",
                     MessageType.RELEASE_COMPLETE: "releaseComplete",
                     MessageType.SETUP: "setup",
                     MessageType.FACILITY: "facility" if body is not None else "empty"}[kind]
        uu = h225.encode(body_name, body, tunnelling=self.tunnelling, h245=h245_messages)
        message = q931.Message(kind, self._reference, not self.caller,
                               {IE.USER_USER: q931.user_user_ie(uu), **(ies or {})})
        if kind == MessageType.CONNECT:
            message.ies[IE.DISPLAY] = q931.display_ie("MCU")
        self._actions.append(SendQ931(q931.encode(message)))

    def _release(self, cause: int | None, reason: str, *, by_remote: bool, send: bool = True,
                 peer_cause: int | None = None) -> None:
        if self.state == "released":
            return
        if send and self._answerable:
            self._flush_h245()
            ies = {IE.CAUSE: q931.cause_ie(cause)} if cause is not None else {}
            self._send_q931(MessageType.RELEASE_COMPLETE,
                            h225.release_complete(self.call_id), ies=ies)
        self.state = "released"
        self.reason = reason
        self._h245_out.clear()
        self._deadline = None
        self._actions.append(Ended(reason, by_remote,
                                   peer_cause if peer_cause is not None else cause))
        self._actions.append(Close())


def _next_port(address: Address | None) -> Address | None:
    return None if address is None else (address[0], address[1] + 1)


_H245_HANDLERS = {
    ("request", "terminalCapabilitySet"): H323Call._on_tcs,
    ("request", "masterSlaveDetermination"): H323Call._on_msd,
    ("request", "openLogicalChannel"): H323Call._on_olc,
    ("request", "closeLogicalChannel"): H323Call._on_close,
    ("request", "requestChannelClose"): H323Call._on_request_close,
    ("request", "roundTripDelayRequest"): H323Call._on_round_trip,
    ("response", "openLogicalChannelAck"): H323Call._on_olc_ack,
    ("response", "openLogicalChannelReject"): H323Call._on_olc_reject,
    ("response", "terminalCapabilitySetAck"): H323Call._ignore,
    ("response", "terminalCapabilitySetReject"): H323Call._ignore,
    ("response", "masterSlaveDeterminationAck"): H323Call._on_msd_ack,
    ("response", "masterSlaveDeterminationReject"): H323Call._ignore,
    ("response", "closeLogicalChannelAck"): H323Call._ignore,
    ("response", "roundTripDelayResponse"): H323Call._ignore,
    ("indication", "userInput"): H323Call._on_user_input,
    ("command", "miscellaneousCommand"): H323Call._on_misc_command,
    ("command", "flowControlCommand"): H323Call._on_flow_control,
    ("command", "endSessionCommand"): H323Call._on_end_session,
}
