"""A GStreamer RTSP test camera: solid-colour H.264 with a 1000 Hz tone in PCMU (1024-sample
packets, as GStreamer sends them) at rtsp://127.0.0.1:PORT/cam, the same green as Motion
JPEG (RFC 2435) at /mjpeg and as H.265 (RFC 7798) at /h265, and at /aac H.264 with a
1500 Hz tone in AAC (RFC 3640 ``mpeg4-generic``, 44.1 kHz stereo, as cameras send);
for benchmarks/rtsp_ingest.py, moving SMPTE bars (every picture changes, so a decoder
does real work) as H.264 1920x1080@30 at 4 Mbit/s at /1080p and 640x360@30 at /360p.

Run it with Debian's /usr/bin/python3 (``gi`` imports only there, see
/work/shared/peers.md): ``/usr/bin/python3 tests/peers/rtsp_camera.py PORT [USER PASSWORD]``.
With USER and PASSWORD it demands Digest authentication. It prints ``READY`` once
listening and serves until killed.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

LAUNCH = (
    "( videotestsrc is-live=true pattern=solid-color foreground-color=0xff00ff00 ! "
    "video/x-raw,width=320,height=240,framerate=25/1 ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! "
    "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 "
    "audiotestsrc is-live=true freq=1000 volume=0.3 ! audioconvert ! audioresample ! "
    "mulawenc ! rtppcmupay name=pay1 pt=0 )"
)
# The tones (1000 Hz at /cam, 1500 Hz at /aac) are tests/rtsp/camera.py's CAMERA_TONES.
GREEN_RAW = ("videotestsrc is-live=true pattern=solid-color foreground-color=0xff00ff00 ! "
             "video/x-raw,width=320,height=240,framerate=15/1 ! ")
SCROLLING_BARS = ("videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
                  "video/x-raw,width={width},height={height},framerate=30/1 ! ")
BENCH_X264 = ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate={kbps} ! "
              "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1")
OTHER_MOUNTS = {
    "/mjpeg": (f"( {GREEN_RAW}videoconvert ! video/x-raw,format=I420 ! jpegenc quality=85 ! "
               "rtpjpegpay name=pay0 pt=26 )"),
    "/h265": (f"( {GREEN_RAW}x265enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! "
              "rtph265pay name=pay0 pt=96 config-interval=1 )"),
    "/aac": (f"( {GREEN_RAW}x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! "
             "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 "
             "audiotestsrc is-live=true freq=1500 volume=0.3 ! audioconvert ! audioresample ! "
             "audio/x-raw,rate=44100,channels=2 ! voaacenc ! rtpmp4gpay name=pay1 pt=97 )"),
    "/1080p": (f"( {SCROLLING_BARS.format(width=1920, height=1080)}"
               f"{BENCH_X264.format(kbps=4000)} )"),
    "/360p": (f"( {SCROLLING_BARS.format(width=640, height=360)}"
              f"{BENCH_X264.format(kbps=800)} )"),
}


def main(argv: list[str]) -> int:
    Gst.init(None)
    port = argv[1]
    server = GstRtspServer.RTSPServer(address="127.0.0.1", service=port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH)
    factory.set_shared(True)
    if len(argv) >= 4:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(argv[2], argv[3], token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
    server.get_mount_points().add_factory("/cam", factory)
    for path, launch in OTHER_MOUNTS.items():
        other = GstRtspServer.RTSPMediaFactory()
        other.set_launch(launch)
        other.set_shared(True)
        server.get_mount_points().add_factory(path, other)
    if server.attach(None) == 0:
        print("cannot listen", flush=True)
        return 1
    print("READY", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
