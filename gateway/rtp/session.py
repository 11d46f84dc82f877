"""One leg's RTP session, sans-IO: datagrams and times in; frames, events and
datagrams out. ``RtpEndpoint`` (transport.py) is the asyncio shell around it."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiortc.rtp import (
    RtcpByePacket,
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
)

from gateway.leg import Dtmf
from gateway.media import FRAME_MS, AudioFormat, EncodedAudio
from gateway.rtp.dtmf import DtmfDecoder
from gateway.rtp.jitter import JitterBuffer
from gateway.rtp.payload.aac import AacDepacketizer
from gateway.rtp.reframe import SampleReframer
from gateway.rtp.stats import ReceptionStats, ntp_middle, ntp_time

if TYPE_CHECKING:
    from gateway.rtp.settings import RtpSettings

Address = tuple[str, int]

RTCP_INTERVAL = 5.0  # s; RFC 3550 6.2 minimum, randomized x[0.5, 1.5] below
SDES_CNAME = 1
_FRAME_S = FRAME_MS / 1000


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 section 4: with rtcp-mux, RTCP packet types 192-223 sit where RTP
    would have payload types 64-95, which no RTP session may use."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def _counters() -> dict[str, float]:
    keys = (
        "received packets_sent octets_sent malformed foreign_dropped unknown_pt "
        "ssrc_changes rtcp_received dtmf_events"
    )
    return dict.fromkeys(keys.split(), 0)


class RtpStream:
    """What every RTP stream shares, whatever it carries: our SSRC and sequence
    numbers, the SDP addresses and symmetric-RTP latch, the remote source's reception
    statistics, and RTCP (SR/RR + SDES, reports about our stream, BYE).

    ``RtpSession`` (audio) and ``gateway.rtp.video.VideoRtpSession`` add the payload
    side; ``_new_source`` is their hook for an SSRC change.
    """

    def __init__(
        self,
        clock_rate: int,
        remote_rtp: Address,
        remote_rtcp: Address,
        rtcp_mux: bool,
        *,
        ssrc: int | None = None,
        cname: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock_rate = clock_rate
        self.ssrc = ssrc if ssrc is not None else random.getrandbits(32)
        self.cname = cname or f"mcu-{self.ssrc:08x}"
        self._wall_clock = wall_clock
        self._remote: ReceptionStats | None = None
        self._seq = random.getrandbits(16)  # RFC 3550: random initial values
        self._ts = random.getrandbits(32)
        self._last_sent: float | None = None
        self._sent_since_report = False
        self._next_report: float | None = None
        self._lsr = 0  # middle bits of the last SR's NTP time, and when it came
        self._lsr_at: float | None = None
        self.counters = _counters()
        self.last_received: float | None = None
        self.latched: Address | None = None  # symmetric RTP: where the peer sends from
        self.latched_rtcp: Address | None = None
        self.symmetric = True  # send to the latched source (False: the signalled address)
        self.remote_rtp = remote_rtp
        self.set_remote(remote_rtp, remote_rtcp, rtcp_mux)

    @property
    def remote_ssrc(self) -> int | None:
        """The SSRC the peer sends from (what a PLI or FIR names), once it has sent."""
        return self._remote.ssrc if self._remote is not None else None

    def _new_source(self) -> None:
        """A different SSRC started sending: forget the old one's timeline."""

    def _parse_rtp(self, data: bytes, addr: Address, now: float) -> RtpPacket | None:
        """The RTP packet in a datagram from the RTP socket; None when it was RTCP
        (rtcp-mux: handed to ``receive_rtcp``) or malformed (counted)."""
        if is_rtcp(data):
            self.receive_rtcp(data, addr, now)
            return None
        try:
            return RtpPacket.parse(data)
        except ValueError:
            self.counters["malformed"] += 1
            return None

    def poll(self, now: float) -> None:
        """Time-driven work with no packet to trigger it (the shell calls it)."""

    def set_remote(self, remote_rtp: Address, remote_rtcp: Address, rtcp_mux: bool) -> None:
        """SDP addresses, again on re-INVITE. A changed address forgets the latch so
        the next valid source is taken; an unchanged one (session refresh, hold)
        keeps it, or a NATed peer would briefly be sent to its private address."""
        if remote_rtp != self.remote_rtp:
            self.latched = None
            self.latched_rtcp = None
        self.remote_rtp = remote_rtp
        self.remote_rtcp = remote_rtp if rtcp_mux else remote_rtcp
        self.rtcp_mux = rtcp_mux

    @property
    def rtp_destination(self) -> Address:
        """Symmetric RTP (RFC 4961): reply where the remote sends from (NAT)."""
        if not self.symmetric:
            return self.remote_rtp
        return self.latched or self.remote_rtp

    @property
    def rtcp_destination(self) -> Address:
        if self.rtcp_mux:
            return self.rtp_destination
        if not self.symmetric:
            return self.remote_rtcp
        return self.latched_rtcp or self.remote_rtcp

    def _accept_source(self, addr: Address) -> bool:
        """Latch on the first valid packet's source; drop everyone else's."""
        if self.latched is None:
            self.latched = addr
            return True
        if addr == self.latched:
            return True
        self.counters["foreign_dropped"] += 1
        return False

    def _track_source(self, ssrc: int, seq: int, timestamp: int, now: float, *,
                      timed: bool = True) -> None:
        remote = self._remote
        if remote is None or remote.ssrc != ssrc:
            if remote is not None:
                # A new source (transfer, media server): its timeline is unrelated.
                self.counters["ssrc_changes"] += 1
                self._new_source()
            remote = self._remote = ReceptionStats(ssrc, seq, self.clock_rate)
        remote.update(seq, timestamp, now, timed=timed)

    def receive_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        if self.latched is not None and addr[0] != self.latched[0]:
            self.counters["foreign_dropped"] += 1
            return
        try:
            packets = RtcpPacket.parse(data)
        except ValueError:
            self.counters["malformed"] += 1
            return
        self.counters["rtcp_received"] += 1
        if not self.rtcp_mux and self.latched_rtcp is None:
            self.latched_rtcp = addr
        for packet in packets:
            self._handle_rtcp(packet, now)

    def _handle_rtcp(self, packet: object, now: float) -> None:
        if isinstance(packet, RtcpSrPacket):
            self._lsr = ntp_middle(packet.sender_info.ntp_timestamp)
            self._lsr_at = now
        if isinstance(packet, RtcpSrPacket | RtcpRrPacket):
            for block in packet.reports:
                if block.ssrc == self.ssrc:
                    self._remote_report(block)
        elif isinstance(packet, RtcpByePacket):
            self.counters["bye"] = 1

    def _remote_report(self, block: RtcpReceiverInfo) -> None:
        """What the remote says about our stream: loss, jitter and round-trip time."""
        self.counters["remote_fraction_lost"] = block.fraction_lost / 256
        self.counters["remote_packets_lost"] = block.packets_lost
        self.counters["remote_jitter_ms"] = block.jitter * 1000 / self.clock_rate
        if block.lsr:
            now_mid = ntp_middle(ntp_time(self._wall_clock()))
            rtt = ((now_mid - block.lsr - block.dlsr) & 0xFFFFFFFF) / 65536
            if rtt < 60:  # a clock-skewed peer gives nonsense; keep only plausible values
                self.counters["rtt_ms"] = rtt * 1000

    def rtcp_report(self, now: float) -> bytes | None:
        """A compound SR or RR plus SDES CNAME when one is due (~every 5 s), else None."""
        if self._next_report is None:
            self._next_report = now + RTCP_INTERVAL * random.uniform(0.25, 0.75)
        if now < self._next_report:
            return None
        self._next_report = now + RTCP_INTERVAL * random.uniform(0.5, 1.5)
        return self.build_report(now)

    def build_report(self, now: float) -> bytes:
        """The report itself, whether due or not (also sent with BYE)."""
        remote = self._remote
        blocks = [self._report_block(remote, now)] if remote is not None else []
        if self._sent_since_report:
            report: RtcpSrPacket | RtcpRrPacket = RtcpSrPacket(
                ssrc=self.ssrc, sender_info=self._sender_info(now), reports=blocks
            )
        else:
            report = RtcpRrPacket(ssrc=self.ssrc, reports=blocks)
        self._sent_since_report = False
        sdes = RtcpSdesPacket(
            chunks=[RtcpSourceInfo(ssrc=self.ssrc, items=[(SDES_CNAME, self.cname.encode())])]
        )
        return bytes(report) + bytes(sdes)

    def _report_block(self, remote: ReceptionStats, now: float) -> RtcpReceiverInfo:
        dlsr = int((now - self._lsr_at) * 65536) if self._lsr_at is not None else 0
        return remote.report_block(self._lsr, dlsr & 0xFFFFFFFF)

    def _sender_info(self, now: float) -> RtcpSenderInfo:
        # The RTP timestamp of "now" on our media clock, so the peer can sync.
        elapsed = now - (self._last_sent or now)
        rtp_ts = self._ts + int(elapsed * self.clock_rate)
        return RtcpSenderInfo(
            ntp_timestamp=ntp_time(self._wall_clock()),
            rtp_timestamp=rtp_ts & 0xFFFFFFFF,
            packet_count=int(self.counters["packets_sent"]) & 0xFFFFFFFF,
            octet_count=int(self.counters["octets_sent"]) & 0xFFFFFFFF,
        )

    def bye(self, now: float) -> bytes:
        """Final compound report with BYE (RFC 3550 6.6), for hang-up."""
        return self.build_report(now) + bytes(RtcpByePacket(sources=[self.ssrc]))


class RtpSession(RtpStream):
    """The audio stream of a leg: jitter buffer, RFC 4733 events, one frame per tick."""

    def __init__(
        self,
        audio: AudioFormat,
        telephone_event_pt: int | None,
        remote_rtp: Address,
        remote_rtcp: Address,
        rtcp_mux: bool,
        *,
        jitter_min_ms: int = 20,
        jitter_max_ms: int = 200,
        ssrc: int | None = None,
        telephone_event_rate: int | None = None,
        cname: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.audio = audio
        self.telephone_event_pt = telephone_event_pt
        self._jitter = JitterBuffer(audio.clock_rate, min_ms=jitter_min_ms, max_ms=jitter_max_ms)
        self._reframer = (SampleReframer(audio.rtp_ticks_per_frame)
                          if audio.one_byte_per_tick else None)
        self._dtmf = DtmfDecoder(telephone_event_rate or audio.clock_rate)
        self._events: list[Dtmf] = []
        super().__init__(
            audio.clock_rate,
            remote_rtp,
            remote_rtcp,
            rtcp_mux,
            ssrc=ssrc,
            cname=cname,
            wall_clock=wall_clock,
        )

    @classmethod
    def from_settings(
        cls,
        audio: AudioFormat,
        telephone_event_pt: int | None,
        remote_rtp: Address,
        remote_rtcp: Address,
        rtcp_mux: bool,
        settings: RtpSettings,
        **kwargs: object,
    ) -> RtpSession:
        return cls(
            audio,
            telephone_event_pt,
            remote_rtp,
            remote_rtcp,
            rtcp_mux,
            jitter_min_ms=settings.jitter_min_ms,
            jitter_max_ms=settings.jitter_max_ms,
            **kwargs,  # type: ignore[arg-type]
        )

    def receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        """A datagram from the RTP socket (which carries RTCP too under rtcp-mux)."""
        packet = self._parse_rtp(data, addr, now)
        if packet is None:
            return
        if packet.payload_type not in (self.audio.payload_type, self.telephone_event_pt):
            self.counters["unknown_pt"] += 1
            return
        if not self._accept_source(addr):
            return
        self._track_source(packet.ssrc, packet.sequence_number, packet.timestamp, now,
                           timed=packet.payload_type == self.audio.payload_type)
        self.counters["received"] += 1
        self.last_received = now
        if packet.payload_type == self.audio.payload_type:
            self._take_audio(packet, now)
        else:
            self._events += self._dtmf.feed(packet.payload, packet.timestamp, now)

    def receive_rtp_many(self, datas: list[bytes], addr: Address, now: float) -> None:
        """Packets that came together (a camera's TCP read), each as ``receive_rtp``."""
        for data in datas:
            self.receive_rtp(data, addr, now)

    def _take_audio(self, packet: RtpPacket, now: float) -> None:
        """One packet of the audio codec, into the jitter buffer (cut into 20 ms frames
        first where it is longer or shorter and the codec allows it)."""
        seq, ts, payload, marker = (packet.sequence_number, packet.timestamp,
                                    packet.payload, bool(packet.marker))
        if self._reframer is None:
            self._jitter.push(seq, ts, payload, now, marker)
            return
        for cut in self._reframer.push(seq, ts, payload, marker):
            self._jitter.push(cut.seq, cut.timestamp, cut.payload, now, cut.marker)

    def _new_source(self) -> None:
        self._jitter.reset()
        self._dtmf.reset()
        if self._reframer is not None:
            self._reframer.reset()

    def read_audio(self, now: float) -> EncodedAudio | None:
        """The next 20 ms frame, called once per mixer tick."""
        self.poll(now)
        return self._jitter.pop(now)

    def poll(self, now: float) -> None:
        """Time-driven work with no packet to trigger it (a DTMF end that was lost)."""
        self._events += self._dtmf.poll(now)

    def events(self) -> list[Dtmf]:
        events, self._events = self._events, []
        self.counters["dtmf_events"] += len(events)
        return events

    def packetize(self, frame: EncodedAudio, now: float) -> bytes:
        """One RTP packet for ``frame``; the timestamp keeps counting through silence
        (RFC 3551 section 4.1) and the marker flags the first packet after it."""
        marker = self._last_sent is None
        if self._last_sent is not None:
            gap = now - self._last_sent
            frames = round(gap / _FRAME_S) if gap > 1.5 * _FRAME_S else 1
            marker = frames > 1
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + frames * self.audio.rtp_ticks_per_frame) & 0xFFFFFFFF
        self._last_sent = now
        packet = RtpPacket(
            payload_type=self.audio.payload_type,
            marker=int(marker),
            sequence_number=self._seq,
            timestamp=self._ts,
            ssrc=self.ssrc,
            payload=frame.payload,
        )
        self.counters["packets_sent"] += 1
        self.counters["octets_sent"] += len(frame.payload)
        self._sent_since_report = True
        return packet.serialize()

    @property
    def stats(self) -> dict[str, float]:
        """Counters plus the jitter buffer's view, for logs and the admin API."""
        jb = self._jitter
        remote = self._remote
        return {
            **self.counters,
            **jb.stats,
            "jitter_ms": jb.jitter_s * 1000,
            "target_ms": jb.target_s * 1000,
            "delay_ms": jb.delay_s * 1000,
            "lost": remote.lost if remote else 0,
            **(self._reframer.stats if self._reframer is not None else {}),
        }


AAC_QUEUE_UNITS = 8  # access units waiting for a tick: a TCP burst, not a growing delay


class AacRtpSession(RtpSession):
    """The audio stream of an IP camera sending AAC (RFC 3640 ``mpeg4-generic``): the
    access units go to the mixer one per tick, as they come. They are longer than a
    tick (1024 samples: 21 ms at 48 kHz, 64 ms at 16 kHz), so the mixer's AAC decoder
    buffers the PCM and plays it on its own 20 ms grid: no jitter buffer here."""

    def __init__(self, audio: AudioFormat, telephone_event_pt: int | None,
                 remote_rtp: Address, remote_rtcp: Address, rtcp_mux: bool, *,
                 fmtp: Mapping[str, str], **kwargs: object) -> None:
        self._depacketizer = AacDepacketizer.from_fmtp(fmtp)  # ValueError: unusable fmtp
        self._units: deque[bytes] = deque(maxlen=AAC_QUEUE_UNITS)
        super().__init__(audio, telephone_event_pt, remote_rtp, remote_rtcp, rtcp_mux,
                         **kwargs)  # type: ignore[arg-type]

    def _take_audio(self, packet: RtpPacket, now: float) -> None:
        units = self._depacketizer.push(packet.payload, packet.sequence_number,
                                        packet.timestamp, bool(packet.marker))
        self._units.extend(unit.data for unit in units)

    def _new_source(self) -> None:
        super()._new_source()
        self._depacketizer.reset()
        self._units.clear()

    def read_audio(self, now: float) -> EncodedAudio | None:
        self.poll(now)
        return EncodedAudio(self._units.popleft()) if self._units else None

    @property
    def stats(self) -> dict[str, float]:
        return {**self.counters, **{f"aac_{k}": v for k, v in self._depacketizer.stats.items()},
                "lost": self._remote.lost if self._remote else 0,
                "queued_units": len(self._units)}
