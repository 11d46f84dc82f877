"""RFC 3264 offer/answer for one audio and one video stream; every other is declined.

SRTP (``RTP/SAVP``, ``RTP/SAVPF``) streams are answered with SDES keys
(``gateway.sdp.crypto``, RFC 4568) only where the signalling may carry keys
(``sdes``: TLS, or a setting that allows plain transports); else the offer is
refused with 488. The keys of each stream are in ``Negotiated.audio_srtp`` and
``video_srtp``.

An answer accepts the first usable audio m-line with exactly one codec (the first of
our preferences the offer has) plus telephone-event at that codec's clock rate. When
the caller gives a video port and policy, the offer's camera m=video is answered by
``gateway.sdp.video`` (one codec, sized to what the peer can receive); a video with
no common codec is declined and the call stays audio-only. Every other m-line (a
second audio, presentation video, application) gets port 0.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
from dataclasses import dataclass, field

from gateway.media import FRAME_MS, AudioFormat
from gateway.sdp.common import ANSWER_DIRECTION, RTP_PROTOS, add_format, remote_direction
from gateway.sdp.crypto import (
    DtlsSetup,
    RandomBytes,
    SrtpKeys,
    accept_crypto,
    answer_crypto,
    answer_dtls,
    is_dtls,
    is_secure,
    offer_crypto,
)
from gateway.sdp.model import (
    Connection,
    Media,
    Origin,
    RtpMap,
    SdpError,
    SessionDescription,
    addrtype_of,
    parse_sdp,
)
from gateway.sdp.video import (
    VideoAnswer,
    VideoPolicy,
    accept_video_answer,
    main_video_index,
    negotiate_video,
    video_offer,
)

# Codecs we can carry: canonical name -> (rtpmap clock rate, channels, PT we offer).
# RFC 7587: opus is always opus/48000/2 in SDP, whatever the real channel count.
CODECS: dict[str, tuple[int, int, int]] = {
    "opus": (48000, 2, 111),
    "G722": (8000, 1, 9),
    "PCMU": (8000, 1, 0),
    "PCMA": (8000, 1, 8),
}
TELEPHONE_EVENT_PTS = {8000: 101, 48000: 110}  # dynamic PTs we offer
TELEPHONE_EVENTS = "0-15"  # the DTMF digits RFC 4733 section 3.2 defines
OPUS_FMTP = "useinbandfec=1"


@dataclass(slots=True)
class LocalSession:
    """Our o= line across one dialog: RFC 3264 section 8 wants the version bumped
    exactly when the description we send changes (re-INVITE), and kept otherwise."""

    session_id: int = field(default_factory=lambda: random.randint(1, 2**31 - 1))
    version: int = field(default=0)
    username: str = "mcu"
    _last_body: tuple[str, ...] | None = None

    def stamp(self, body: list[str]) -> int:
        """The version for ``body`` (all lines but o=), bumped if it changed."""
        key = tuple(body)
        if self._last_body is not None and key != self._last_body:
            self.version += 1
        self._last_body = key
        return self.version

    def origin(self, address: str) -> Origin:
        return Origin(
            self.username,
            str(self.session_id),
            str(self.version),
            "IN",
            addrtype_of(address),
            address,
        )


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The outcome of one offer/answer exchange, as the RTP layer needs it.

    ``answer_sdp`` is the answer: the one we built (``answer_offer``) or the one the
    remote sent (``accept_answer``). Directions are from each side's point of view;
    the remote's already folds in RFC 2543 hold (c=0.0.0.0 means it receives nothing).
    """

    answer_sdp: bytes
    audio: AudioFormat | None
    telephone_event_pt: int | None
    telephone_event_rate: int | None
    remote_rtp: tuple[str, int]
    remote_rtcp: tuple[str, int]
    rtcp_mux: bool
    remote_direction: str
    local_direction: str
    video: VideoAnswer | None = None
    video_rtp: tuple[str, int] = ("0.0.0.0", 0)
    video_rtcp: tuple[str, int] = ("0.0.0.0", 0)
    video_rtcp_mux: bool = False
    audio_srtp: SrtpKeys | DtlsSetup | None = None  # None: plain RTP; DtlsSetup: keys
    video_srtp: SrtpKeys | DtlsSetup | None = None  # come from a DTLS handshake

    @property
    def encrypted(self) -> bool:
        """Every stream this exchange runs is SRTP (SDES or DTLS keyed)."""
        streams = [(self.audio, self.audio_srtp), (self.video, self.video_srtp)]
        running = [keys for media, keys in streams if media is not None]
        return bool(running) and all(keys is not None for keys in running)

    @property
    def on_hold(self) -> bool:
        """The remote put us on hold: it will not receive what we send."""
        return self.remote_direction in ("sendonly", "inactive")

    @property
    def sending(self) -> bool:
        return self.audio is not None and self.local_direction in ("sendrecv", "sendonly")

    @property
    def receiving(self) -> bool:
        return self.audio is not None and self.local_direction in ("sendrecv", "recvonly")


def answer_offer(
    offer: bytes,
    *,
    local_ip: str,
    audio_port: int,
    preferences: list[str],
    session: LocalSession,
    video_port: int | None = None,
    video_policy: VideoPolicy | None = None,
    sdes: bool = False,
    random_bytes: RandomBytes = secrets.token_bytes,
    dtls_fingerprint: str | None = None,
) -> Negotiated:
    """Answer ``offer``; SdpError(400) if malformed, SdpError(488) if nothing fits.

    ``sdes``: SRTP streams may be keyed in SDP here (the signalling is encrypted, or
    a setting allows it); without it an SRTP stream we would answer is a 488.
    ``dtls_fingerprint`` (our certificate's, "sha-256 ..."): DTLS-SRTP streams are
    answered with it; without it they are a 488.

    Video is answered only with both ``video_port`` and ``video_policy``. An offer
    whose only usable stream is video (a SIP camera) is answered video-only: the
    Negotiated then has no audio, and its directions are the video's."""
    desc = parse_sdp(offer)
    chosen = _choose_audio(desc, preferences)
    video_index, video = _answer_video(desc, video_port, video_policy)
    if chosen is None and video is None:
        raise SdpError(488, "no common audio codec")
    index = chosen[0] if chosen is not None else None
    answer_media: list[Media] = []
    keys: dict[str, SrtpKeys | DtlsSetup] = {}
    for i, offered in enumerate(desc.media):
        if chosen is not None and i == index:
            audio, event = chosen[1], chosen[2]
            remote_dir = remote_direction(desc, offered)
            answer_media.append(_audio_media(audio, event, audio_port, offered.proto,
                                             offered.rtcp_mux, ANSWER_DIRECTION[remote_dir]))
        elif video is not None and i == video_index:
            answer_media.append(video.media)
        else:
            answer_media.append(_rejected(offered))
            continue
        if is_dtls(offered, desc.attributes):
            setup, attributes = answer_dtls(offered, desc.attributes, dtls_fingerprint)
            answer = answer_media[-1]
            answer.attributes[len(answer.attributes) - 1:len(answer.attributes) - 1] = [
                *attributes]
            keys[offered.media] = setup
        elif is_secure(offered):
            keys[offered.media] = _key_answer(offered, answer_media[-1], sdes, random_bytes)
    answer = _render(local_ip, session, answer_media)
    if chosen is not None:
        media = desc.media[chosen[0]]
        remote_dir = remote_direction(desc, media)
        negotiated = _negotiated(answer, chosen[1], chosen[2], desc, media, media.rtcp_mux,
                                 remote_dir, ANSWER_DIRECTION[remote_dir])
    else:
        assert video is not None
        negotiated = Negotiated(answer, None, None, None, ("0.0.0.0", 0), ("0.0.0.0", 0),
                                False, video.remote_direction, video.local_direction)
    negotiated = dataclasses.replace(negotiated, audio_srtp=keys.get("audio"),
                                     video_srtp=keys.get("video"))
    if video is None or video_index is None:
        return negotiated
    offered_video = desc.media[video_index]
    rtp, rtcp = _remote_addresses(desc, offered_video, offered_video.rtcp_mux)
    return dataclasses.replace(negotiated, video=video, video_rtp=rtp, video_rtcp=rtcp,
                               video_rtcp_mux=offered_video.rtcp_mux)


def _key_answer(offered: Media, answer: Media, sdes: bool,
                random_bytes: RandomBytes) -> SrtpKeys:
    """SDES for one SRTP stream: our a=crypto into ``answer``, the keys to run."""
    if not sdes:
        raise SdpError(488, "SRTP keys (a=crypto) are taken only over TLS "
                       "(sip.sdes_without_tls)")
    keys, line = answer_crypto(offered, random_bytes)
    answer.attributes.insert(len(answer.attributes) - 1, ("crypto", line))  # before the
    return keys  # direction attribute, which ends every m-line we write


def offers_only_srtp(offer: bytes) -> bool:
    """Whether every RTP stream ``offer`` proposes is SRTP (what an encryption-required
    conference admits); False for a malformed offer or one with no RTP stream."""
    try:
        streams = [m for m in parse_sdp(offer).media if m.port and m.proto in RTP_PROTOS]
    except SdpError:
        return False
    return bool(streams) and all(is_secure(m) for m in streams)


def offers_video(offer: bytes) -> bool:
    """Whether ``offer`` has a camera m=video we would answer (so a video port is
    worth allocating); False for a malformed offer, which the answer then refuses."""
    try:
        return main_video_index(parse_sdp(offer)) is not None
    except SdpError:
        return False


def _answer_video(
    desc: SessionDescription, port: int | None, policy: VideoPolicy | None
) -> tuple[int | None, VideoAnswer | None]:
    if not port or policy is None:
        return None, None
    index = main_video_index(desc)
    if index is None:
        return None, None
    return index, negotiate_video(desc.media[index], port=port, session=desc,
                                  **policy.arguments())


def make_offer(
    local_ip: str,
    audio_port: int,
    preferences: list[str],
    session: LocalSession,
    *,
    direction: str = "sendrecv",
    video_port: int | None = None,
    video_policy: VideoPolicy | None = None,
    srtp: bool = False,
    random_bytes: RandomBytes = secrets.token_bytes,
) -> bytes:
    """An offer with every preferred codec, in order, plus telephone-event; and an
    m=video with every video codec of ``video_policy`` when given a ``video_port``.
    ``srtp``: every stream is RTP/SAVP(F) with our SDES keys (``accept_answer`` finds
    them again in this offer)."""
    names = _canonical_names(preferences)
    if not names:
        raise ValueError("no known codec in preferences")
    media = Media("audio", audio_port, "RTP/AVP", [])
    for name in names:
        rate, channels, pt = CODECS[name]
        add_format(media, RtpMap(pt, name, rate, channels))
        if name == "opus":
            media.attributes.append(("fmtp", f"{pt} {OPUS_FMTP}"))
    rates = {CODECS[name][0] for name in names}
    for rate, pt in TELEPHONE_EVENT_PTS.items():
        if rate in rates:  # an event clock no offered codec uses would never be picked
            add_format(media, RtpMap(pt, "telephone-event", rate))
            media.attributes.append(("fmtp", f"{pt} {TELEPHONE_EVENTS}"))
    media.attributes += [("ptime", str(FRAME_MS)), ("rtcp-mux", None), (direction, None)]
    streams = [media]
    if video_port and video_policy is not None:
        streams.append(video_offer(video_policy, video_port))
    if srtp:
        for stream in streams:
            stream.proto = stream.proto.replace("RTP/AVP", "RTP/SAVP")
            position = len(stream.attributes) - 1  # before the direction
            stream.attributes[position:position] = [
                ("crypto", line) for line in offer_crypto(random_bytes)]
    return _render(local_ip, session, streams)


def accept_answer(
    offer: bytes, answer: bytes, video_policy: VideoPolicy | None = None
) -> Negotiated:
    """Apply the remote's ``answer`` to our ``offer`` (dial-out, offerless INVITE); its
    video too when our offer had one and ``video_policy`` is given."""
    ours = parse_sdp(offer)
    theirs = parse_sdp(answer)
    if len(theirs.media) != len(ours.media):
        raise SdpError(400, "answer has a different number of m-lines than the offer")
    index = _first_audio(ours)
    if index is None:
        return _accept_video_only(answer, ours, theirs, video_policy)
    media = theirs.media[index]
    if media.media != "audio":
        raise SdpError(400, "answer m-lines are not in offer order")
    offered = ours.media[index].rtpmaps()
    audio, event = _pick_from_answer(media, offered) if media.port else (None, None)
    if audio is None:
        raise SdpError(488, "answer accepts none of our audio codecs")
    remote_dir = remote_direction(theirs, media)
    local_dir = ANSWER_DIRECTION[remote_dir]
    mux = media.rtcp_mux and ours.media[index].rtcp_mux
    negotiated = _negotiated(answer, audio, event, theirs, media, mux, remote_dir, local_dir)
    if is_secure(ours.media[index]):
        negotiated = dataclasses.replace(
            negotiated, audio_srtp=accept_crypto(ours.media[index], media))
    return _accept_video(negotiated, ours, theirs, video_policy)


def _accept_video_only(answer: bytes, ours: SessionDescription, theirs: SessionDescription,
                       policy: VideoPolicy | None) -> Negotiated:
    """The answer to an offer with video and no audio (a re-INVITE in a call that is
    video-only, such as a SIP camera's): the Negotiated has no audio, and its
    directions are the video's, as ``answer_offer`` makes them."""
    silent = Negotiated(answer, None, None, None, ("0.0.0.0", 0), ("0.0.0.0", 0), False,
                        "inactive", "inactive")
    negotiated = _accept_video(silent, ours, theirs, policy)
    if negotiated.video is None:
        raise SdpError(488, "answer accepts neither audio nor video")
    return dataclasses.replace(negotiated, remote_direction=negotiated.video.remote_direction,
                               local_direction=negotiated.video.local_direction)


def _accept_video(negotiated: Negotiated, ours: SessionDescription,
                  theirs: SessionDescription, policy: VideoPolicy | None) -> Negotiated:
    if policy is None:
        return negotiated
    index = next((i for i, m in enumerate(ours.media) if m.media == "video" and m.port), None)
    if index is None:
        return negotiated
    answered = theirs.media[index]
    video = accept_video_answer(ours.media[index], answered, theirs, policy)
    if video is None:
        return negotiated
    mux = answered.rtcp_mux and ours.media[index].rtcp_mux
    rtp, rtcp = _remote_addresses(theirs, answered, mux)
    keys = accept_crypto(ours.media[index], answered) if is_secure(ours.media[index]) else None
    return dataclasses.replace(negotiated, video=video, video_rtp=rtp, video_rtcp=rtcp,
                               video_rtcp_mux=mux, video_srtp=keys)


def _negotiated(
    answer: bytes,
    audio: AudioFormat,
    event: RtpMap | None,
    remote: SessionDescription,
    media: Media,
    mux: bool,
    remote_dir: str,
    local_dir: str,
) -> Negotiated:
    rtp, rtcp = _remote_addresses(remote, media, mux)
    return Negotiated(
        answer_sdp=answer,
        audio=audio,
        telephone_event_pt=event.payload_type if event else None,
        telephone_event_rate=event.clock_rate if event else None,
        remote_rtp=rtp,
        remote_rtcp=rtcp,
        rtcp_mux=mux,
        remote_direction=remote_dir,
        local_direction=local_dir,
    )


def _canonical_names(preferences: list[str]) -> list[str]:
    by_lower = {name.lower(): name for name in CODECS}
    names = [by_lower[p.lower()] for p in preferences if p.lower() in by_lower]
    return list(dict.fromkeys(names))  # dedupe, keep order


def _usable_audio(media: Media) -> bool:
    return media.media == "audio" and media.port != 0 and media.proto in RTP_PROTOS


def _first_audio(desc: SessionDescription) -> int | None:
    return next((i for i, m in enumerate(desc.media) if _usable_audio(m)), None)


def _choose_audio(
    desc: SessionDescription, preferences: list[str]
) -> tuple[int, AudioFormat, RtpMap | None] | None:
    """The first usable audio m-line with a common codec, and that codec."""
    for index, media in enumerate(desc.media):
        if not _usable_audio(media):
            continue
        maps = media.rtpmaps()
        for name in _canonical_names(preferences):
            found = _find_codec(maps, name)
            if found is not None:
                return index, _format(found, name), _find_event(maps, found.clock_rate)
    return None


def _find_codec(maps: dict[int, RtpMap], name: str) -> RtpMap | None:
    rate, channels, _ = CODECS[name]
    for rtpmap in maps.values():  # dicts keep m-line order: the offerer's preference
        if rtpmap.matches(name, rate) and (name != "opus" or rtpmap.channels == channels):
            return rtpmap
    return None


def _find_event(maps: dict[int, RtpMap], clock_rate: int) -> RtpMap | None:
    """telephone-event at the codec's clock rate, as RFC 4733 section 2.1 recommends.
    Failing that, any rate offered: baresip 1.0.0 offers opus with only
    telephone-event/8000, and a SHOULD is not worth losing every digit over."""
    events = [m for m in maps.values() if m.matches("telephone-event")]
    return next((m for m in events if m.clock_rate == clock_rate), events[0] if events else None)


def _format(rtpmap: RtpMap, name: str) -> AudioFormat:
    return AudioFormat(name, rtpmap.payload_type, rtpmap.clock_rate, rtpmap.channels)


def _pick_from_answer(
    media: Media, offered: dict[int, RtpMap]
) -> tuple[AudioFormat | None, RtpMap | None]:
    """The answerer's first codec that we offered (matched by name and rate, since an
    answerer may renumber dynamic payload types)."""
    maps = media.rtpmaps()
    wanted = [m for m in offered.values() if m.encoding in CODECS]
    for rtpmap in maps.values():
        for ours in wanted:
            if rtpmap.matches(ours.encoding, ours.clock_rate):
                return _format(rtpmap, ours.encoding), _find_event(maps, rtpmap.clock_rate)
    return None, None


def _remote_addresses(
    desc: SessionDescription, media: Media, mux: bool
) -> tuple[tuple[str, int], tuple[str, int]]:
    conn = desc.connection_for(media)
    ip = conn.address if conn is not None else "0.0.0.0"
    rtp = (ip, media.port)
    if mux:
        return rtp, rtp
    rtcp = media.rtcp()
    if rtcp is not None:
        return rtp, (rtcp[1] or ip, rtcp[0])
    return rtp, (ip, media.port + 1)


def _audio_media(
    audio: AudioFormat,
    event: RtpMap | None,
    port: int,
    proto: str,
    mux: bool,
    direction: str,
) -> Media:
    media = Media("audio", port, proto, [])
    add_format(media, RtpMap(audio.payload_type, audio.name, audio.clock_rate, audio.channels))
    if audio.name == "opus":
        media.attributes.append(("fmtp", f"{audio.payload_type} {OPUS_FMTP}"))
    if event is not None:
        add_format(media, event)
        media.attributes.append(("fmtp", f"{event.payload_type} {TELEPHONE_EVENTS}"))
    media.attributes.append(("ptime", str(FRAME_MS)))
    if mux:
        media.attributes.append(("rtcp-mux", None))
    media.attributes.append((direction, None))
    return media


def _rejected(offered: Media) -> Media:
    """RFC 3264 section 6: a declined stream keeps its type and proto, port 0, and
    still lists a format so the m-line stays well formed."""
    return Media(offered.media, 0, offered.proto, offered.formats[:1] or ["0"])


def _render(local_ip: str, session: LocalSession, media: list[Media]) -> bytes:
    desc = SessionDescription(
        origin=session.origin(local_ip),
        name="mcu",
        connection=Connection.for_address(local_ip),
        media=media,
    )
    body = [line for line in desc.lines() if not line.startswith("o=")]
    session.stamp(body)
    desc.origin = session.origin(local_ip)
    return desc.serialize()
