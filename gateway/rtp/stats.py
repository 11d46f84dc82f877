"""RFC 3550 receiver statistics for one remote source: what an RTCP report block says."""

from __future__ import annotations

from aiortc.rtp import RtcpReceiverInfo, clamp_packets_lost

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def ntp_time(unix_seconds: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point)."""
    return int((unix_seconds + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits, as LSR and RTT use them (16.16 fixed point)."""
    return (ntp >> 16) & 0xFFFFFFFF


class ReceptionStats:
    """Sequence tracking (A.1), loss (A.3) and interarrival jitter (A.8)."""

    def __init__(self, ssrc: int, seq: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.base_seq = seq
        self.max_seq = seq  # extended
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit: float | None = None
        self.jitter = 0.0  # RTP timestamp units, as the report carries it

    def update(self, seq: int, timestamp: int, arrival: float, *, timed: bool = True) -> None:
        """Count one packet; ``timed`` False keeps packets whose timestamp is not a
        sampling instant (telephone-event) out of the jitter."""
        self.received += 1
        delta = ((seq - self.max_seq + 0x8000) & 0xFFFF) - 0x8000
        if delta > 0:
            self.max_seq += delta
        if timed:
            self._update_jitter(timestamp, arrival)

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        transit = arrival * self.clock_rate - timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < 2**31:  # a timestamp wrap or jump is not jitter
                self.jitter += (d - self.jitter) / 16
        self._transit = transit

    @property
    def expected(self) -> int:
        return self.max_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        return self.expected - self.received

    def report_block(self, lsr: int, dlsr: int) -> RtcpReceiverInfo:
        """A report block; advances the interval used for the fraction lost."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=clamp_packets_lost(self.lost),
            highest_sequence=self.max_seq & 0xFFFFFFFF,
            jitter=int(self.jitter),
            lsr=lsr,
            dlsr=dlsr,
        )
