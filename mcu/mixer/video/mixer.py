"""The conference video mixer: continuous presence, each piece of work done once.

A tick (driven by ``MixClock`` at the configured frame rate, drift-free) is split so
the event loop never waits on pixels, like the audio mixer's:

* ``collect()`` on the loop: read every leg's newly received pictures, plan who sees
  what (``views.plan_views``), and ask senders for key frames where a picture is
  needed and cannot be decoded (join, becoming visible, loss, decoder error);
* ``prepare(collected)`` in the clock's first-stage thread: decode the inputs someone
  sees; the clock overlaps it with the previous tick's ``mix`` (``MixClock``
  ``pipelined``, issue 14), so decoders are touched by this stage only;
* ``mix(prepared)`` in the clock's worker thread: take the decoded pictures, scale
  each once per (input, cell size), compose each distinct picture once, encode it once
  per distinct (stream owner, codec, size, rate, bit rate). Both stages fan out over a
  bounded pool shared by all conferences (PyAV releases the GIL; a stage with one job
  runs it in its own thread instead, sparing two thread switches);
* ``deliver(outputs)`` on the loop: hand each leg its encoded picture.

Inputs nobody sees are not decoded; their pictures are dropped and the input waits for
a key frame (asked for when it becomes visible). A late input repeats its last
picture; one silent for ``stalled_after_s`` shows the camera-off slate, never a
frozen picture. A leg that moves to another stream (it started or stopped being
shown, left the lobby) gets nothing until that stream's next key frame, which is
requested at once; ``KeyFrameGate`` keeps each encoder to one requested IDR per
``keyframe_min_interval_s`` however many viewers ask.

A two-party gateway call (``relay``, issue 13) sends a viewer who sees the other
party alone and full screen that party's own pictures where it takes them
(``relay.PictureRelay``): such a viewer leaves the tick's plans, and its sender is
decoded only if someone else sees it.

Threading contract as in ``mcu.mixer.audio``: the setters, ``collect``, ``deliver``
run on the loop; ``prepare`` calls never overlap and alone touch the decoders; ``mix``
calls never overlap and alone touch pictures and encoders.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import av

from gateway.leg import Leg, VideoSizeLeg
from gateway.media import EncodedVideo, VideoSendFormat
from layouts.geometry import Cell, Rect, fit
from layouts.registry import DEFAULT_LAYOUT, Layout, LayoutRegistry
from mcu.keyframes import AskReason, KeyFrameAsker, KeyFrameGate
from mcu.mixer.clock import MixClock
from mcu.mixer.pool import DeadlinePool
from mcu.mixer.video import overlay
from mcu.mixer.video.codecs import FIXED_SIZES, VideoDecoder, VideoEncoder, encoder_size
from mcu.mixer.video.picture import Patched, Picture, Scratch, scale
from mcu.mixer.video.relay import PictureRelay
from mcu.mixer.video.sizes import SizeAsker
from mcu.mixer.video.views import Owner, Room, ViewPlan, plan_views, shown_sizes, visible

if TYPE_CHECKING:
    from mcu.settings import VideoSettings

_J = TypeVar("_J")
_R = TypeVar("_R")
log = logging.getLogger(__name__)

LABEL_SHARE = 7  # a name label is 1/7 of its cell's height
MESSAGE_HEIGHT_SHARE = 6  # a message box is 1/6 of the picture's height
BACKGROUND = (0, 0, 0)  # empty cells and letterbox bars
KEYFRAME_INTERVAL_S = 10.0  # periodic IDRs, for receivers that never ask
WATCHING = "watching"  # the state of a watcher: sees the common picture, is never shown

EncoderKey = tuple[Owner, tuple[object, ...]]


@dataclass(slots=True)
class _Input:
    """A participant as the video mixer sees it (loop side)."""

    leg: Leg
    name: str
    state: str = "lobby"  # lobby / waiting / connected as the conference says; watching
    muted: bool = False  # video withheld (guests_send_video false)
    layout: str | None = None
    message: str | None = None
    shape: str = "widescreen"  # or "standard": 4:3 inside what the peer receives
    panes: tuple[str | None, ...] | None = None  # custom layout: who in which cell
    asker: KeyFrameAsker | None = None
    sizer: SizeAsker | None = None  # asks the sender for the size it is shown at
    shown: bool = False
    wants_idr: bool = False  # the peer asked for a key frame from its stream


@dataclass(frozen=True, slots=True)
class Collected:
    now: float
    plans: dict[str, ViewPlan]
    formats: dict[str, VideoSendFormat]
    frames: dict[str, list[EncodedVideo]]  # visible inputs' new pictures
    resumed: frozenset[str]  # inputs visible again after a time unseen (undecoded)
    codecs: dict[str, str]  # input -> codec it sends
    names: dict[str, str]
    camera_off: frozenset[str]  # no video to show: muted, or sends none
    audio_only: frozenset[str]
    messages: dict[str, str]  # viewer -> message over their picture
    idr_for: frozenset[str]  # viewers whose stream must make a key frame
    layouts: dict[str, Layout]


@dataclass(frozen=True, slots=True)
class _Decoded:
    """One input's tick of decoding: its newest picture (None: nothing new)."""

    leg_id: str
    picture: av.VideoFrame | None
    count: int
    error: bool
    keyframe: bool


@dataclass(frozen=True, slots=True)
class Prepared:
    """A collected tick with its inputs decoded: what ``mix`` takes."""

    collected: Collected
    decoded: list[_Decoded]
    decode_s: float


@dataclass(frozen=True, slots=True)
class Composed:
    """A tick's pictures, one per stream: what the encode stage takes."""

    prepared: Prepared
    pictures: dict[EncoderKey, Picture | Patched]
    outputs: MixOutputs
    compose_s: float


@dataclass(slots=True)
class MixOutputs:
    tick_at: float = 0.0  # the ``now`` of the tick these outputs come from
    sends: list[tuple[EncodedVideo, tuple[str, ...]]] = field(default_factory=list)
    decode_errors: set[str] = field(default_factory=set)
    keyframes_in: set[str] = field(default_factory=set)
    work_s: float = 0.0


@dataclass(slots=True)
class _Stream:
    """One encoder and who watches it (worker side)."""

    encoder: VideoEncoder
    gate: KeyFrameGate
    next_due: float | None = None
    viewers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Target:
    """What one stream shows this tick; equal targets share one composed picture."""

    plan: ViewPlan
    size: tuple[int, int]
    message: str | None

    @property
    def content(self) -> tuple[object, ...]:
        """What the picture shows, whoever's stream it is for."""
        return (self.plan.layout, self.plan.shown, self.plan.slate, self.size, self.message)


@dataclass(slots=True)
class _Latest:
    frame: av.VideoFrame
    at: float
    serial: int


class VideoMixer:
    def __init__(
        self,
        settings: VideoSettings,
        pool: Executor,
        registry: LayoutRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        relay: bool = False,
    ) -> None:
        self.settings = settings
        self.relay = relay  # a two-party gateway call: pass pictures through where it can
        self._relay = PictureRelay()
        self._decoding: set[str] = set()  # inputs decoded last tick (loop side)
        self.registry = registry or settings.layout_registry()
        self.layout = settings.layout
        self._pool = pool
        self._clock = clock
        self._inputs: dict[str, _Input] = {}
        self.important: str | None = None
        self.speaker: str | None = None
        self.message: str | None = None  # over everyone's picture
        self._decoders: dict[str, VideoDecoder] = {}  # touched only by prepare()
        # worker state: touched only by mix()
        self._latest: dict[str, _Latest] = {}
        # (input, size, crop) -> (picture serial, name, scaled picture with its label)
        self._scaled: dict[tuple[str, int, int, Rect], tuple[int, str, Picture]] = {}
        self._streams: dict[EncoderKey, _Stream] = {}
        self._watching: dict[str, EncoderKey] = {}  # viewer -> its stream
        self._waiting_key: set[str] = set()  # switched streams: hold until a key frame
        self._pictures: dict[EncoderKey, Picture | Patched] = {}  # each stream's newest
        self._scratch = threading.local()  # each encoding thread's Scratch
        self._geometry: dict[tuple[str, int, tuple[int, int]], tuple[Cell, ...]] = {}
        self._serial = 0
        self._plan_key: object = None  # what the last plan was made from (on the loop)
        self._plans: dict[str, ViewPlan] = {}
        self._sizes_key: object = None  # what the last shown sizes were made from
        self._sizes: dict[str, tuple[int, int]] = {}
        self.counters: dict[str, float] = dict.fromkeys(
            ("ticks", "decoded", "encoded", "keyframes_forced", "scaled", "composed", "derived",
             "hidden_frames_dropped", "size_requests", "decode_s", "compose_s",
             "encode_s", "relayed"), 0)

    # ---- membership and state (on the loop)

    def add(self, leg: Leg) -> None:
        asker = None
        methods = leg.keyframe_methods if leg.video_format is not None else ()
        if methods:
            asker = KeyFrameAsker(methods,
                                  min_interval_s=self.settings.keyframe_min_interval_s)
        sizer = None
        if leg.video_format is not None and isinstance(leg, VideoSizeLeg):
            sizer = SizeAsker(min_interval_s=self.settings.keyframe_min_interval_s)
        self._inputs[leg.id] = _Input(leg, leg.display_name, asker=asker, sizer=sizer)

    def remove(self, leg_id: str) -> None:
        self._inputs.pop(leg_id, None)
        if self.important == leg_id:
            self.important = None
        if self.speaker == leg_id:
            self.speaker = None

    def __contains__(self, leg_id: object) -> bool:
        return leg_id in self._inputs

    def set_state(self, leg_id: str, state: str) -> None:
        if leg_id in self._inputs:
            self._inputs[leg_id].state = state

    def set_muted(self, leg_id: str, muted: bool) -> None:
        if leg_id in self._inputs:
            self._inputs[leg_id].muted = muted

    def set_name(self, leg_id: str, name: str) -> None:
        if leg_id in self._inputs:
            self._inputs[leg_id].name = name

    def set_layout(self, leg_id: str, layout: str | None) -> None:
        if leg_id in self._inputs:
            self._inputs[leg_id].layout = layout if layout in self.registry else None

    def set_conference_layout(self, layout: str | None) -> None:
        self.layout = layout if layout in self.registry else self.settings.layout

    def set_panes(self, leg_id: str, panes: list[str | None] | None) -> None:
        """A viewer's custom layout: who goes in which cell (None: the usual order)."""
        if leg_id in self._inputs:
            self._inputs[leg_id].panes = tuple(panes) if panes else None

    def set_shape(self, leg_id: str, shape: str) -> None:
        """Widescreen (16:9) or standard (4:3) pictures for this viewer."""
        if leg_id in self._inputs:
            self._inputs[leg_id].shape = shape

    def set_message(self, leg_id: str | None, text: str | None) -> None:
        if leg_id is None:
            self.message = text or None
        elif leg_id in self._inputs:
            self._inputs[leg_id].message = text or None

    def keyframe_requested(self, leg_id: str) -> None:
        """The peer asked (however its protocol asks) for a key frame of what it receives."""
        if leg_id in self._inputs:
            self._inputs[leg_id].wants_idr = True

    def keyframe_method_refused(self, leg_id: str, method: str) -> None:
        """The peer rejected a way of asking it for key frames: never use it again."""
        person = self._inputs.get(leg_id)
        if person is not None and person.asker is not None:
            person.asker.refused(method)

    def latest_picture(self, leg_id: str) -> av.VideoFrame | None:
        """The newest decoded picture of an input (for thumbnails)."""
        latest = self._latest.get(leg_id)
        return latest.frame if latest is not None else None

    def latest_view(self, leg_id: str) -> av.VideoFrame | None:
        """The newest picture composed for a viewer (for thumbnails)."""
        key = self._watching.get(leg_id)
        picture = self._pictures.get(key) if key is not None else None
        return picture.to_frame() if picture is not None else None

    @property
    def streams(self) -> int:
        return len(self._streams)

    # ---- the tick: collect (loop)

    def collect(self) -> Collected:
        now = self._clock()
        room = self._room()
        viewers = [i for i, p in self._inputs.items()
                   if p.leg.video_format is not None and p.leg.video_sending]
        layouts = {name: self._layout(name) for name in self._layouts_in_use()}
        plans = dict(self._plan(room, viewers, layouts))
        for viewer in viewers:  # a personal message makes a personal picture
            if self._inputs[viewer].message and plans[viewer].owner[0] == "shared":
                plans[viewer] = dataclasses.replace(plans[viewer], owner=("viewer", viewer))
        pictures = {leg_id: person.leg.read_video() for leg_id, person in self._inputs.items()}
        relay_sources = self._pass_through(plans, layouts, pictures, now) if self.relay else set()
        shown = visible(plans)  # the inputs to decode
        frames: dict[str, list[EncodedVideo]] = {}
        resumed = frozenset(i for i in shown if i not in self._decoding)
        self._decoding = shown
        for leg_id, person in self._inputs.items():
            if leg_id in shown:
                frames[leg_id] = pictures[leg_id]
            elif pictures[leg_id] and leg_id not in relay_sources:
                self.counters["hidden_frames_dropped"] += len(pictures[leg_id])
            was_shown = person.shown and leg_id not in resumed
            person.shown = leg_id in shown or leg_id in relay_sources
            self._ask_for_keyframes(person, was_shown, now)
        idr_for = frozenset(i for i in plans if self._inputs[i].wants_idr)
        for leg_id in idr_for:
            self._inputs[leg_id].wants_idr = False
        formats = {i: _shaped(self._inputs[i].leg.video_format, self._inputs[i].shape)  # type: ignore[arg-type]
                   for i in plans}
        self._ask_for_sizes(plans, formats, layouts, now)
        return Collected(
            now=now, plans=plans, formats=formats, frames=frames, resumed=resumed,
            codecs={i: p.leg.video_format.codec for i, p in self._inputs.items()
                    if p.leg.video_format is not None},
            names={i: p.name for i, p in self._inputs.items()},
            camera_off=frozenset(i for i, p in self._inputs.items()
                                 if p.muted or not p.leg.video_receiving),
            audio_only=frozenset(i for i, p in self._inputs.items()
                                 if p.leg.video_format is None),
            messages=self._messages(plans),
            idr_for=idr_for, layouts=layouts,
        )

    def _pass_through(self, plans: dict[str, ViewPlan], layouts: dict[str, Layout],
                      pictures: dict[str, list[EncodedVideo]], now: float) -> set[str]:
        """A gateway call's viewers who see the other party's own pictures (``relay``):
        each such viewer's pictures go out here and its plan is taken out of the
        tick (nothing composed or encoded for it). Returns the inputs relayed."""
        sources: set[str] = set()
        for viewer, plan in list(plans.items()):
            source = self._relay_source(viewer, plan, layouts)
            codec = None
            if source is not None:
                fmt = self._inputs[source].leg.video_format
                codec = fmt.codec if fmt is not None else None
            person = self._inputs[viewer]
            step = self._relay.step(viewer, source, codec, person.leg.video_format,
                                    pictures.get(source, []) if source else [])
            if source is not None and (step.ask_source or (step.relayed and person.wants_idr)):
                self._ask_relayed(source, now)
            for picture in step.passed:
                person.leg.write_video(picture)
            if any(picture.keyframe for picture in step.passed):
                self._relayed_keyframe(source, now)  # type: ignore[arg-type]
            self.counters["relayed"] += len(step.passed)
            if step.relayed:
                person.wants_idr = False  # asked of the sender instead
                del plans[viewer]
                sources.add(source)  # type: ignore[arg-type]
        self._relay.forget(set(self._inputs))
        return sources

    def _relay_source(self, viewer: str, plan: ViewPlan, layouts: dict[str, Layout]
                      ) -> str | None:
        """Who ``viewer`` sees alone, full screen and unlabelled over, or None."""
        person = self._inputs[viewer]
        if (plan.slate is not None or len(plan.shown) != 1 or plan.shown[0] is None
                or person.message or self.message or person.leg.video_format is None):
            return None
        source = self._inputs.get(plan.shown[0])
        if source is None or source.muted or not source.leg.video_receiving:
            return None
        fmt = person.leg.video_format
        cells = layouts[plan.layout].cells(1, fmt.width, fmt.height)
        whole = (0, 0, fmt.width, fmt.height)
        if len(cells) != 1 or (cells[0].x, cells[0].y, cells[0].width, cells[0].height) != whole:
            return None
        return plan.shown[0]

    def _relayed_keyframe(self, source: str, now: float) -> None:
        """A key frame passed through answers what its sender was asked (decoding, which
        otherwise tells the asker, skips it), so the asker stops asking."""
        asker = self._inputs[source].asker
        if asker is not None:
            asker.received(now)

    def _ask_relayed(self, source: str, now: float) -> None:
        """A relayed viewer needs a key frame: only its sender can make one."""
        person = self._inputs[source]
        action = person.asker.ask(now, AskReason.VISIBLE) if person.asker else None
        if action is not None:
            person.leg.request_keyframe(action.method, action.repeat)

    def _ask_for_sizes(self, plans: dict[str, ViewPlan], formats: dict[str, VideoSendFormat],
                       layouts: dict[str, Layout], now: float) -> None:
        """Ask each shown sender for the size of the largest cell it fills (issue 14);
        the sizes are worked out again only when the plans or the viewers' sizes changed."""
        canvases = {v: encoder_size(f.codec, f.width, f.height) for v, f in formats.items()}
        key = (self._plan_key, tuple(canvases.items()))
        if key != self._sizes_key:
            self._sizes_key, self._sizes = key, shown_sizes(plans, canvases, layouts)
        for leg_id, (width, height) in self._sizes.items():
            person = self._inputs.get(leg_id)
            if person is None or person.sizer is None:
                continue
            request = person.sizer.want(width, height, now)
            if request is None:
                continue
            self.counters["size_requests"] += 1
            if not person.leg.request_video_size(  # type: ignore[attr-defined]
                    request.width, request.height, self.settings.frame_rate):
                person.sizer = None  # its peer agreed to no way of asking

    def _plan(self, room: Room, viewers: list[str], layouts: dict[str, Layout]
              ) -> dict[str, ViewPlan]:
        """``plan_views``, computed again only when what it reads changed: arranging
        every tick cost as much on the loop as a camera's packets (issue 12)."""
        key = (room, tuple(viewers), tuple(layouts.items()))
        if key != self._plan_key:
            self._plan_key, self._plans = key, plan_views(room, viewers, layouts)
        return self._plans

    def _room(self) -> Room:
        connected = tuple(i for i, p in self._inputs.items() if p.state == "connected")
        # A watcher (issue 15: a stream's viewers) is neither shown nor slated: it sees
        # the conference's common picture, nobody excluded.
        slates = {i: "lobby" if p.state == "lobby" else "waiting_for_chair"
                  for i, p in self._inputs.items() if p.state not in ("connected", WATCHING)}
        return Room(connected, self.layout,
                    {i: p.layout for i, p in self._inputs.items() if p.layout},
                    slates, self.important, self.speaker, self.settings.self_view,
                    {i: p.panes for i, p in self._inputs.items() if p.panes})

    def _layouts_in_use(self) -> set[str]:
        return {self.layout, *(p.layout for p in self._inputs.values() if p.layout)}

    def _layout(self, name: str) -> Layout:
        return self.registry.get_layout(name if name in self.registry else DEFAULT_LAYOUT)

    def _messages(self, viewers: Iterable[str]) -> dict[str, str]:
        out = {}
        for viewer in viewers:
            text = self._inputs[viewer].message or self.message
            if text:
                out[viewer] = text
        return out

    def _ask_for_keyframes(self, person: _Input, was_shown: bool, now: float) -> None:
        asker = person.asker
        if asker is None:
            return
        if not person.shown:
            if was_shown:
                asker.cancel()  # nobody needs its pictures now
            return
        action = None
        if not was_shown:
            action = asker.ask(now, AskReason.VISIBLE)
        elif person.leg.video_needs_keyframe and person.leg.video_receiving:
            action = asker.ask(now, AskReason.LOSS)
        action = action or asker.due(now)
        if action is not None:
            # False before the peer's first packet (its SSRC is unknown): the want
            # stands, so the asker tries again next interval.
            person.leg.request_keyframe(action.method, action.repeat)

    # ---- the tick: mix (worker thread)

    def prepare(self, collected: Collected) -> Prepared:
        """Stage one: decode what is shown (overlapping the previous tick's ``mix``)."""
        started = time.perf_counter()
        jobs = [(leg_id, frames) for leg_id, frames in collected.frames.items() if frames]
        decoded = self._map(lambda job: self._decode(collected, *job), jobs, collected.now)
        for leg_id in [k for k in self._decoders if k not in collected.names]:
            del self._decoders[leg_id]  # departed
        return Prepared(collected, decoded, time.perf_counter() - started)

    def stages(self) -> tuple[Callable[[Any], Any], ...]:
        """What the clock overlaps across ticks: decode, compose, encode. Each touches
        its own state (decoders; shown pictures and scaled tiles; encoders and who
        waits for a key frame), so neighbouring ticks' stages may run side by side."""
        return (self.prepare, self.compose, self.encode)

    def mix(self, prepared: Prepared) -> MixOutputs:
        """Stages two and three at once (tests and tools that tick by hand)."""
        return self.encode(self.compose(prepared))

    def compose(self, prepared: Prepared) -> Composed:
        """Stage two: show the decoded pictures, compose one picture per stream."""
        started = time.perf_counter()
        collected = prepared.collected
        outputs = MixOutputs(tick_at=collected.now)
        self._take_decoded(prepared, outputs)
        self._forget_departed_inputs(collected)
        pictures = self._compose_all(collected, self._targets(collected))
        return Composed(prepared, pictures, outputs, time.perf_counter() - started)

    def encode(self, composed: Composed) -> MixOutputs:
        """Stage three: encode each stream that is due."""
        started = time.perf_counter()
        collected, outputs = composed.prepared.collected, composed.outputs
        self._encode_all(collected, composed.pictures, outputs)
        self._forget_departed_viewers(collected)
        encode_s = time.perf_counter() - started
        self.counters["ticks"] += 1
        # Wall time of each stage, summed: where a slow tick spends its time.
        self.counters["decode_s"] += composed.prepared.decode_s
        self.counters["compose_s"] += composed.compose_s
        self.counters["encode_s"] += encode_s
        outputs.work_s = composed.prepared.decode_s + composed.compose_s + encode_s
        return outputs

    def _map(self, fn: Callable[[_J], _R], jobs: Iterable[_J], due: float) -> list[_R]:
        """``fn`` over ``jobs`` on the pool, in order; a lone job runs right here in the
        stage's thread. Handing it to the pool would only add two thread switches a
        tick and move its codec's state to whichever core the woken worker is on (one
        camera's decode, one view's encode: the common case, and issue 12's ingest
        benchmark counts that cost against ffmpeg's single thread). ``due``: the
        tick's time; a ``DeadlinePool`` serves older ticks' jobs first."""
        jobs = list(jobs)
        if len(jobs) <= 1:
            return [fn(job) for job in jobs]
        if isinstance(self._pool, DeadlinePool):
            return [future.result() for future in
                    [self._pool.submit_by(due, fn, job) for job in jobs]]
        return list(self._pool.map(fn, jobs))

    def _take_decoded(self, prepared: Prepared, outputs: MixOutputs) -> None:
        for result in prepared.decoded:
            self.counters["decoded"] += result.count
            if result.picture is not None:
                self._serial += 1
                self._latest[result.leg_id] = _Latest(result.picture, prepared.collected.now,
                                                      self._serial)
            if result.error:
                outputs.decode_errors.add(result.leg_id)
            if result.keyframe:
                outputs.keyframes_in.add(result.leg_id)

    def _decode(self, collected: Collected, leg_id: str, frames: list[EncodedVideo]
                ) -> _Decoded:
        """One input's new pictures, in a pool thread (each decoder in one thread at a
        time): the newest picture, how many decoded, a decode error, a key frame."""
        codec = collected.codecs.get(leg_id)
        if codec is None:
            return _Decoded(leg_id, None, 0, False, False)
        decoder = self._decoders.get(leg_id)
        if decoder is None or decoder.codec != codec:
            decoder = self._decoders[leg_id] = VideoDecoder(codec)
        elif leg_id in collected.resumed:
            decoder.restart()
        newest = None
        key = False
        count = 0
        for frame in frames:
            if decoder.waiting_for_keyframe and not frame.keyframe:
                continue  # cannot decode without its references; a key frame was asked
            picture = decoder.decode(frame)
            if picture is not None:
                newest = picture
                key |= frame.keyframe
                count += 1
        return _Decoded(leg_id, newest, count, decoder.take_error(), key)

    def _targets(self, collected: Collected) -> dict[EncoderKey, _Target]:
        """Each stream this tick feeds: its view, picture size and message."""
        targets: dict[EncoderKey, _Target] = {}
        for viewer, plan in collected.plans.items():
            fmt = collected.formats[viewer]
            key: EncoderKey = (plan.owner, fmt.encoder_key)
            if key not in targets:
                size = encoder_size(fmt.codec, fmt.width, fmt.height)
                targets[key] = _Target(plan, size, collected.messages.get(viewer))
        return targets

    def _compose_all(self, collected: Collected, targets: dict[EncoderKey, _Target]
                     ) -> dict[EncoderKey, Picture | Patched]:
        """One picture per distinct (view, size, message); streams that show the same
        picture share it."""
        by_content: dict[tuple[object, ...], list[EncoderKey]] = {}
        for key, target in targets.items():
            by_content.setdefault(target.content, []).append(key)
        views = [targets[keys[0]] for keys in by_content.values()]
        self._scale_all(collected, views)
        # Compositions only read the scaled tiles and write their own picture, so they
        # run side by side (numpy copies release the GIL). Personal pictures come after
        # the shared ones they are made from.
        personal = [v for v in views if _derivable(v)]
        first = [v for v in views if not _derivable(v)]
        composed = dict(zip(map(id, first), self._map(
            lambda target: self._compose(collected, target), first, collected.now),
            strict=True))
        bases = {(v.plan.layout, v.size): (v, composed[id(v)]) for v in first
                 if v.plan.owner[0] == "shared" and v.plan.slate is None and not v.message}
        composed.update(zip(map(id, personal), self._map(
            lambda target: self._derive(collected, target, bases), personal, collected.now),
            strict=True))
        pictures: dict[EncoderKey, Picture | Patched] = {}
        for view, keys in zip(views, by_content.values(), strict=True):
            self.counters["composed"] += 1
            for key in keys:
                pictures[key] = composed[id(view)]
        return pictures

    def _derive(self, collected: Collected, target: _Target,
                bases: dict[tuple[str, tuple[int, int]], tuple[_Target, Picture]]
                ) -> Picture | Patched:
        """A personal picture as the shared one of its layout and size with the cells
        that differ drawn again (issue 14: compose less; in a full grid the viewer's own
        cell is the only one), else composed whole."""
        base = bases.get((target.plan.layout, target.size))
        if base is None:
            return self._compose(collected, target)
        base_cells = self._tiles(collected, base[0].plan, target.size)
        cells = self._tiles(collected, target.plan, target.size)
        if [cell for _, cell in base_cells] != [cell for _, cell in cells]:
            return self._compose(collected, target)
        patches = tuple((self._cell_picture(collected, leg_id, cell), cell.x, cell.y)
                        for (leg_id, cell), (was, _) in zip(cells, base_cells, strict=True)
                        if leg_id != was)
        self.counters["derived"] += 1
        return Patched(base[1], patches)

    def _cell_picture(self, collected: Collected, leg_id: str, cell: Cell) -> Picture:
        """What ``cell`` shows of ``leg_id``, cell-sized: its scaled tile or its slate
        as they are (both cached, nothing copied), else drawn on a blank cell."""
        latest = self._live_frame(collected, leg_id)
        if latest is None:
            kind = "audio_only" if leg_id in collected.audio_only else "no_video"
            return overlay.slate(kind, cell.width, cell.height,
                                 collected.names.get(leg_id, ""))
        placed = fit(latest.frame.width, latest.frame.height, cell, self.settings.fit)
        scaled = self._scaled.get((leg_id, placed.dest.width, placed.dest.height,
                                   placed.source))
        if scaled is not None and placed.dest == cell.rect:
            return scaled[2]
        picture = Picture.blank(cell.width, cell.height, BACKGROUND)
        self._draw_tile(collected, picture, leg_id, dataclasses.replace(cell, x=0, y=0))
        return picture

    def _tiles(self, collected: Collected, plan: ViewPlan, size: tuple[int, int]
               ) -> list[tuple[str, Cell]]:
        """``plan``'s cells at ``size``; a layout's geometry for a count and size is
        worked out once (each picture asks for it a few times a tick)."""
        key = (plan.layout, len(plan.shown), size)
        cells = self._geometry.get(key)
        if cells is None:
            layout = collected.layouts[plan.layout]
            cells = self._geometry[key] = tuple(layout.cells(len(plan.shown), *size))
        return plan.seat(cells)

    def _live_frame(self, collected: Collected, leg_id: str) -> _Latest | None:
        """The input's picture to show, or None for its slate (stopped, muted)."""
        if leg_id in collected.camera_off or leg_id in collected.audio_only:
            return None
        latest = self._latest.get(leg_id)
        if latest is None or collected.now - latest.at > self.settings.stalled_after_s:
            return None
        return latest

    def _scale_all(self, collected: Collected, views: list[_Target]) -> None:
        """Scale each visible input once per cell size, in parallel; an input whose
        picture did not change keeps last tick's scaled copy."""
        jobs: dict[tuple[str, int, int, Rect], tuple[_Latest, Rect]] = {}
        for view in views:
            if view.plan.slate is not None:
                continue
            for leg_id, cell in self._tiles(collected, view.plan, view.size):
                latest = self._live_frame(collected, leg_id)
                if latest is None:
                    continue
                placed = fit(latest.frame.width, latest.frame.height, cell, self.settings.fit)
                key = (leg_id, placed.dest.width, placed.dest.height, placed.source)
                name = collected.names.get(leg_id, "")
                cached = self._scaled.get(key)
                if cached is None or cached[:2] != (latest.serial, name):
                    jobs[key] = (latest, name, placed.dest == cell.rect)

        def run(item: tuple[tuple[str, int, int, Rect], tuple[_Latest, str, bool]]) -> Picture:
            (_, width, height, source), (latest, name, fills_cell) = item
            tile = scale(latest.frame, source, width, height)
            if fills_cell:  # the label goes on the tile once, not on every picture
                self._label(tile, name, 0, 0, width, height)
            return tile

        tiles = self._map(run, jobs.items(), collected.now)
        for (key, (latest, name, _)), tile in zip(jobs.items(), tiles, strict=True):
            self._scaled[key] = (latest.serial, name, tile)
        self.counters["scaled"] += len(jobs)

    @staticmethod
    def _label(picture: Picture, name: str, x: int, y: int, width: int, height: int) -> None:
        """The name strip along the bottom of a cell at (x, y) of that size."""
        label_h = _even(max(16, height // LABEL_SHARE))
        if name and label_h < height:
            picture.paste(overlay.label(name, width, label_h), x, y + height - label_h)

    def _compose(self, collected: Collected, target: _Target) -> Picture:
        plan, message = target.plan, target.message
        width, height = size = target.size
        if plan.slate is not None:
            canvas = overlay.slate(plan.slate, width, height).copy()
        else:
            canvas = Picture.blank(width, height, BACKGROUND)
            for leg_id, cell in self._tiles(collected, plan, size):
                self._draw_tile(collected, canvas, leg_id, cell)
        if message:
            box_w = _even(width * 0.8)
            box_h = _even(max(16, height // MESSAGE_HEIGHT_SHARE))
            canvas.paste(overlay.message(message, box_w, box_h), _even((width - box_w) / 2),
                         _even(height / 20))
        return canvas

    def _draw_tile(self, collected: Collected, canvas: Picture, leg_id: str, cell: Cell) -> None:
        name = collected.names.get(leg_id, "")
        latest = self._live_frame(collected, leg_id)
        if latest is None:
            kind = "audio_only" if leg_id in collected.audio_only else "no_video"
            canvas.paste(overlay.slate(kind, cell.width, cell.height, name), cell.x, cell.y)
            return
        placed = fit(latest.frame.width, latest.frame.height, cell, self.settings.fit)
        key = (leg_id, placed.dest.width, placed.dest.height, placed.source)
        scaled = self._scaled.get(key)
        if scaled is not None:
            canvas.paste(scaled[2], placed.dest.x, placed.dest.y)
        if placed.dest != cell.rect:  # letterboxed: the label spans the whole cell
            self._label(canvas, name, cell.x, cell.y, cell.width, cell.height)

    def _encode_all(self, collected: Collected, pictures: dict[EncoderKey, Picture | Patched],
                    outputs: MixOutputs) -> None:
        viewers_of: dict[EncoderKey, list[str]] = {}
        for viewer, plan in collected.plans.items():
            key = (plan.owner, collected.formats[viewer].encoder_key)
            viewers_of.setdefault(key, []).append(viewer)
            if self._watching.get(viewer) != key:  # a new stream for this viewer
                self._watching[viewer] = key
                self._waiting_key.add(viewer)
        jobs = []
        for key, viewers in viewers_of.items():
            stream = self._streams.get(key)
            if stream is None:
                fmt = collected.formats[viewers[0]]
                stream = self._streams[key] = _Stream(
                    VideoEncoder(fmt, preset=self.settings.preset,
                                 keyframe_interval_s=KEYFRAME_INTERVAL_S),
                    KeyFrameGate(self.settings.keyframe_min_interval_s))
            stream.viewers = tuple(viewers)
            if not self._due(stream, collected.now):
                continue
            wanted = any(v in collected.idr_for or v in self._waiting_key for v in viewers)
            keyframe = stream.gate.request(collected.now) if wanted else False
            keyframe |= stream.gate.due(collected.now)
            jobs.append((stream, pictures[key], keyframe))
            self._pictures[key] = pictures[key]
        self.counters["encoded"] += len(jobs)
        self.counters["keyframes_forced"] += sum(1 for job in jobs if job[2])
        for stream, encoded in self._map(lambda job: (job[0], self._encode(*job)), jobs,
                                          collected.now):
            if encoded is None:
                continue
            if encoded.keyframe:
                stream.gate.produced(collected.now)
            receivers = tuple(v for v in stream.viewers
                              if encoded.keyframe or v not in self._waiting_key)
            if encoded.keyframe:
                self._waiting_key.difference_update(stream.viewers)
            if receivers:
                outputs.sends.append((encoded, receivers))
        for key in [k for k in self._streams if k not in viewers_of]:
            del self._streams[key]  # nobody watches it any more
            self._pictures.pop(key, None)

    def _encode(self, stream: _Stream, picture: Picture | Patched, keyframe: bool
                ) -> EncodedVideo | None:
        if not isinstance(picture, Patched):
            return stream.encoder.encode(picture, keyframe=keyframe)
        if stream.encoder.format.codec not in ENCODERS_THAT_COPY:
            return stream.encoder.encode(picture.make(), keyframe=keyframe)
        scratch = getattr(self._scratch, "canvas", None)
        if scratch is None:
            scratch = self._scratch.canvas = Scratch()
        with scratch.over(picture) as canvas:
            return stream.encoder.encode(canvas, keyframe=keyframe)

    def _due(self, stream: _Stream, now: float) -> bool:
        """Whether a stream slower than the clock sends on this tick (drift-free)."""
        period = 1.0 / stream.encoder.format.frame_rate
        tick = 1.0 / self.settings.frame_rate
        if period <= tick * 1.01:
            return True
        if stream.next_due is None:
            stream.next_due = now
        if now + tick / 2 < stream.next_due:
            return False
        stream.next_due += period
        if stream.next_due < now:  # far behind (a stall): restart the schedule
            stream.next_due = now + period
        return True

    def _forget_departed_inputs(self, collected: Collected) -> None:
        present = set(collected.names)
        for leg_id in [k for k in self._latest if k not in present]:
            del self._latest[leg_id]
        for key in [k for k in self._scaled if k[0] not in present]:
            del self._scaled[key]

    def _forget_departed_viewers(self, collected: Collected) -> None:
        for viewer in [v for v in self._watching if v not in collected.plans]:
            del self._watching[viewer]
            self._waiting_key.discard(viewer)

    # ---- the tick: deliver (loop)

    def deliver(self, outputs: MixOutputs) -> None:
        for encoded, viewers in outputs.sends:
            for viewer in viewers:
                person = self._inputs.get(viewer)
                if person is not None and self._relay.admit(viewer, encoded):
                    person.leg.write_video(encoded)
        now = self._clock()
        for leg_id in outputs.keyframes_in:
            person = self._inputs.get(leg_id)
            if person is not None and person.asker is not None:
                person.asker.received(now)
        for leg_id in outputs.decode_errors:
            person = self._inputs.get(leg_id)
            if person is not None and person.asker is not None:
                person.asker.ask(now, AskReason.DECODE_ERROR)


ASPECTS = {"widescreen": 16 / 9, "standard": 4 / 3}

ENCODERS_THAT_COPY = frozenset({"H264", "VP8"})
"""Codecs whose encoder (libx264, libvpx) copies a picture in before ``encode``
returns, so a ``Scratch`` canvas may change right after; FFmpeg's own H.263 encoder
may keep a reference to its input frame, so it gets a picture of its own."""

GRACE_PERIODS = 0.5
"""How long, in frame periods, a video deadline waits for a busy previous tick before
it is dropped: a stage that overruns once delays a picture by a few milliseconds
instead of losing it (a 30 fps picture half a period late is still well inside the
two-period latency budget of issue 14)."""


def video_clock(mixer: VideoMixer, name: str = "video-mix") -> MixClock:
    """The clock that drives ``mixer``: its own tick threads (a slow video tick must
    never delay the audio mix), decoding overlapped with the previous tick's compose
    and encode, and half a period of grace before a deadline is dropped."""
    period = 1 / mixer.settings.frame_rate
    return MixClock(mixer, period=period, name=name, pipelined=True,
                    grace=period * GRACE_PERIODS)


def _shaped(fmt: VideoSendFormat, shape: str) -> VideoSendFormat:
    """``fmt`` cut to the shape's aspect ratio inside the negotiated size (never larger,
    so the peer's max-fs still holds); sides stay multiples of 8."""
    if fmt.codec in FIXED_SIZES:
        return fmt  # H.263 (1996) and H.261 pictures come in a few sizes only
    aspect = ASPECTS.get(shape, ASPECTS["widescreen"])
    width, height = fmt.width, fmt.height
    if width / height > aspect + 0.01:
        width = int(height * aspect) // 8 * 8
    elif width / height < aspect - 0.01:
        height = int(width / aspect) // 8 * 8
    if (width, height) == (fmt.width, fmt.height):
        return fmt
    return dataclasses.replace(fmt, width=width, height=height)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def thumbnail_jpeg(frame: av.VideoFrame, width: int = 160, height: int = 90) -> bytes:
    """A small JPEG of a decoded picture (run it off the loop)."""
    image = frame.to_image()
    image.thumbnail((width, height))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return out.getvalue()


def _derivable(target: _Target) -> bool:
    """A personal picture with nothing of its own but its cells (no slate, no
    message): made from the shared picture of its layout and size when there is one."""
    return (target.plan.owner[0] == "viewer" and target.plan.slate is None
            and not target.message)
