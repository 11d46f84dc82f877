"""Pictures passed through untouched: a two-party gateway call (issue 13) whose
parties send what the other receives sees the other full screen in the sender's own
pictures, neither decoded nor encoded, "media transcoded only where their codecs
differ". Sans-IO: each tick the video mixer says, per viewer, who it would see full
screen and what that sender sent; the relay says what to pass on and whether the
viewer is the mixer's this tick.

A route starts *waiting*: the viewer keeps the mixer's pictures while the sender is
asked for a key frame. The first key frame the viewer can take starts *passing*: that
picture and every one after it go to the viewer as they came, and the mixer makes
nothing for it. The viewer can take a key frame of its own codec whose size fits
inside what it receives (``VideoSendFormat``), for H.264 of the baseline profile
(every H.264 decoder takes it; a viewer may have agreed to nothing more) and, in
packetization mode 0, cut in NAL units that each fit one packet.

A route ends when the view changes (a third party, a slate, a message, a mute, a
codec renegotiated), and stops passing at a picture the viewer cannot take (it starts
again at a later key frame it can take, without asking for one); either way the
viewer takes the mixer's pictures from the mixer's next key frame on (``admit``),
since the decoder at the far end knows nothing of the mixer's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.media import EncodedVideo, VideoSendFormat
from gateway.rtp.payload.h264 import split_annex_b
from mcu.mixer.video.headers import key_picture_header

H264_BASELINE = 66


@dataclass(slots=True)
class _Route:
    source: str
    passing: bool = False


@dataclass(slots=True)
class Step:
    """One viewer's tick: the pictures to pass on, whether the viewer is relayed (the
    mixer makes nothing for it), whether to ask the sender for a key frame."""

    passed: list[EncodedVideo] = field(default_factory=list)
    relayed: bool = False
    ask_source: bool = False


class PictureRelay:
    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}  # viewer -> its route
        self._holding: set[str] = set()  # back on the mixer: wait for its key frame

    def step(self, viewer: str, source: str | None, source_codec: str | None,
             fmt: VideoSendFormat | None, pictures: list[EncodedVideo]) -> Step:
        """``source``: who the viewer would see alone and full screen (None: nobody,
        or more than that); ``pictures``: what that source sent since the last tick."""
        route = self._routes.get(viewer)
        if (source is None or fmt is None or source_codec != fmt.codec
                or (route is not None and route.source != source)):
            self._end(viewer)
            return Step()
        step = Step()
        if route is None:
            route = self._routes[viewer] = _Route(source)
            step.ask_source = True
        for picture in pictures:
            was_passing = route.passing
            if picture.keyframe:  # each key frame decides anew: a sender may change size
                route.passing = takes(fmt, picture) and packetizable(fmt, picture)
            elif route.passing:
                route.passing = packetizable(fmt, picture)
            if route.passing:
                step.passed.append(picture)
                self._holding.discard(viewer)
            elif was_passing:
                self._holding.add(viewer)  # the mixer's pictures, from its key frame
        step.relayed = route.passing
        return step

    def forget(self, present: set[str]) -> None:
        """Drop the routes of viewers that left."""
        for viewer in [v for v in self._routes if v not in present]:
            del self._routes[viewer]
        self._holding &= present

    def passing(self, viewer: str) -> bool:
        route = self._routes.get(viewer)
        return route is not None and route.passing

    def admit(self, viewer: str, picture: EncodedVideo) -> bool:
        """Whether a picture the mixer encoded may go to ``viewer``: never while its
        route passes (the mixer's pipeline still holds older ticks), and after a route
        ended only from the mixer's next key frame on."""
        if self.passing(viewer):
            return False
        if viewer in self._holding:
            if not picture.keyframe:
                return False
            self._holding.discard(viewer)
        return True

    def _end(self, viewer: str) -> None:
        route = self._routes.pop(viewer, None)
        if route is not None and route.passing:
            self._holding.add(viewer)


def takes(fmt: VideoSendFormat, picture: EncodedVideo) -> bool:
    """Whether a viewer receiving ``fmt`` can decode the stream this key picture starts."""
    header = key_picture_header(fmt.codec, picture.data)
    if header is None or header.width > fmt.width or header.height > fmt.height:
        return False
    return fmt.codec != "H264" or header.profile == H264_BASELINE


def packetizable(fmt: VideoSendFormat, picture: EncodedVideo) -> bool:
    """Packetization mode 0 sends each NAL unit in one packet: none may exceed the MTU."""
    if fmt.codec != "H264" or fmt.packetization_mode != 0:
        return True
    return all(len(nal) <= fmt.mtu for nal in split_annex_b(picture.data))
