"""Video legs for mixer tests: each sends a solid colour and keeps what it receives."""

from __future__ import annotations

import dataclasses

from gateway.media import EncodedVideo, VideoSendFormat
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder
from mcu.mixer.video.picture import Picture, yuv_to_rgb

SMALL = VideoSendFormat("H264", 96, 320, 180, 15.0, 500_000)


class FakeVideoLeg:
    """A Leg with video: ``colour`` is what its camera shows (None: camera off)."""

    def __init__(self, leg_id: str, colour: tuple[int, int, int] | None,
                 fmt: VideoSendFormat | None = SMALL, methods: tuple[str, ...] = ("pli",)):
        self.id = leg_id
        self.display_name = leg_id
        self.remote = "192.0.2.1:5060"
        self.protocol = "test"
        self.dtmf_events = True  # keys as events: no tone detection
        self.audio_format = None
        self.video_format = fmt
        self.keyframe_methods = methods if fmt else ()
        self.colour = colour
        self.video_receiving = fmt is not None and colour is not None
        self.video_sending = fmt is not None  # it takes the video we send
        self.video_needs_keyframe = False
        self.requests: list[tuple[str, bool]] = []
        self.received: list[EncodedVideo] = []
        self._camera = VideoEncoder(fmt or SMALL) if colour is not None else None
        self._decoder = VideoDecoder((fmt or SMALL).codec)
        self.force_key = True
        self.sending = True

    def read_video(self) -> list[EncodedVideo]:
        if self._camera is None or not self.sending:
            return []
        picture = Picture.blank(self._camera.width, self._camera.height, self.colour)
        frame = self._camera.encode(picture, keyframe=self.force_key)
        self.force_key = False
        return [frame] if frame else []

    def write_video(self, frame: EncodedVideo) -> None:
        self.received.append(frame)

    def request_keyframe(self, method: str, repeat: bool = False) -> bool:
        self.requests.append((method, repeat))
        self.force_key = True
        return True

    def statistics(self) -> dict[str, object]:
        return {"remote": self.remote}

    def last_picture(self) -> Picture | None:
        """Decode everything received so far; the newest picture."""
        newest = None
        for frame in self.received:
            picture = self._decoder.decode(frame)
            if picture is not None:
                newest = picture
        self.received.clear()
        self._last = Picture.from_frame(newest) if newest is not None else getattr(
            self, "_last", None)
        return self._last


def colour_at(picture: Picture, fx: float, fy: float) -> tuple[int, int, int]:
    """The RGB colour around a point given as fractions of the picture's size."""
    from layouts.geometry import Rect

    x = int(picture.width * fx) // 2 * 2
    y = int(picture.height * fy) // 2 * 2
    return yuv_to_rgb(picture.mean_yuv(Rect(x - 4, y - 4, 8, 8)))


class SizedFakeLeg(FakeVideoLeg):
    """A FakeVideoLeg whose camera follows size requests (``VideoSizeLeg``): the next
    picture it sends is a key frame of the asked size, as a real encoder's is."""

    def __init__(self, leg_id: str, colour: tuple[int, int, int] | None,
                 fmt: VideoSendFormat | None = SMALL, honour: bool = True) -> None:
        super().__init__(leg_id, colour, fmt)
        self.size_requests: list[tuple[int, int, float]] = []
        self.honour = honour

    def request_video_size(self, width: int, height: int, frame_rate: float) -> bool:
        self.size_requests.append((width, height, frame_rate))
        if self.honour and self._camera is not None:
            self._camera = VideoEncoder(dataclasses.replace(
                self._camera.format, width=width, height=height))
            self.force_key = True
        return self.honour
