"""One leg's video RTP stream, sans-IO: datagrams and times in; frames, key-frame
requests and datagrams out. ``RtpEndpoint`` (transport.py) is its asyncio shell, as
for audio.

Receiving: packets of the negotiated payload type from the latched source are put back
in sequence order (``reorder.ReorderBuffer``: no wait while in order, a short one
after a gap) and go to the codec's depacketizer (``gateway.rtp.payload``), which hands
back whole encoded pictures; they wait in a short queue until the mixer's next tick
takes them. Anything else (another payload type, a foreign source) is counted and
dropped. A new SSRC or a resolution change needs nothing special here: the
depacketizer restarts and waits for a key frame, which the mixer asks for when
``needs_keyframe`` is set.

RTCP: PLI and FIR from the peer (``gateway.rtp.feedback``) become key-frame requests
for whichever encoder feeds this leg; a FIR repeated with the same sequence number is
one request (``FirHistory``). Our own requests name the peer's SSRC, so none can go out
before its first packet.

Sending: one encoded picture becomes RTP packets that fit the MTU (H.264 mode 0/1,
VP8, H.263+), all with one timestamp on a 90 kHz clock derived from the send time, the
marker on the last.
"""

from __future__ import annotations

import random
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping

from gateway.media import VIDEO_CLOCK_RATE, EncodedVideo, VideoSendFormat
from gateway.rtp.feedback import (
    FirHistory,
    FirSequence,
    KeyFrameAsk,
    build_fir,
    build_pli,
    parse_feedback,
)
from gateway.rtp.header import FIXED, HEADER_SIZE, PLAIN, parse_rtp
from gateway.rtp.payload import h261, h263, h263_rfc2190, h264, vp8
from gateway.rtp.payload.base import Depacketizer, Received
from gateway.rtp.payload.h261 import H261Depacketizer
from gateway.rtp.payload.h263 import H263Depacketizer
from gateway.rtp.payload.h263_rfc2190 import Rfc2190Depacketizer
from gateway.rtp.payload.h264 import H264Depacketizer
from gateway.rtp.payload.h265 import H265Depacketizer
from gateway.rtp.payload.jpeg import JpegDepacketizer
from gateway.rtp.payload.vp8 import Vp8Depacketizer
from gateway.rtp.reorder import ReorderBuffer
from gateway.rtp.session import Address, RtpStream, is_rtcp

MAX_QUEUED_FRAMES = 8
"""Pictures kept for the mixer between ticks; older ones are dropped (a stalled mixer
must not make a leg hold video forever) and the stream then waits for a key frame."""

_NAL_SEI = 6  # H.264 supplemental enhancement information (optional to decoders)
_RTP_HEADER = struct.Struct("!BBHII")  # version 2, no padding, extension or CSRC


class _SharedPayloads:
    """The payloads of the pictures packetized last, for every leg that sends the same
    picture in the same format: the mixer encodes a picture once for all who see it,
    so it is cut into payloads once too (issue 14), and each leg only adds its own
    header (sequence number, timestamp, SSRC). VP8 is left out: its payload descriptor
    carries each stream's own picture ID. Touched on the event loop only."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[object, ...], tuple[EncodedVideo, list[bytes]]] = (
            OrderedDict())

    def get(self, frame: EncodedVideo, key: tuple[object, ...]) -> list[bytes] | None:
        entry = self._entries.get((id(frame), *key))
        return entry[1] if entry is not None and entry[0] is frame else None

    def put(self, frame: EncodedVideo, key: tuple[object, ...], payloads: list[bytes]) -> None:
        self._entries[(id(frame), *key)] = (frame, payloads)  # keeps the frame: id stays its
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


_shared_payloads = _SharedPayloads()


def depacketizer_for(codec: str, fmtp: Mapping[str, str] | None = None) -> Depacketizer:
    """The depacketizer for an SDP codec name (rtpmap encoding name, upper case; "JPEG"
    for static payload type 26). ``fmtp``: the stream's fmtp parameters, keys lower
    case (``gateway.sdp.video.parse_fmtp``): H.264 and H.265 parameter sets given only
    in the SDP are put in front of key frames. H.265 with decoding-order numbers
    (``sprop-max-don-diff`` > 0) is refused: we do not reorder by DON."""
    params = fmtp or {}
    if codec == "H264":
        return H264Depacketizer(sprop_parameter_sets=params.get("sprop-parameter-sets"))
    if codec == "H265":
        if params.get("sprop-max-don-diff", "0").strip() not in ("", "0"):
            raise ValueError("H.265 with sprop-max-don-diff > 0 (DONL) is not supported")
        return H265Depacketizer(sprop_vps=params.get("sprop-vps"),
                                sprop_sps=params.get("sprop-sps"),
                                sprop_pps=params.get("sprop-pps"))
    if codec == "JPEG":
        return JpegDepacketizer()
    if codec == "VP8":
        return Vp8Depacketizer()
    if codec == "H261":
        return H261Depacketizer()  # RFC 4587, static payload 31
    if codec == "H263":
        return Rfc2190Depacketizer()  # H.263 1996 (RFC 2190, static payload 34)
    if codec.startswith("H263"):
        return H263Depacketizer()
    raise ValueError(f"no depacketizer for video codec {codec!r}")


class VideoRtpSession(RtpStream):
    def __init__(
        self,
        send_format: VideoSendFormat,
        remote_rtp: Address,
        remote_rtcp: Address,
        rtcp_mux: bool,
        *,
        ssrc: int | None = None,
        cname: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        fmtp: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(VIDEO_CLOCK_RATE, remote_rtp, remote_rtcp, rtcp_mux, ssrc=ssrc,
                         cname=cname, wall_clock=wall_clock)
        self.format = send_format
        self.payload_type = send_format.payload_type
        self._fmtp = fmtp  # the sender's parameters (parameter sets given only in SDP)
        self._depacketizer = depacketizer_for(send_format.codec, fmtp)
        self._reorder: ReorderBuffer[Received] = ReorderBuffer()
        self._frames: deque[EncodedVideo] = deque()
        self._asks: list[KeyFrameAsk] = []
        self._fir_seen = FirHistory()
        self._fir_sent = FirSequence()
        self._picture_id = random.getrandbits(15)
        self._clock_origin: float | None = None
        self._ts_base = self._ts
        self.counters.update(frames_received=0, frames_dropped=0, keyframe_requests=0,
                             frames_sent=0, oversized_nal=0)

    def set_format(self, send_format: VideoSendFormat) -> None:
        """A re-INVITE changed the codec or payload type: start the stream over."""
        if send_format == self.format:
            return
        codec_changed = (send_format.codec, send_format.payload_type) != (
            self.format.codec, self.format.payload_type)
        self.format = send_format
        self.payload_type = send_format.payload_type
        if codec_changed:
            self._depacketizer = depacketizer_for(send_format.codec)
            self._reorder.reset()
            self._frames.clear()

    # -- receiving ---------------------------------------------------------------

    @property
    def needs_keyframe(self) -> bool:
        """The decoder cannot go on without an intra picture (join, loss, new source)."""
        return self._depacketizer.needs_keyframe

    def receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        """One datagram: over UDP packets may come out of order, so they pass the
        reorder buffer."""
        self._receive((data,), addr, now, self._reorder.push)

    def receive_rtp_many(self, datas: Iterable[bytes], addr: Address, now: float) -> None:
        """Packets carried in order over a TCP connection (one read of a camera's
        interleaved frames; issue 12): each is taken as ``receive_rtp`` takes it, except
        that nothing needs putting back in order (a gap a sender made itself is a loss
        to the depacketizer, as after the reorder buffer's wait)."""
        self._receive(datas, addr, now, None)

    def _receive(self, datas: Iterable[bytes], addr: Address, now: float,
                 reorder: Callable[[int, Received, float], list[Received]] | None) -> None:
        """A 1080p camera brings hundreds of packets a second, so what is per call
        rather than per packet (lookups, the layers above) is done once, and a plain
        packet of the negotiated type (nearly all) is read without ``parse_rtp``'s call
        and record."""
        counters = self.counters
        payload_type = self.payload_type
        unpack = FIXED.unpack_from
        received = 0
        ready: list[Received] = []  # in sequence order, depacketized at the end
        for data in datas:
            if len(data) > HEADER_SIZE and data[0] == PLAIN and data[1] & 0x7F == payload_type:
                _, second, seq, timestamp, ssrc = unpack(data)
                item = (data[HEADER_SIZE:], seq, timestamp, second >= 0x80)
            else:
                if is_rtcp(data):  # rtcp-mux
                    self.receive_rtcp(data, addr, now)
                    continue
                try:
                    packet = parse_rtp(data)  # the header fields only: no RtpPacket object
                except ValueError:
                    counters["malformed"] += 1
                    continue
                if packet.payload_type != payload_type:
                    counters["unknown_pt"] += 1  # a codec we did not negotiate
                    continue
                seq, timestamp, ssrc = packet.sequence_number, packet.timestamp, packet.ssrc
                item = (packet.payload, seq, timestamp, packet.marker)
            if addr != self.latched and not self._accept_source(addr):
                continue
            remote = self._remote
            if remote is not None and remote.ssrc == ssrc:
                remote.update(seq, timestamp, now)
            else:
                self._depacketize(ready)  # the old source's, before it is forgotten
                ready = []
                self._track_source(ssrc, seq, timestamp, now)  # the first, or a new SSRC
            received += 1
            if reorder is None:
                ready.append(item)
            else:
                ready += reorder(seq, item, now)
        self._depacketize(ready)
        if received:
            counters["received"] += received
            self.last_received = now

    def poll(self, now: float) -> None:
        self._depacketize(self._reorder.poll(now))  # a gap that was a real loss

    def _depacketize(self, packets: list[Received]) -> None:
        if packets:
            for frame in self._depacketizer.push_many(packets):
                self._queue(frame)

    def _queue(self, frame: EncodedVideo) -> None:
        self.counters["frames_received"] += 1
        self._frames.append(frame)
        if len(self._frames) > MAX_QUEUED_FRAMES:
            self._frames.popleft()
            self.counters["frames_dropped"] += 1
            if not frame.keyframe:  # the dropped picture was a reference for this one
                self._depacketizer.needs_keyframe = True

    def _new_source(self) -> None:
        self._reorder.reset()
        self._depacketizer.reset()
        self._frames.clear()

    def read_frames(self) -> list[EncodedVideo]:
        """The pictures completed since the last call, oldest first."""
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def receive_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if self.latched is not None and addr[0] != self.latched[0]:
            self.counters["foreign_dropped"] += 1
            return
        for ask in parse_feedback(data):
            if ask.media_ssrc in (self.ssrc, 0) and self._fir_seen.is_new(ask, now):
                self._asks.append(ask)
                self.counters["keyframe_requests"] += 1
        super().receive_rtcp(data, addr, now)

    def keyframe_asks(self) -> list[KeyFrameAsk]:
        """PLI/FIR requests for our stream received since the last call."""
        asks, self._asks = self._asks, []
        return asks

    # -- asking the peer ---------------------------------------------------------

    def build_keyframe_request(self, method: str, *, repeat: bool = False) -> bytes | None:
        """A PLI or FIR about the peer's stream; None before the peer has sent."""
        media = self.remote_ssrc
        if media is None:
            return None
        if method == "pli":
            return build_pli(self.ssrc, media)
        if method == "fir":
            seq = self._fir_sent.repeat(media) if repeat else self._fir_sent.new_request(media)
            return build_fir(self.ssrc, media, seq)
        raise ValueError(f"not an RTCP key-frame request method: {method!r}")

    # -- sending -----------------------------------------------------------------

    def packetize(self, frame: EncodedVideo, now: float) -> list[bytes]:
        """RTP packets for one picture, stamped with the 90 kHz time of ``now``."""
        try:
            payloads = self._shared(frame)
        except ValueError:
            # Mode 0 with a NAL unit over the MTU: the encoder broke its slice limit.
            # Sending a part would corrupt the peer's picture; skip it instead.
            self.counters["oversized_nal"] += 1
            return []
        if self._clock_origin is None:
            self._clock_origin = now
        ts = (self._ts_base + round((now - self._clock_origin) * VIDEO_CLOCK_RATE)) & 0xFFFFFFFF
        self._ts, self._last_sent = ts, now  # what RTCP SR's timestamp extrapolates from
        packets = []
        pack, pt, ssrc, seq = _RTP_HEADER.pack, self.payload_type & 0x7F, self.ssrc, self._seq
        last = len(payloads) - 1
        for index, payload in enumerate(payloads):
            seq = (seq + 1) & 0xFFFF
            packets.append(pack(0x80, pt | (0x80 if index == last else 0), seq, ts, ssrc)
                           + payload)
        self._seq = seq
        self.counters["octets_sent"] += sum(map(len, payloads))
        self.counters["packets_sent"] += len(packets)
        self.counters["frames_sent"] += 1
        self._sent_since_report = True
        return packets

    def _shared(self, frame: EncodedVideo) -> list[bytes]:
        fmt = self.format
        if fmt.codec == "VP8":
            return self._payloads(frame.data)
        key = (fmt.codec, fmt.packetization_mode, fmt.mtu)
        payloads = _shared_payloads.get(frame, key)
        if payloads is None:
            payloads = [bytes(p) for p in self._payloads(frame.data)]
            _shared_payloads.put(frame, key, payloads)
        return payloads

    def _payloads(self, data: bytes) -> list[bytes]:
        fmt = self.format
        if fmt.codec == "H264":
            nals = h264.split_annex_b(data)
            if fmt.packetization_mode == 0:
                # SEI is never needed to decode, and x264's first IDR carries a ~700-byte
                # version SEI that mode 0 cannot send at a small MTU: without it the
                # key frame goes out instead of being refused whole.
                nals = [n for n in nals if n[0] & 0x1F != _NAL_SEI or len(n) <= fmt.mtu]
            return h264.packetize(nals, fmt.mtu, fmt.packetization_mode)
        if fmt.codec == "VP8":
            self._picture_id = (self._picture_id + 1) & 0x7FFF
            return vp8.packetize(data, fmt.mtu, self._picture_id)
        if fmt.codec == "H263":
            return h263_rfc2190.packetize(data, fmt.mtu)
        if fmt.codec == "H261":
            return h261.packetize(data, fmt.mtu)
        return h263.packetize(data, fmt.mtu)

    @property
    def stats(self) -> dict[str, float]:
        return {**self.counters,
                **{f"depacketizer_{k}": v for k, v in self._depacketizer.stats.items()},
                **{f"reorder_{k}": v for k, v in self._reorder.stats.items()}}
