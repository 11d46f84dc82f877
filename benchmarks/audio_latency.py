"""Added audio latency through the MCU: mouth (A's send) to ear (B's receive), loopback.

An ``Mcu`` runs in this process on a uvloop loop. Two calls go into conference 1000
from our own UAC core (``SipEndpoint`` behind a ``SipTransport``), each offering PCMU
with RTP pointed at a raw UDP socket this benchmark owns. Both participants send one
20 ms PCMU packet every 20 ms on a drift-free clock (deadline n is start + n x 20 ms),
carrying low-level noise far below the VAD threshold. Every ~500 ms participant A
sends a loud 1 kHz burst of a few frames instead. B timestamps each packet as it
arrives and decodes it; the added latency of one burst is the arrival time at B of
the first loud frame minus the send time at A of the first loud frame. Bursts in the
first second (warm-up: jitter buffer and speaker choice settle) are not counted.

The baseline is the same measurement through a raw relay: one UDP socket on the same
loop that forwards every datagram from A to B as soon as it arrives.

The issue's goal is <= 60 ms at steady state: the jitter buffer's minimum delay plus
one 20 ms mixer tick.

    .venv/bin/python benchmarks/audio_latency.py [--quick] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import uvloop
from aiortc.rtp import RtpPacket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.media import AudioFormat  # noqa: E402
from gateway.sdp.negotiate import LocalSession, accept_answer, make_offer  # noqa: E402
from gateway.sip.endpoint import (  # noqa: E402
    CallAnswered,
    CallFailed,
    Event,
    SipCoreConfig,
    SipEndpoint,
)
from gateway.sip.transport import SipTransport  # noqa: E402
from mcu.app import Mcu  # noqa: E402
from mcu.mixer.codecs import make_decoder, make_encoder  # noqa: E402
from mcu.settings import Settings  # noqa: E402

HOST = "127.0.0.1"
ROOM = "1000"
RTP_MIN, RTP_MAX = 42000, 42999
PCMU = AudioFormat("PCMU", 0, 8000)
FRAME_S = 0.020
SAMPLES = 160
WARM_UP_S = 1.0
BURST_EVERY = 25  # frames: one burst every 500 ms
BURST_FRAMES = 3
NOISE_DBOV = -70.0  # well under the mixer's VAD "off" threshold (-50 dBov)
TONE_DBOV = -9.0
LOUD_DBOV = -30.0  # a received frame at least this loud carries the burst
GOAL_MS = 60.0

Address = tuple[str, int]


# --------------------------------------------------------------------------- the signal


class Talker:
    """PCMU payloads: noise, or a phase-continuous 1 kHz tone during a burst."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._encoder = make_encoder(PCMU)
        self._phase = 0
        self._noise_sigma = 32768 * 10 ** (NOISE_DBOV / 20)
        self._tone_peak = 32768 * 10 ** (TONE_DBOV / 20) * np.sqrt(2)

    def frame(self, loud: bool) -> bytes:
        if loud:
            n = np.arange(self._phase, self._phase + SAMPLES)
            pcm = self._tone_peak * np.sin(2 * np.pi * 1000 * n / 8000)
            self._phase += SAMPLES
        else:
            pcm = self._rng.normal(0.0, self._noise_sigma, SAMPLES)
        return self._encoder.encode(np.clip(pcm, -32768, 32767).astype(np.int16))


class RtpStream:
    """One participant's outgoing RTP: sequence numbers and timestamps in step."""

    def __init__(self) -> None:
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.first = True

    def packet(self, payload: bytes) -> bytes:
        data = RtpPacket(
            payload_type=PCMU.payload_type,
            marker=int(self.first),
            sequence_number=self.seq,
            timestamp=self.ts,
            ssrc=self.ssrc,
            payload=payload,
        ).serialize()
        self.first = False
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + SAMPLES) & 0xFFFFFFFF
        return data


# --------------------------------------------------------------------------- sockets


class Inbox(asyncio.DatagramProtocol):
    """A participant's socket: keeps (arrival time, datagram), or hands it on."""

    def __init__(self, forward: Callable[[bytes], None] | None = None) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self._forward = forward

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self._forward is not None:
            self._forward(data)
            return
        self.arrivals.append((time.perf_counter(), data))

    def sendto(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    @property
    def address(self) -> Address:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]


async def open_inbox(forward: Callable[[bytes], None] | None = None) -> Inbox:
    loop = asyncio.get_running_loop()
    _, inbox = await loop.create_datagram_endpoint(lambda: Inbox(forward), local_addr=(HOST, 0))
    return inbox


# --------------------------------------------------------------------------- measuring


@dataclass(slots=True)
class Run:
    """What one measured path produced: burst send times and B's arrivals."""

    bursts: list[float] = field(default_factory=list)  # send time of each first loud frame


async def talk(a: Inbox, b: Inbox, to_a: Address, to_b: Address, seconds: float) -> Run:
    """Both participants send a frame every 20 ms; A bursts every BURST_EVERY frames."""
    talkers, streams = (Talker(1), Talker(2)), (RtpStream(), RtpStream())
    run = Run()
    frames = round((WARM_UP_S + seconds) / FRAME_S)
    start = time.perf_counter()
    for n in range(frames):
        delay = start + n * FRAME_S - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        phase = n % BURST_EVERY
        loud = n * FRAME_S >= WARM_UP_S and phase < BURST_FRAMES
        packet_a = streams[0].packet(talkers[0].frame(loud))
        packet_b = streams[1].packet(talkers[1].frame(False))
        if loud and phase == 0:
            run.bursts.append(time.perf_counter())
        a.sendto(packet_a, to_a)
        b.sendto(packet_b, to_b)
    await asyncio.sleep(0.2)  # let the last burst come through
    return run


def loud_onsets(arrivals: list[tuple[float, bytes]]) -> list[float]:
    """Arrival times of the packets where B's audio turns loud."""
    decoder = make_decoder(PCMU)
    onsets, was_loud = [], False
    for at, data in arrivals:
        try:
            packet = RtpPacket.parse(data)
        except ValueError:
            continue  # RTCP (rtcp-mux)
        if packet.payload_type != PCMU.payload_type:
            continue
        pcm = decoder.decode(packet.payload).astype(np.float64)
        level = 10 * np.log10(max(np.mean(pcm**2), 1e-9) / 32768**2)
        loud = level >= LOUD_DBOV
        if loud and not was_loud:
            onsets.append(at)
        was_loud = loud
    return onsets


def latencies_ms(bursts: list[float], onsets: list[float]) -> list[float]:
    """For each burst, the first onset after it and before the next burst."""
    out = []
    for k, sent in enumerate(bursts):
        until = bursts[k + 1] if k + 1 < len(bursts) else float("inf")
        after = [t for t in onsets if sent <= t < until]
        if after:
            out.append((after[0] - sent) * 1000)
    return out


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": float("nan"), "p95": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


# --------------------------------------------------------------------------- the raw relay


async def measure_relay(seconds: float) -> list[float]:
    """A → relay socket → B, forwarded at once; B's own packets go to a sink."""
    b = await open_inbox()
    relay: Inbox | None = None

    def forward(data: bytes) -> None:
        assert relay is not None
        relay.sendto(data, b.address)

    relay = await open_inbox(forward)
    a, sink = await open_inbox(), await open_inbox()
    try:
        run = await talk(a, b, relay.address, sink.address, seconds)
    finally:
        for inbox in (a, b, relay, sink):
            assert inbox.transport is not None
            inbox.transport.close()
    return latencies_ms(run.bursts, loud_onsets(b.arrivals))


# --------------------------------------------------------------------------- the MCU path


class Uac:
    """Our own SIP UAC: places calls into the MCU and hangs them up."""

    def __init__(self) -> None:
        self.endpoint = SipEndpoint(SipCoreConfig(local_host=HOST, local_port=0))
        self.transport = SipTransport(
            self.endpoint, HOST, 0, udp=True, tcp=False, on_events=self._on_events
        )
        self._answers: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        await self.transport.start()

    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            future = self._answers.get(getattr(event, "call", ""))
            if future is None or future.done():
                continue
            if isinstance(event, CallAnswered):
                future.set_result(event.sdp or b"")
            elif isinstance(event, CallFailed):
                future.set_exception(RuntimeError(f"call failed: {event.status} {event.reason}"))

    async def call(self, mcu_port: int, rtp: Address) -> tuple[str, Address]:
        """INVITE conference ROOM offering PCMU at ``rtp``; the MCU's RTP address."""
        offer = make_offer(rtp[0], rtp[1], ["PCMU"], LocalSession())
        handle = self.endpoint.invite(
            f"sip:{ROOM}@{HOST}:{mcu_port}",
            (HOST, mcu_port),
            "udp",
            from_user="bench",
            sdp=offer,
            local=self.transport.local_address(HOST),
        )
        future = self._answers[handle] = asyncio.get_running_loop().create_future()
        self.transport.flush()
        answer = await asyncio.wait_for(future, 5.0)
        return handle, accept_answer(offer, answer).remote_rtp

    async def hang_up(self, handles: list[str]) -> None:
        for handle in handles:
            self.endpoint.hangup(handle, "normal")
        self.transport.flush()
        await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.transport.close()


def free_udp_port() -> int:
    """A loopback UDP port outside the RTP range (the MCU listens on UDP only here)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if not RTP_MIN <= port <= RTP_MAX:
            return port


def mcu_settings() -> Settings:
    return Settings(
        sip={"host": HOST, "port": free_udp_port(), "tcp": False},
        rtp={"port_min": RTP_MIN, "port_max": RTP_MAX},
        http={"port": 0},
        rtsp={"port": 0}, h323={"port": 0},
        database={"url": f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='mcu-bench-')}/mcu.db"},
        log={"level": "WARNING"},
    )


def mcu_diagnostics(mcu: Mcu) -> dict[str, float]:
    """The MCU's view: A's jitter buffer (target, mean wait) and the mixer clock."""
    out: dict[str, float] = {}
    calls = [c for c in mcu.gateway("sip").calls.values() if c.media.audio is not None]
    if calls:
        stats = calls[0].media.audio.session.stats  # type: ignore[union-attr]
        out["jitter_target_ms"] = round(stats["target_ms"], 1)
        out["jitter_wait_ms"] = round(stats["delay_ms"], 1)
        out["jitter_stretched"] = stats["stretched"]
        out["jitter_skipped"] = stats["skipped"]
    conference = mcu.directory.get(ROOM)
    clock = getattr(conference, "_clock", None)  # private: diagnostics only
    if clock is not None:
        out["mix_ticks_dropped"] = clock.dropped
        out["mix_ticks_late"] = clock.late
    return out


async def measure_mcu(seconds: float) -> tuple[list[float], dict[str, float]]:
    mcu = Mcu(mcu_settings())
    await mcu.start()
    uac = Uac()
    await uac.start()
    a, b = await open_inbox(), await open_inbox()
    try:
        port = mcu.gateway("sip").transport.port
        handle_a, to_a = await uac.call(port, a.address)
        handle_b, to_b = await uac.call(port, b.address)
        run = await talk(a, b, to_a, to_b, seconds)
        diagnostics = mcu_diagnostics(mcu)
        await uac.hang_up([handle_a, handle_b])
    finally:
        await mcu.stop()
        await uac.close()
        for inbox in (a, b):
            assert inbox.transport is not None
            inbox.transport.close()
    diagnostics["bursts_sent"] = len(run.bursts)
    return latencies_ms(run.bursts, loud_onsets(b.arrivals)), diagnostics


# --------------------------------------------------------------------------- entry points


async def _measure(seconds: float) -> dict[str, object]:
    added, diagnostics = await measure_mcu(seconds)
    raw = await measure_relay(seconds)
    ours, base = summary(added), summary(raw)
    result: dict[str, object] = {
        "added_latency_ms_median": round(ours["median"], 2),
        "added_latency_ms_p95": round(ours["p95"], 2),
        "added_latency_ms_max": round(ours["max"], 2),
        "raw_relay_latency_ms_median": round(base["median"], 3),
        "added_latency_vs_raw_ratio": round(ours["median"] / base["median"], 1)
        if base["median"] > 0
        else None,
        "added_latency_bursts_measured": len(added),
        "added_latency_goal_ms": GOAL_MS,
    }
    result.update({f"added_latency_{k}": v for k, v in diagnostics.items()})
    return result


def measure_added_latency(seconds: float = 10.0) -> dict[str, object]:
    """Run the MCU and the raw relay for ``seconds`` each (after a 1 s warm-up)."""
    return uvloop.run(_measure(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--quick", action="store_true", help="a short run (3 s)")
    args = parser.parse_args()
    print(json.dumps(measure_added_latency(3.0 if args.quick else args.seconds)))


if __name__ == "__main__":
    main()
