"""The video half of a gateway call's pass-through (issue 13): each party sees the
other's own pictures, byte for byte, when it takes the sender's codec at the sender's
size; otherwise, or once the view changes, the mixer's pictures, from a key frame."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import pytest

from gateway.media import EncodedVideo, VideoSendFormat
from mcu.mixer.video.codecs import VideoEncoder
from mcu.mixer.video.mixer import VideoMixer
from mcu.mixer.video.picture import Picture
from mcu.mixer.video.relay import PictureRelay
from mcu.settings import VideoSettings
from tests.mixer.video.fakes import SMALL, FakeVideoLeg, colour_at
from tests.mixer.video.test_mixer import BLUE, GREEN, RED, Clock, named, quadrants

VP8 = dataclasses.replace(SMALL, codec="VP8", payload_type=97)


class Sender(FakeVideoLeg):
    """A FakeVideoLeg that remembers what it sent."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sent: list[EncodedVideo] = []

    def read_video(self) -> list[EncodedVideo]:
        frames = super().read_video()
        self.sent += frames
        return frames


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def call(pool: ThreadPoolExecutor, *legs: FakeVideoLeg, relay: bool = True
         ) -> tuple[VideoMixer, Clock]:
    clock = Clock()
    settings = VideoSettings(width=320, height=180, frame_rate=15.0)  # type: ignore[call-arg]
    mixer = VideoMixer(settings, pool, clock=clock, relay=relay)
    for leg in legs:
        mixer.add(leg)
        mixer.set_state(leg.id, "connected")
    return mixer, clock


def tick(mixer: VideoMixer, clock: Clock, count: int = 1) -> None:
    for _ in range(count):
        clock.now += 1 / 15
        mixer.deliver(mixer.mix(mixer.prepare(mixer.collect())))


def passed_through(sender: Sender, viewer: FakeVideoLeg) -> bool:
    """Whether the viewer's newest pictures are the sender's, byte for byte."""
    got = [frame.data for frame in viewer.received[-5:]]
    return len(got) == 5 and all(data in [f.data for f in sender.sent] for data in got)


def test_two_parties_of_one_codec_see_each_others_own_pictures(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 10)
    assert passed_through(a, b) and passed_through(b, a)
    encoded, decoded = mixer.counters["encoded"], mixer.counters["decoded"]
    tick(mixer, clock, 10)
    assert mixer.counters["encoded"] == encoded and mixer.counters["decoded"] == decoded
    assert mixer.counters["relayed"] >= 30 and mixer.streams == 0
    assert named(quadrants(b.last_picture())) == ["red"] * 4  # whole, decodable


def test_a_sender_whose_key_frame_was_passed_is_not_asked_again(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 8)
    asked = len(a.requests)
    for _ in range(10):  # 5 s: many times the asker's interval
        clock.now += 0.5
        tick(mixer, clock)
    assert len(a.requests) == asked and passed_through(a, b)


def test_the_first_picture_passed_is_the_senders_key_frame(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 6)
    first = next(i for i, f in enumerate(b.received)
                 if f.data in [s.data for s in a.sent])
    assert b.received[first].keyframe
    assert all(f.data in [s.data for s in a.sent] for f in b.received[first:])
    assert a.requests  # the sender was asked for that key frame


def test_codecs_that_differ_are_transcoded(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN, VP8)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 10)
    assert mixer.counters["relayed"] == 0
    assert named(quadrants(b.last_picture())) == ["red"] * 4
    assert named(quadrants(a.last_picture())) == ["green"] * 4


def test_a_sender_larger_than_the_viewer_takes_is_transcoded(pool) -> None:
    big = dataclasses.replace(SMALL, width=640, height=360)
    a, b = Sender("a", RED, big), Sender("b", GREEN)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 10)
    assert passed_through(b, a)  # a takes 640x360: b's 320x180 fits
    assert not any(f.data in [s.data for s in a.sent] for f in b.received)
    assert named(quadrants(b.last_picture())) == ["red"] * 4


def test_a_third_party_brings_the_mixer_back_from_its_key_frame(pool) -> None:
    a, b, c = Sender("a", RED), Sender("b", GREEN), Sender("c", BLUE)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 8)
    assert passed_through(a, b)
    b.received.clear()
    mixer.add(c)
    mixer.set_state("c", "connected")
    tick(mixer, clock)
    relayed = mixer.counters["relayed"]
    tick(mixer, clock, 9)
    assert mixer.counters["relayed"] == relayed  # nothing passed through any more
    assert b.received[0].keyframe  # the mixer's stream starts with a key frame
    picture = b.last_picture()
    assert picture is not None
    seen = {name for y in (0.1, 0.3, 0.5, 0.7, 0.9) for name in named(
        [colour_at(picture, x, y) for x in (0.1, 0.3, 0.5, 0.7, 0.9)])}
    assert {"red", "blue"} <= seen and "green" not in seen


def test_a_relayed_viewers_key_frame_request_goes_to_the_sender(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN)
    mixer, clock = call(pool, a, b)
    tick(mixer, clock, 8)
    asked = len(a.requests)
    clock.now += 2.0  # past the asker's interval
    mixer.keyframe_requested("b")
    tick(mixer, clock, 2)  # asked in the first tick, sent in the second
    assert len(a.requests) == asked + 1 and b.received[-1].keyframe


def test_no_gateway_call_never_passes_through(pool) -> None:
    a, b = Sender("a", RED), Sender("b", GREEN)
    mixer, clock = call(pool, a, b, relay=False)
    tick(mixer, clock, 10)
    assert mixer.counters["relayed"] == 0


def test_mode_0_viewers_take_only_nal_units_that_fit_a_packet() -> None:
    relay = PictureRelay()
    fmt = dataclasses.replace(SMALL, packetization_mode=0, mtu=100)
    key = VideoEncoder(SMALL).encode(Picture.blank(320, 180, RED), keyframe=True)
    assert key is not None and key.keyframe
    step = relay.step("b", "a", "H264", fmt, [key])
    assert step.ask_source and not step.relayed and not step.passed
    step = relay.step("b", "a", "H264", SMALL, [key])
    assert step.relayed and step.passed == [key] and not step.ask_source


def test_a_high_profile_or_larger_key_frame_is_not_taken() -> None:
    relay = PictureRelay()
    high = _x264_key("medium", 320, 180)  # x264's own choice with 8x8 transforms: High
    assert not relay.step("b", "a", "H264", SMALL, [high]).relayed
    large = _x264_key("ultrafast", 640, 360)
    assert not relay.step("b", "a", "H264", SMALL, [large]).relayed
    fits = _x264_key("ultrafast", 320, 180)
    assert relay.step("b", "a", "H264", SMALL, [fits]).relayed
    # a later key frame it cannot take stops passing: the mixer's key frame next
    step = relay.step("b", "a", "H264", SMALL, [large])
    assert not step.relayed and not step.passed and not step.ask_source
    assert not relay.admit("b", EncodedVideo(b"", 0, keyframe=False))
    assert relay.admit("b", EncodedVideo(b"", 0, keyframe=True))


def _x264_key(preset: str, width: int, height: int) -> EncodedVideo:
    """A key frame from x264 left to choose its profile: ultrafast (no CABAC, no 8x8
    transform) comes out Constrained Baseline, medium High."""
    import av

    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 90000)
    context.options = {"preset": preset, "tune": "zerolatency"}
    frame = Picture.blank(width, height, RED).to_frame()
    frame.pts = 0
    data = b"".join(bytes(p) for p in context.encode(frame)) + b"".join(
        bytes(p) for p in context.encode(None))
    return EncodedVideo(data, 0, keyframe=True)


_ = VideoSendFormat  # the formats above are VideoSendFormats
