"""Decoders for what IP cameras send (H.265, JPEG): never raise, wait for a key frame."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.media import EncodedVideo, VideoSendFormat
from gateway.rtp.payload.h265 import H265Depacketizer
from gateway.rtp.payload.jpeg import JpegDepacketizer
from mcu.mixer.video.codecs import VideoDecoder, VideoEncoder
from tests.rtp.payload.capture import capture

SOURCE = ("-f", "lavfi", "-i", "color=c=green:size=320x240:rate=10", "-t", "1")
STREAMS = {
    "H265": (H265Depacketizer, ("-c:v", "libx265", "-preset", "ultrafast",
                                "-x265-params", "log-level=none:keyint=5:bframes=0")),
    "JPEG": (JpegDepacketizer, ("-c:v", "mjpeg", "-huffman", "default",
                                "-pix_fmt", "yuvj420p")),
}


@pytest.mark.parametrize("codec", list(STREAMS))
def test_decoder_survives_garbage_and_recovers_at_a_key_frame(codec: str) -> None:
    make, args = STREAMS[codec]
    dep = make()
    frames = [f for p in capture(*SOURCE, *args).packets for f in dep.push(*p.push_args())]
    key, predicted = frames[0], frames[1]
    dec = VideoDecoder(codec)
    rng = np.random.default_rng(1)
    junk = [rng.bytes(900), b"", rng.bytes(5)]
    if codec == "H265":  # FFmpeg's mjpeg conceals a cut JPEG without flagging it: the
        junk.append(key.data[: len(key.data) // 3])  # depacketizer never lets one through
    for data in junk:
        assert dec.decode(EncodedVideo(data, 0, True)) is None
    assert dec.take_error() and dec.waiting_for_keyframe
    if codec == "H265":
        assert dec.decode(predicted) is None  # nothing before a key frame
    picture = dec.decode(key)
    assert picture is not None and (picture.width, picture.height) == (320, 240)
    assert dec.decode(predicted) is not None and not dec.waiting_for_keyframe


@pytest.mark.parametrize("codec", list(STREAMS))
def test_camera_codecs_are_receive_only(codec: str) -> None:
    with pytest.raises(ValueError):
        VideoEncoder(VideoSendFormat(codec, 96, 320, 240, 10.0, 300_000))
