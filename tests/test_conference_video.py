"""The conference drives its video mixer: states, PINs, key-frame requests, policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from gateway.leg import Hangup, KeyFrameRequest, LegEvent
from gateway.media import EncodedAudio
from mcu.conference import Conference, RoomPolicy
from mcu.lobby import Access
from mcu.settings import MixerSettings, VideoSettings
from tests.mixer.fakes import PCMU
from tests.mixer.video.fakes import FakeVideoLeg, colour_at

VIDEO = VideoSettings(width=320, height=180, frame_rate=15.0)
RED, GREEN = (255, 0, 0), (0, 255, 0)


class CallerLeg(FakeVideoLeg):
    """A fake video leg that also speaks the audio and event half of the Leg."""

    def __init__(self, leg_id: str, colour: tuple[int, int, int]) -> None:
        super().__init__(leg_id, colour)
        self.events_queue: asyncio.Queue[LegEvent] = asyncio.Queue()
        self.dtmf_events = True
        self.audio_format = PCMU
        self.audio_sending = True
        self.encrypted = False

    def read_audio(self) -> EncodedAudio | None:
        return None

    def write_audio(self, frame: EncodedAudio) -> None:
        pass

    async def events(self) -> AsyncIterator[LegEvent]:
        while True:
            event = await self.events_queue.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def hang_up(self, reason: str) -> None:
        self.events_queue.put_nowait(Hangup(reason, by_remote=False))


def looks(leg: CallerLeg, colour: tuple[int, int, int]) -> bool:
    picture = leg.last_picture()
    if picture is None:
        return False
    seen = colour_at(picture, 0.25, 0.25)
    return all(abs(a - b) < 40 for a, b in zip(seen, colour, strict=True))


async def eventually(check: object, timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


async def test_callers_see_each_other_and_lobby_callers_see_the_lobby_slate() -> None:
    with ThreadPoolExecutor(2) as pool:
        room = Conference("1", "room", MixerSettings(), pool, video=VIDEO, video_pool=pool,
                          access=Access("1", "1234"))
        red, green = CallerLeg("r", RED), CallerLeg("g", GREEN)
        room.join(red, role="participant")  # keyed the PIN at the attendant
        room.join(green)  # in the lobby
        assert await eventually(lambda: green.last_picture() is not None)
        assert not looks(green, RED)  # the lobby slate, not the conference
        room.admit_from_lobby("g")
        assert await eventually(lambda: looks(green, RED) and looks(red, GREEN))
        assert room.video is not None and room.video.streams == 2
        room.rename("r", "Boardroom")
        assert room.views()[0].display_name == "Boardroom"
        await room.close()


async def test_a_peers_key_frame_request_reaches_its_stream() -> None:
    with ThreadPoolExecutor(2) as pool:
        room = Conference("2", "room", MixerSettings(), pool,
                          video=VIDEO.model_copy(update={"keyframe_min_interval_s": 0.0}),
                          video_pool=pool)
        red, green = CallerLeg("r", RED), CallerLeg("g", GREEN)
        room.join(red)
        room.join(green)
        assert await eventually(lambda: looks(red, GREEN))
        red.received.clear()
        await asyncio.sleep(0.3)
        assert not any(frame.keyframe for frame in red.received)
        red.events_queue.put_nowait(KeyFrameRequest("pli"))
        assert await eventually(lambda: any(frame.keyframe for frame in red.received))
        await room.close()


async def test_guests_video_is_withheld_when_the_policy_says_so() -> None:
    with ThreadPoolExecutor(2) as pool:
        room = Conference("3", "room", MixerSettings(), pool, video=VIDEO, video_pool=pool,
                          access=Access("3", "1111", "2222"),
                          policy=RoomPolicy(guests_send_video=False))
        chair, guest = CallerLeg("c", RED), CallerLeg("g", GREEN)
        room.join(chair, role="chair")
        room.join(guest, role="guest")
        assert await eventually(lambda: looks(guest, RED))
        assert await eventually(lambda: chair.last_picture() is not None)
        await asyncio.sleep(0.3)
        assert not looks(chair, GREEN)  # the guest's cell shows the camera-off slate
        room.policy = RoomPolicy(guests_send_video=True)
        assert await eventually(lambda: looks(chair, GREEN))
        await room.close()


class CameraLeg(CallerLeg):
    """A video-only leg, as an RTSP camera is: shown, never heard, takes nothing."""

    def __init__(self, leg_id: str, colour: tuple[int, int, int]) -> None:
        super().__init__(leg_id, colour)
        self.audio_format = None
        self.audio_sending = False
        self.video_sending = False  # a camera takes no video back
        self.keyframe_methods = ()


async def test_a_video_only_camera_is_shown_and_an_audio_only_phone_sees_nothing() -> None:
    with ThreadPoolExecutor(2) as pool:
        room = Conference("4", "room", MixerSettings(), pool, video=VIDEO, video_pool=pool)
        camera, viewer = CameraLeg("cam", GREEN), CallerLeg("v", RED)
        phone = CallerLeg("p", RED)
        phone.video_format = None  # audio only: neither shown nor sent video
        phone.video_receiving = phone.video_sending = False
        for leg in (camera, viewer, phone):
            room.join(leg)
        assert await eventually(lambda: looks(viewer, GREEN))
        assert "cam" in room.mixer and room.mixer.speakers == ()
        assert room.set_muted("cam", True)  # controls on a silent leg are harmless
        assert camera.received == [] and phone.received == []
        assert [v.state for v in room.views()] == ["connected"] * 3
        room.leave("cam")
        assert "cam" not in room.mixer
        await room.close()
