"""The conference audio mixer: K loudest speakers, one shared mix per codec.

A tick is split so the event loop never waits on DSP:

* ``collect()`` on the loop: read one encoded payload from every leg (cheap);
* ``mix(collected)`` anywhere, typically a worker thread: decode, level, voice
  activity, speaker choice, mixing, encoding (numpy and PyAV release the GIL);
* ``deliver(outputs)`` on the loop: hand each leg its frame.

Only the K selected speakers are resampled to 48 kHz and mixed. Each speaker gets the
mix minus itself, encoded for it alone; every other leg gets the one shared mix of its
codec (``AudioFormat.key``), encoded once: the same ``EncodedAudio`` object goes to
each of them, so the cost of a listener is one ``write_audio`` call.

A two-party gateway call (``relay``, issue 13) whose parties share a codec skips all
of that: each gets the other's payload as it came (``_relay``), transcoded only while
the codecs differ or something of the conference must be heard (a prompt, a mute,
tones listened for).

Threading contract: ``add``/``remove``/``set_mute_*``/``collect``/``deliver``/``events``
run on the loop; ``mix`` calls never overlap (the clock drops a tick rather than queue
one) and only ``mix`` touches codec and VAD state.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gateway.dtmf.inband import InbandDtmfDetector
from gateway.leg import Dtmf
from gateway.media import FRAME_MS, INTERNAL_RATE, AudioFormat, EncodedAudio
from mcu.mixer.codecs import (
    Decoder,
    Encoder,
    G711Decoder,
    decode_g711_batch,
    make_decoder,
    make_encoder,
    samples_per_frame,
)
from mcu.mixer.resample import Downsampler, Upsampler
from mcu.settings import MixerSettings

log = logging.getLogger(__name__)

SILENCE_DBOV = -127.0
"""Level floor (RFC 6464's range ends at -127 dBov)."""

RANK_RELEASE_DB = 1.0
"""How fast (dB per tick) a speaker's ranking level falls after a loud frame.

Ranking on a peak-hold level rather than the raw 20 ms level keeps the speaker set
from flapping between syllables when more than K people talk at once."""

SWITCH_MARGIN_DB = 3.0
"""How much louder a newcomer must be to displace a mixed speaker (or the top one)."""

INTERNAL_SAMPLES = samples_per_frame(INTERNAL_RATE)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    leg_id: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    leg_id: str


@dataclass(frozen=True, slots=True)
class SpeakerStarted:
    """The leg entered the mixed speaker set."""

    leg_id: str


@dataclass(frozen=True, slots=True)
class SpeakerStopped:
    leg_id: str


@dataclass(frozen=True, slots=True)
class ActiveSpeakerChanged:
    """The loudest mixed speaker changed (None: nobody speaks)."""

    leg_id: str | None


@dataclass(frozen=True, slots=True)
class TonesDetected:
    """In-band DTMF found in a leg's decoded audio."""

    leg_id: str
    dtmf: Dtmf


MixerEvent = (
    ParticipantJoined | ParticipantLeft | SpeakerStarted | SpeakerStopped | ActiveSpeakerChanged
    | TonesDetected
)


class PromptSource(Protocol):
    """What an isolated leg hears: 20 ms of 48 kHz PCM per tick, None for silence."""

    def next_frame(self) -> np.ndarray | None: ...


class AudioLeg(Protocol):
    """The part of ``gateway.leg.Leg`` the mixer uses."""

    id: str
    audio_format: AudioFormat | None

    @property
    def audio_sending(self) -> bool: ...

    def read_audio(self) -> EncodedAudio | None: ...

    def write_audio(self, frame: EncodedAudio) -> None: ...


# --------------------------------------------------------------------------- per-leg state


class _LegState:
    """Everything the mixer keeps per leg; codec/VAD fields are touched only by mix()."""

    __slots__ = (
        "leg", "id", "seq", "fmt", "decoder", "mute_in", "mute_out", "vad_active",
        "hangover_ms", "rank_level", "upsampler", "own_encoder", "own_downsampler", "key",
        "prompt", "detect_tones", "detector",
    )  # fmt: skip

    def __init__(self, leg: AudioLeg, seq: int, fmt: AudioFormat) -> None:
        self.leg = leg
        self.id = leg.id
        self.seq = seq  # join order: the stable tie-break
        self.mute_in = False
        self.mute_out = False
        # Isolated (lobby, attendant, waiting room): hears only this, adds nothing.
        self.prompt: PromptSource | None = None
        self.detect_tones = False  # in-band DTMF wanted (set on the loop)
        self.reset_codec(fmt)

    def reset_codec(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self.key = fmt.key  # cached: the property costs a str.upper() per call per leg
        self.decoder: Decoder = make_decoder(fmt)
        self.vad_active = False
        self.hangover_ms = 0
        self.rank_level = SILENCE_DBOV
        self.upsampler: Upsampler | None = None
        self.own_encoder: Encoder | None = None
        self.own_downsampler: Downsampler | None = None
        self.detector: InbandDtmfDetector | None = None  # made and fed by mix() only


@dataclass(frozen=True, slots=True)
class Entry:
    """One leg's input for one tick, snapshotted on the loop."""

    state: _LegState
    fmt: AudioFormat
    payload: bytes | None
    mute_in: bool
    mute_out: bool
    isolated: bool = False
    prompt_pcm: np.ndarray | None = None  # what an isolated leg hears this tick (48 kHz)
    detect_tones: bool = False
    listens: bool = True  # False: nothing we send reaches it (a camera): nothing encoded


@dataclass(frozen=True, slots=True)
class Collected:
    tick: int
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class MixOutputs:
    tick: int
    writes: tuple[tuple[_LegState, EncodedAudio], ...]
    events: tuple[MixerEvent, ...]


def dbov(frames: np.ndarray) -> np.ndarray:
    """RMS level of each row of an (n, samples) int16 array, dB below full scale."""
    x = frames.astype(np.float32)
    power = np.einsum("ij,ij->i", x, x) / (frames.shape[1] * 32768.0 * 32768.0)
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power), SILENCE_DBOV)


def _saturate(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------- the mixer


class AudioMixer:
    def __init__(self, settings: MixerSettings | None = None, *, relay: bool = False) -> None:
        self.settings = settings or MixerSettings()
        self.relay = relay  # a two-party gateway call: pass frames through where it can
        self.relayed = 0  # frames passed through untouched (mix() counts)
        self._relaying = False  # the last tick passed its frames through
        self._legs: dict[str, _LegState] = {}
        self._silent: set[str] = set()  # legs without audio (cameras): in, never mixed
        self._seq = itertools.count()
        self._tick = 0
        self._events: deque[MixerEvent] = deque(maxlen=1024)  # bounded if nobody drains
        # mix()-only state: shared streams, keyed by rate / codec key.
        self._shared_down: dict[int, Downsampler] = {}
        self._shared_enc: dict[tuple[str, int], Encoder] = {}
        self._silence_enc: dict[tuple[str, int], Encoder] = {}
        self._speakers: tuple[str, ...] = ()  # chosen last tick, loudest first
        self._personal: set[str] = set()  # legs that got their own mix last tick
        self._levels: dict[str, float] = {}

    @property
    def encoders(self) -> int:
        """Encoders held now: one shared per codec, one for silence per codec (muted
        listeners), and each listener's own (kept once it has been isolated or heard a
        personal mix, so its codec state carries on)."""
        own = sum(1 for leg in list(self._legs.values()) if leg.own_encoder is not None)
        return len(self._shared_enc) + len(self._silence_enc) + own

    # ---- control (on the loop)

    def add(self, leg: AudioLeg) -> None:
        """A leg joins the mix. One without audio (a camera) is accepted and never
        read, mixed or written: controls on it do nothing."""
        if leg.id in self._legs or leg.id in self._silent:
            raise ValueError(f"leg {leg.id} is already in the mix")
        if leg.audio_format is None:
            self._silent.add(leg.id)
            return
        self._legs[leg.id] = _LegState(leg, next(self._seq), leg.audio_format)
        self._events.append(ParticipantJoined(leg.id))

    def remove(self, leg_id: str) -> None:
        self._silent.discard(leg_id)
        if self._legs.pop(leg_id, None) is not None:
            self._events.append(ParticipantLeft(leg_id))

    def _with_audio(self, leg_id: str) -> _LegState | None:
        state = self._legs.get(leg_id)
        if state is None and leg_id not in self._silent:
            raise KeyError(leg_id)
        return state

    def set_mute_in(self, leg_id: str, muted: bool) -> None:
        if state := self._with_audio(leg_id):
            state.mute_in = muted

    def set_mute_out(self, leg_id: str, muted: bool) -> None:
        if state := self._with_audio(leg_id):
            state.mute_out = muted

    def isolate(self, leg_id: str, prompt: PromptSource | None) -> None:
        """Take the leg out of the conference audio both ways; it hears ``prompt`` instead
        (lobby, attendant, waiting room). ``None`` puts it back in the conference."""
        if state := self._with_audio(leg_id):
            state.prompt = prompt

    def detect_tones(self, leg_id: str, on: bool) -> None:
        """Look for in-band DTMF in this leg's audio (raises ``TonesDetected``)."""
        if state := self._with_audio(leg_id):
            state.detect_tones = on

    def __contains__(self, leg_id: object) -> bool:
        return leg_id in self._legs or leg_id in self._silent

    def __len__(self) -> int:
        return len(self._legs)

    @property
    def levels(self) -> dict[str, float]:
        """dBov of each leg's last frame (replaced whole each tick, so safe to read)."""
        return self._levels

    @property
    def speakers(self) -> tuple[str, ...]:
        """The legs mixed in the last tick, loudest first."""
        return self._speakers

    def events(self) -> list[MixerEvent]:
        """Drain the events raised since the last call."""
        drained = list(self._events)
        self._events.clear()
        return drained

    # ---- the tick

    def tick(self) -> MixOutputs:
        """collect, mix and deliver in one go (tests, or a caller without a clock)."""
        outputs = self.mix(self.collect())
        self.deliver(outputs)
        return outputs

    def collect(self) -> Collected:
        """Read one payload from every leg. On the loop; no decoding here."""
        self._tick += 1
        entries = []
        for st in self._legs.values():
            try:
                frame = st.leg.read_audio()
            except Exception:  # one broken leg must not stop everyone's audio
                log.exception("read_audio failed on leg %s", st.id)
                frame = None
            fmt = st.leg.audio_format or st.fmt
            payload = frame.payload if frame is not None else None
            prompt = st.prompt
            # The prompt cursor is advanced here, on the loop, where it is also replaced.
            pcm = prompt.next_frame() if prompt is not None else None
            entries.append(Entry(st, fmt, payload, st.mute_in, st.mute_out,
                                 prompt is not None, pcm, st.detect_tones,
                                 st.leg.audio_sending))
        return Collected(self._tick, tuple(entries))

    def deliver(self, outputs: MixOutputs) -> None:
        """Hand out the encoded frames. On the loop; skips legs removed meanwhile."""
        legs = self._legs
        for st, frame in outputs.writes:
            if legs.get(st.id) is st:
                try:
                    st.leg.write_audio(frame)
                except Exception:
                    log.exception("write_audio failed on leg %s", st.id)
        self._events.extend(outputs.events)

    def mix(self, collected: Collected) -> MixOutputs:
        """Decode, choose speakers, mix, encode. Pure CPU: run it off the loop."""
        entries = collected.entries
        pair = _relay_pair(entries) if self.relay else None
        if pair is not None:
            return self._relay(collected.tick, pair)
        for e in entries:
            # A renegotiated codec (re-INVITE) starts from fresh codec state, and so
            # does one whose frames were passed through: its decoder missed them.
            if self._relaying or (e.fmt is not e.state.fmt and e.fmt != e.state.fmt):
                e.state.reset_codec(e.fmt)
        self._relaying = False
        groups = _decode_all(entries)
        tones = _detect_tones(entries, groups)
        levels = np.full(len(entries), SILENCE_DBOV, np.float32)
        for group in groups.values():  # metering at the native rate: no resampling
            levels[group.index] = dbov(group.frames)
        chosen = self._vad_and_choose(entries, levels)
        own, total = self._mix(entries, groups, chosen)
        writes = self._encode_outputs(entries, own, total)
        ids = tuple(entries[i].state.id for i in chosen)
        events: list[MixerEvent] = [*self._speaker_events(ids), *tones]
        self._speakers = ids
        # Isolated legs keep their own encoder and filter too, tick after tick.
        self._personal = {entries[i].state.id for i in own}
        self._personal.update(e.state.id for e in entries if e.isolated)
        self._levels = dict(zip([e.state.id for e in entries], levels.tolist(), strict=True))
        return MixOutputs(collected.tick, tuple(writes), tuple(events))

    def _relay(self, tick: int, pair: tuple[Entry, Entry]) -> MixOutputs:
        """Each of two parties gets the other's frame as it came; a frame the sender
        did not send (loss, silence suppression) is silence, so the receiver's RTP
        clock runs on."""
        writes = []
        for source, viewer in (pair, pair[::-1]):
            frame = (EncodedAudio(source.payload) if source.payload is not None
                     else self._silence(viewer.fmt))
            writes.append((viewer.state, frame))
        self.relayed += sum(1 for e in pair if e.payload is not None)
        events = self._speaker_events(())
        self._speakers, self._personal, self._relaying = (), set(), True
        self._levels = {e.state.id: SILENCE_DBOV for e in pair}
        return MixOutputs(tick, tuple(writes), tuple(events))

    # ---- mix() steps

    def _vad_and_choose(self, entries: tuple[Entry, ...], levels: np.ndarray) -> list[int]:
        """Hysteresis VAD on every leg, then the K loudest talking legs, loudest first."""
        s = self.settings
        on, off, hang = s.vad_on_dbov, s.vad_off_dbov, s.vad_hangover_ms
        previous = set(self._speakers)
        top = self._speakers[0] if self._speakers else None
        candidates = []
        for i, (e, level) in enumerate(zip(entries, levels.tolist(), strict=True)):
            st = e.state
            if level >= on:
                st.vad_active, st.hangover_ms = True, hang
            elif st.vad_active and level < off:
                # Below "off": count the hangover down; between the thresholds: hold.
                st.hangover_ms -= FRAME_MS
                st.vad_active = st.hangover_ms > 0
            st.rank_level = max(level, st.rank_level - RANK_RELEASE_DB)
            if st.vad_active and not e.mute_in and not e.isolated:
                # Incumbents keep their place unless beaten by SWITCH_MARGIN_DB; exact
                # ties go to whoever is already mixed, then to whoever joined first.
                incumbent = st.id in previous
                score = st.rank_level + SWITCH_MARGIN_DB * (incumbent + (st.id == top))
                candidates.append((-score, not incumbent, st.seq, i))
        candidates.sort()
        return [c[3] for c in candidates[: s.speakers]]

    def _mix(
        self, entries: tuple[Entry, ...], groups: dict[tuple[str, int], _Group], chosen: list[int]
    ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Sum the chosen legs at 48 kHz; returns each mixed leg's own part and the total.

        A newly chosen leg fades in over one frame and a dropped one fades out over
        one frame, so changing speakers never clicks. Only these legs are resampled.
        """
        was = set(self._speakers)
        kept = {entries[i].state.id for i in chosen}
        gone = was - kept
        fading = [i for i, e in enumerate(entries) if e.state.id in gone] if gone else []
        own: dict[int, np.ndarray] = {}
        total = np.zeros(INTERNAL_SAMPLES, np.int32)
        for i in chosen + fading:
            st = entries[i].state
            fresh = st.id not in was
            if fresh or st.upsampler is None:
                st.upsampler = Upsampler(st.fmt.sample_rate)  # history is stale: restart
            x = st.upsampler.process(_frame_of(groups, st.key, i))
            if fresh:
                x = (x * _FADE_IN).astype(np.int16)
            elif i in fading:
                x = (x * _FADE_OUT).astype(np.int16)
            own[i] = x
            total += x
        return own, total

    def _encode_outputs(
        self, entries: tuple[Entry, ...], own: dict[int, np.ndarray], total: np.ndarray
    ) -> list[tuple[_LegState, EncodedAudio]]:
        """One frame per leg: silence, a personal mix-minus, or the shared mix of its codec."""
        shared: dict[tuple[str, int], EncodedAudio] = {}
        silence: dict[tuple[str, int], EncodedAudio] = {}
        shared_pcm: dict[int, np.ndarray] = {}
        writes = []
        for i, e in enumerate(entries):
            key = e.state.key
            if not e.listens:
                continue
            if e.isolated:
                pcm = e.prompt_pcm if e.prompt_pcm is not None else _SILENCE_48K
                frame = self._personal_frame(e, pcm, from_shared=False)
            elif e.mute_out:
                frame = silence.get(key) or silence.setdefault(key, self._silence(e.fmt))
            elif i in own:
                frame = self._personal_frame(e, _saturate(total - own[i]))
            else:
                frame = shared.get(key)
                if frame is None:
                    pcm = self._shared_pcm(shared_pcm, e.fmt.sample_rate, total)
                    frame = shared[key] = EncodedAudio(self._shared_encoder(e.fmt).encode(pcm))
            writes.append((e.state, frame))
        return writes

    def _shared_pcm(self, cache: dict[int, np.ndarray], rate: int, total: np.ndarray) -> np.ndarray:
        """The everyone-hears mix at one rate, downsampled once for all codecs of that rate."""
        if rate not in cache:
            down = self._shared_down.get(rate) or self._shared_down.setdefault(
                rate, Downsampler(rate)
            )
            cache[rate] = down.process(_saturate(total))
        return cache[rate]

    def _shared_encoder(self, fmt: AudioFormat) -> Encoder:
        enc = self._shared_enc.get(fmt.key)
        if enc is None:
            enc = self._shared_enc[fmt.key] = make_encoder(fmt)
        return enc

    def _silence(self, fmt: AudioFormat) -> EncodedAudio:
        """Muted-out legs still get a frame each tick (their RTP clock keeps running)."""
        enc = self._silence_enc.get(fmt.key)
        if enc is None:
            enc = self._silence_enc[fmt.key] = make_encoder(fmt)
        return EncodedAudio(enc.encode(np.zeros(samples_per_frame(fmt.sample_rate), np.int16)))

    def _personal_frame(self, e: Entry, pcm48: np.ndarray, from_shared: bool = True
                        ) -> EncodedAudio:
        st = e.state
        rate = e.fmt.sample_rate
        if st.id not in self._personal or st.own_downsampler is None:
            # Leaving the shared mix: carry on from its filter state, no click. An
            # isolated leg starts clean instead: nothing of the conference may leak.
            st.own_downsampler = Downsampler(rate)
            if from_shared and rate in self._shared_down:
                st.own_downsampler.copy_state(self._shared_down[rate])
        if st.own_encoder is None:
            st.own_encoder = make_encoder(e.fmt)
        return EncodedAudio(st.own_encoder.encode(st.own_downsampler.process(pcm48)))

    def _speaker_events(self, now: tuple[str, ...]) -> list[MixerEvent]:
        before = self._speakers
        events: list[MixerEvent] = [SpeakerStopped(i) for i in before if i not in now]
        events += [SpeakerStarted(i) for i in now if i not in before]
        top_before = before[0] if before else None
        top_now = now[0] if now else None
        if top_now != top_before:
            events.append(ActiveSpeakerChanged(top_now))
        return events


# --------------------------------------------------------------------------- helpers


def _relay_pair(entries: tuple[Entry, ...]) -> tuple[Entry, Entry] | None:
    """The two parties of a tick that may pass their frames to each other untouched:
    both hear only each other (no prompt, no mute, no tones listened for), they share
    a codec, and each frame is one 20 ms frame (what the receiving leg's clock counts)."""
    if len(entries) != 2:
        return None
    first, second = entries
    if first.fmt.key != second.fmt.key or first.fmt.channels != second.fmt.channels:
        return None
    for e in entries:
        if (e.isolated or e.mute_in or e.mute_out or e.detect_tones or not e.listens
                or not _one_frame(e.fmt, e.payload)):
            return None
    return first, second


def _one_frame(fmt: AudioFormat, payload: bytes | None) -> bool:
    """Whether ``payload`` holds exactly 20 ms (None, no frame, counts)."""
    if payload is None:
        return True
    if fmt.one_byte_per_tick:
        return len(payload) == fmt.rtp_ticks_per_frame
    if fmt.name.upper() == "OPUS":
        return opus_duration_ms(payload) == FRAME_MS
    return False  # AAC and the rest: their frames are not cut at 20 ms


def opus_duration_ms(packet: bytes) -> float:
    """An Opus packet's length from its TOC byte (RFC 6716 section 3.1); 0 if unreadable."""
    if not packet:
        return 0.0
    toc = packet[0]
    config, code = toc >> 3, toc & 0x3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame_ms = (10.0, 20.0, 40.0, 60.0)[config % 4]
    elif config < 16:  # hybrid: 10, 20 ms
        frame_ms = (10.0, 20.0)[config % 2]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame_ms = (2.5, 5.0, 10.0, 20.0)[config % 4]
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame_ms * frames


_SILENCE_48K = np.zeros(INTERNAL_SAMPLES, np.int16)
_FADE_IN = np.linspace(0.0, 1.0, INTERNAL_SAMPLES, dtype=np.float32)
_FADE_OUT = _FADE_IN[::-1].copy()


@dataclass(slots=True)
class _Group:
    """The decoded frames of every leg sharing one codec key."""

    index: np.ndarray  # entry positions, ascending
    frames: np.ndarray  # (len(index), samples) int16


def _decode_all(entries: tuple[Entry, ...]) -> dict[tuple[str, int], _Group]:
    """Decode every leg, mixed or not: codec state must advance every tick.

    G.711 legs of one law decode together in a single table lookup.
    """
    positions: dict[tuple[str, int], list[int]] = {}
    for i, e in enumerate(entries):
        positions.setdefault(e.state.key, []).append(i)
    groups = {}
    for key, idx in positions.items():
        decoders = [entries[i].state.decoder for i in idx]
        payloads = [entries[i].payload for i in idx]
        if isinstance(decoders[0], G711Decoder):
            frames = decode_g711_batch(decoders, payloads)  # type: ignore[arg-type]
        else:
            frames = np.stack([d.decode(p) for d, p in zip(decoders, payloads, strict=True)])
        groups[key] = _Group(np.asarray(idx), frames)
    return groups


def _detect_tones(
    entries: tuple[Entry, ...], groups: dict[tuple[str, int], _Group]
) -> list[MixerEvent]:
    """Feed the decoded frame of every leg that asked for in-band DTMF detection."""
    found: list[MixerEvent] = []
    for i, e in enumerate(entries):
        st = e.state
        if not e.detect_tones:
            st.detector = None  # switched off: the next switch-on starts clean
            continue
        if st.detector is None or st.detector.sample_rate != st.fmt.sample_rate:
            st.detector = InbandDtmfDetector(st.fmt.sample_rate)
        for dtmf in st.detector.feed(_frame_of(groups, st.key, i)):
            found.append(TonesDetected(st.id, dtmf))
    return found


def _frame_of(groups: dict[tuple[str, int], _Group], key: tuple[str, int], i: int) -> np.ndarray:
    group = groups[key]
    return group.frames[int(np.searchsorted(group.index, i))]
