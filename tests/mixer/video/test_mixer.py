"""The video mixer with fake legs sending solid colours: real codecs, real pixels."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.media import EncodedVideo
from mcu.mixer.video.mixer import VideoMixer
from mcu.mixer.video.picture import Picture
from mcu.settings import VideoSettings
from tests.mixer.video.fakes import FakeVideoLeg, colour_at

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
QUADRANTS = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def make_mixer(pool: ThreadPoolExecutor, clock: Clock, **settings: object) -> VideoMixer:
    values: dict[str, object] = {"width": 320, "height": 180, "frame_rate": 15.0}
    return VideoMixer(VideoSettings(**(values | settings)), pool, clock=clock)  # type: ignore[arg-type]


def join(mixer: VideoMixer, *legs: FakeVideoLeg) -> None:
    for leg in legs:
        mixer.add(leg)
        mixer.set_state(leg.id, "connected")


def tick(mixer: VideoMixer, clock: Clock, count: int = 1) -> None:
    for _ in range(count):
        clock.now += 1 / 15
        mixer.deliver(mixer.mix(mixer.prepare(mixer.collect())))


def close(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def quadrants(picture: Picture | None) -> list[tuple[int, int, int]]:
    assert picture is not None, "nothing decodable was received"
    return [colour_at(picture, x, y) for x, y in QUADRANTS]


def named(colours: list[tuple[int, int, int]]) -> list[str]:
    names = {"red": RED, "green": GREEN, "blue": BLUE, "yellow": YELLOW, "black": (0, 0, 0)}
    return [next((n for n, c in names.items() if close(c, colour)), "other")
            for colour in colours]


def test_three_see_the_other_two_and_not_themselves(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    red, green, blue = FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("b", BLUE)
    join(mixer, red, green, blue)
    tick(mixer, clock, 4)
    assert named(quadrants(red.last_picture())) == ["green", "blue", "black", "black"]
    assert named(quadrants(green.last_picture())) == ["red", "blue", "black", "black"]
    assert named(quadrants(blue.last_picture())) == ["red", "green", "black", "black"]
    assert mixer.streams == 3


def test_a_fourth_joining_fills_the_next_cell_without_a_stall(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    legs = [FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("b", BLUE)]
    join(mixer, *legs)
    tick(mixer, clock, 3)
    before = [len(leg.received) for leg in legs]
    yellow = FakeVideoLeg("y", YELLOW)
    join(mixer, yellow)
    tick(mixer, clock)
    # every existing viewer got this tick's picture: the join cost nobody a frame
    assert [len(leg.received) for leg in legs] == [n + 1 for n in before]
    tick(mixer, clock, 3)
    assert named(quadrants(legs[0].last_picture())) == ["green", "blue", "yellow", "black"]
    assert named(quadrants(yellow.last_picture())) == ["red", "green", "blue", "black"]


def test_a_new_stream_starts_with_a_key_frame(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-1x1")
    a, b = FakeVideoLeg("a", RED), FakeVideoLeg("b", GREEN)
    join(mixer, a, b)
    tick(mixer, clock, 3)
    c = FakeVideoLeg("c", BLUE)
    join(mixer, c)  # c is not shown in 1x1: it watches the shared stream, already running
    tick(mixer, clock, 16)  # the stream's IDR at its start holds the next one back 1 s
    assert c.received and c.received[0].keyframe  # no P-frame without its references


def test_a_stopped_camera_shows_a_slate_then_recovers(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, stalled_after_s=1.0)
    red, green = FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN)
    join(mixer, red, green)
    tick(mixer, clock, 3)
    assert named(quadrants(green.last_picture()))[0] == "red"
    red.sending = False
    tick(mixer, clock, 5)  # under a second: the last picture repeats
    assert named(quadrants(green.last_picture()))[0] == "red"
    tick(mixer, clock, 15)
    assert named(quadrants(green.last_picture()))[0] == "other"  # the camera-off slate
    red.sending, red.force_key = True, True
    tick(mixer, clock, 3)
    assert named(quadrants(green.last_picture()))[0] == "red"


def test_audio_only_participants_show_a_slate_and_receive_nothing(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    video, phone = FakeVideoLeg("v", RED), FakeVideoLeg("phone", None, fmt=None)
    join(mixer, video, phone)
    tick(mixer, clock, 3)
    assert named(quadrants(video.last_picture()))[0] == "other"
    assert phone.received == []


def test_lobby_callers_get_the_lobby_slate_and_are_not_shown(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    red, lobby = FakeVideoLeg("r", RED), FakeVideoLeg("l", BLUE)
    join(mixer, red)
    mixer.add(lobby)  # state stays "lobby"
    tick(mixer, clock, 3)
    assert "blue" not in named(quadrants(red.last_picture()))
    assert lobby.received and "blue" not in named(quadrants(lobby.last_picture()))
    assert mixer.counters["hidden_frames_dropped"] > 0


def test_twenty_participants_nine_visible_share_ten_streams(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-3x3", width=192, height=108)
    legs = [FakeVideoLeg(f"p{i:02}", (i * 12, 255 - i * 12, 128)) for i in range(20)]
    join(mixer, *legs)
    tick(mixer, clock, 2)
    assert mixer.streams == 10
    assert mixer.counters["decoded"] <= 2 * 10  # hidden inputs are not decoded
    assert mixer.counters["hidden_frames_dropped"] >= 2 * 10
    assert all(leg.received for leg in legs)


def test_keyframe_requests_are_coalesced_per_encoder(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, keyframe_min_interval_s=1.0, layout="equal-1x1")
    legs = [FakeVideoLeg(name, colour) for name, colour in (("a", RED), ("b", GREEN),
                                                            ("c", BLUE), ("d", YELLOW))]
    join(mixer, *legs)
    tick(mixer, clock, 20)  # past the first second
    for leg in legs:
        leg.received.clear()
    for leg in legs[1:]:  # three viewers of one shared stream ask at once
        mixer.keyframe_requested(leg.id)
    tick(mixer, clock)
    assert legs[2].received[-1].keyframe
    mixer.keyframe_requested("c")  # again, inside the interval: deferred, not dropped
    tick(mixer, clock)
    assert not legs[2].received[-1].keyframe
    tick(mixer, clock, 15)
    keys = [frame.keyframe for frame in legs[2].received]
    assert keys.count(True) == 2


def test_corrupt_video_from_one_leg_harms_nobody_else(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, stalled_after_s=0.5)
    red, green, bad = FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("x", BLUE)
    join(mixer, red, green, bad)
    tick(mixer, clock, 3)
    good_read = bad.read_video
    bad.read_video = lambda: [EncodedVideo(b"\x00\x00\x01\x65garbage" * 9, 0, True),
                              EncodedVideo(b"\xff" * 50, 0, False)]  # type: ignore[method-assign]
    tick(mixer, clock, 12)
    assert named(quadrants(red.last_picture()))[:2] == ["green", "other"]  # slate for x
    assert any(method == "pli" for method, _ in bad.requests)
    bad.read_video = good_read  # type: ignore[method-assign]
    bad.force_key = True
    tick(mixer, clock, 3)
    assert named(quadrants(red.last_picture()))[:2] == ["green", "blue"]


def test_a_message_covers_part_of_that_viewers_picture_only(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, self_view=True, layout="equal-1x1")
    a, b = FakeVideoLeg("a", RED), FakeVideoLeg("b", GREEN)
    join(mixer, a, b)
    mixer.set_message("a", "Hello")
    tick(mixer, clock, 3)
    assert not close(colour_at(a.last_picture(), 0.5, 0.15), RED)  # type: ignore[arg-type]
    assert close(colour_at(b.last_picture(), 0.5, 0.15), RED)  # type: ignore[arg-type]
    assert mixer.streams == 2  # the message gave a a picture of its own


def test_a_peer_that_never_sends_a_key_frame_shows_a_slate_and_is_asked_harder(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, keyframe_min_interval_s=0.2)
    red = FakeVideoLeg("r", RED)
    stubborn = FakeVideoLeg("s", BLUE, methods=("pli", "fir", "info"))
    join(mixer, red, stubborn)
    stubborn.force_key = False  # its encoder's first picture is an IDR anyway: skip it
    stubborn.read_video()
    stubborn.request_keyframe = lambda method, repeat=False: (  # type: ignore[method-assign]
        stubborn.requests.append((method, repeat)) or True)
    tick(mixer, clock, 30)
    assert named(quadrants(red.last_picture()))[0] == "other"  # slate, never garbage
    methods = [method for method, _ in stubborn.requests]
    assert methods[0] == "pli" and "fir" in methods and "info" in methods  # escalated
    stubborn.force_key = True  # good video at last
    stubborn.request_keyframe = FakeVideoLeg.request_keyframe.__get__(stubborn)  # type: ignore[method-assign]
    tick(mixer, clock, 3)
    assert named(quadrants(red.last_picture()))[0] == "blue"


def test_a_mid_call_resolution_change_is_followed(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    red, changing = FakeVideoLeg("r", RED), FakeVideoLeg("c", GREEN)
    join(mixer, red, changing)
    tick(mixer, clock, 3)
    assert named(quadrants(red.last_picture()))[0] == "green"
    from gateway.media import VideoSendFormat
    from mcu.mixer.video.codecs import VideoEncoder

    changing.colour = BLUE
    changing._camera = VideoEncoder(VideoSendFormat("H264", 96, 176, 144, 15.0, 300_000))
    changing.force_key = True
    tick(mixer, clock, 3)
    assert named(quadrants(red.last_picture()))[0] == "blue"


def test_a_receive_only_participant_keeps_its_cell_with_a_slate(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    red, watcher, green = (FakeVideoLeg("r", RED), FakeVideoLeg("w", None),
                           FakeVideoLeg("g", GREEN))
    join(mixer, red, watcher, green)
    seen = []
    for _ in range(6):
        tick(mixer, clock)
        seen.append(named(quadrants(red.last_picture())))
    # the same cells every tick: no flicker while it never sends
    assert all(s == ["other", "green", "black", "black"] for s in seen[1:])
    assert watcher.received  # and it still gets the conference


def test_a_custom_layout_from_the_settings_places_the_cells(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    side_by_side = {"side": [[0, 0, 0.5, 1], [0.5, 0, 0.5, 1]]}
    mixer = make_mixer(pool, clock, custom_layouts=side_by_side, layout="side")
    red, green, blue = FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("b", BLUE)
    join(mixer, red, green, blue)
    tick(mixer, clock, 3)
    picture = red.last_picture()
    assert picture is not None
    left, right = colour_at(picture, 0.25, 0.4), colour_at(picture, 0.75, 0.4)
    # red's own cell (the left) goes to blue, left over; green keeps its cell
    assert named([left, right]) == ["blue", "green"]


def test_the_conference_layout_changes_at_run_time(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    legs = [FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("b", BLUE)]
    join(mixer, *legs)
    tick(mixer, clock, 3)
    assert named(quadrants(legs[0].last_picture())) == ["green", "blue", "black", "black"]
    mixer.set_conference_layout("equal-1x1")
    tick(mixer, clock, 2)
    assert named(quadrants(legs[0].last_picture())) == ["green"] * 4
    mixer.set_layout("r", "equal-2x2")  # r's own choice overrides the conference's
    tick(mixer, clock, 2)
    assert named(quadrants(legs[0].last_picture())) == ["green", "blue", "black", "black"]
    assert named(quadrants(legs[1].last_picture())) == ["red"] * 4


def test_one_picture_feeds_every_codec_that_shows_it(pool: ThreadPoolExecutor) -> None:
    from gateway.media import VideoSendFormat

    clock = Clock()
    mixer = make_mixer(pool, clock, self_view=True)
    vp8 = VideoSendFormat("VP8", 98, 320, 180, 15.0, 500_000)
    h264, other = FakeVideoLeg("h", RED), FakeVideoLeg("v", GREEN, fmt=vp8)
    join(mixer, h264, other)
    tick(mixer, clock, 3)
    assert mixer.streams == 2  # one encoder per codec ...
    assert mixer.counters["composed"] == 3  # ... and one composition per tick for both
    assert named(quadrants(other.last_picture()))[:2] == ["red", "green"]


def test_standard_format_sends_a_4_3_picture_inside_the_negotiated_size(
        pool: ThreadPoolExecutor) -> None:
    from gateway.media import VideoSendFormat

    clock = Clock()
    mixer = make_mixer(pool, clock, width=640, height=360)
    wide = VideoSendFormat("H264", 96, 640, 360, 15.0, 500_000)
    a, b = FakeVideoLeg("a", RED, fmt=wide), FakeVideoLeg("b", GREEN, fmt=wide)
    join(mixer, a, b)
    tick(mixer, clock, 2)
    assert (a.last_picture().width, a.last_picture().height) == (640, 360)  # type: ignore[union-attr]
    mixer.set_shape("a", "standard")
    tick(mixer, clock, 20)  # a new stream: it starts at its key frame
    picture = a.last_picture()
    assert picture is not None and (picture.width, picture.height) == (480, 360)
    assert named(quadrants(picture)) == ["green"] * 4
    assert (b.last_picture().width, b.last_picture().height) == (640, 360)  # type: ignore[union-attr]


def test_a_peer_that_takes_no_video_costs_no_encoder(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    camera, viewer = FakeVideoLeg("cam", RED), FakeVideoLeg("v", GREEN)
    camera.video_sending = False  # sendonly on its side: a camera that shows, never watches
    join(mixer, camera, viewer)
    tick(mixer, clock, 3)
    assert mixer.streams == 1 and camera.received == []
    assert named(quadrants(viewer.last_picture()))[0] == "red"  # still shown


def test_an_input_shown_again_waits_for_a_key_frame(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-2x2", stalled_after_s=10.0)
    legs = [FakeVideoLeg(name, colour) for name, colour in (
        ("a", RED), ("b", GREEN), ("c", BLUE), ("d", YELLOW), ("e", (255, 0, 255)),
        ("f", (0, 255, 255)))]
    join(mixer, *legs)
    e = legs[4]
    tick(mixer, clock, 3)  # e fills a's own cell (a does not see itself)
    mixer.speaker = "f"  # f takes the last cell, d fills the gaps: nobody sees e now
    tick(mixer, clock, 3)
    hidden = mixer.counters["hidden_frames_dropped"]
    tick(mixer, clock, 2)
    assert mixer.counters["hidden_frames_dropped"] > hidden  # e is not decoded
    e.requests.clear()
    mixer.speaker = None  # e is shown again: asked for a key frame (one ask per second)
    tick(mixer, clock, 16)
    assert e.requests and e.requests[0][0] == "pli"
    tick(mixer, clock, 3)
    assert close(colour_at(legs[0].last_picture(), 0.25, 0.25), (255, 0, 255))  # type: ignore[arg-type]


def test_a_viewers_custom_layout_places_who_it_names(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    legs = [FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN), FakeVideoLeg("b", BLUE)]
    join(mixer, *legs)
    mixer.set_panes("r", [None, None, "g"])  # g in the bottom-left cell
    tick(mixer, clock, 3)
    assert named(quadrants(legs[0].last_picture())) == ["blue", "black", "green", "black"]
    assert named(quadrants(legs[1].last_picture())) == ["red", "blue", "black", "black"]
    mixer.set_panes("r", None)
    tick(mixer, clock, 2)
    assert named(quadrants(legs[0].last_picture())) == ["green", "blue", "black", "black"]


def test_a_refused_way_of_asking_is_not_used_again(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, keyframe_min_interval_s=0.2)
    red = FakeVideoLeg("r", RED)
    stubborn = FakeVideoLeg("s", BLUE, methods=("pli", "info"))
    join(mixer, red, stubborn)
    stubborn.force_key = False
    stubborn.read_video()  # its first (key) picture is lost
    stubborn.request_keyframe = lambda method, repeat=False: (  # type: ignore[method-assign]
        stubborn.requests.append((method, repeat)) or True)
    mixer.keyframe_method_refused("s", "info")  # its INFO was answered 415
    tick(mixer, clock, 30)
    assert {method for method, _ in stubborn.requests} == {"pli"}


def test_views_are_planned_again_only_when_the_room_changes(pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock)
    red, green = FakeVideoLeg("r", RED), FakeVideoLeg("g", GREEN)
    join(mixer, red, green)
    first = mixer.collect().plans
    kept = mixer._plans
    assert mixer.collect().plans == first
    mixer.collect()
    assert mixer._plans is kept  # nothing changed: the plan of the last tick serves
    blue = FakeVideoLeg("b", BLUE)
    join(mixer, blue)
    assert mixer.collect().plans["r"].shown == ("g", "b")  # a join plans again
    mixer.speaker = "b"
    mixer.set_state("g", "lobby")
    assert mixer.collect().plans["r"].shown == ("b",)
    assert mixer.collect().plans["g"].slate == "lobby"


def test_personal_pictures_are_the_shared_one_with_the_viewers_cell_redrawn(
        pool: ThreadPoolExecutor) -> None:
    clock = Clock()
    mixer = make_mixer(pool, clock, layout="equal-2x2")
    colours = [RED, GREEN, BLUE, YELLOW, (255, 0, 255)]
    legs = [FakeVideoLeg(name, colour) for name, colour in zip("abcde", colours, strict=True)]
    join(mixer, *legs)
    tick(mixer, clock, 3)
    assert mixer.counters["derived"] >= 4  # a, b, c and d: made from e's shared picture
    a, b, c, d, e = (quadrants(leg.last_picture()) for leg in legs)
    assert named(e) == ["red", "green", "blue", "yellow"]  # the shared picture
    assert named(a)[1:] == ["green", "blue", "yellow"] and close(a[0], (255, 0, 255))
    assert named(c)[:2] == ["red", "green"] and close(c[2], (255, 0, 255))
    assert named(c)[3] == "yellow" and named(d)[:3] == ["red", "green", "blue"]
