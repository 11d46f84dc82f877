"""Video capabilities of H.245 (H.264 by H.241's generic capability, H.263, H.261) in
the terms the SDP side already uses: a peer's capability becomes a
``gateway.sdp.video.VideoFormat``, whose rules (largest size within the level, frame
rate, bit rate) then pick what we send, exactly as for a SIP peer. The MCU's own
capabilities come from the same ``VideoPolicy`` as its SDP answers.
"""

from __future__ import annotations

from typing import Any

from gateway.media import VideoSendFormat
from gateway.sdp.video import H263_SIZES, VideoFormat, VideoPolicy

H264_OID = (0, 0, 8, 241, 0, 0, 1)  # H.241 generic capability for H.264
H264_PROFILE, H264_LEVEL = 41, 42  # its collapsing parameters
BASELINE = 64  # H.241 profile booleanArray: bit 0x40 is Baseline
H264_PAYLOAD_TYPE = 109  # dynamic: what we send H.264 with (said in our channel)
STATIC_TYPES = {"H263": 34, "H261": 31}

# H.241 table 8-? "level" parameter: value -> H.264 level_idc
H241_LEVELS = {15: 10, 19: 9, 22: 11, 29: 12, 36: 13, 43: 20, 50: 21, 57: 22, 64: 30,
               71: 31, 78: 32, 85: 40, 92: 41, 99: 42, 106: 50, 113: 51, 120: 52}
_LEVEL_CODES = {idc: code for code, idc in H241_LEVELS.items()}
_MPI_SIZES = {"sqcifMPI": H263_SIZES["SQCIF"], "qcifMPI": H263_SIZES["QCIF"],
              "cifMPI": H263_SIZES["CIF"], "cif4MPI": H263_SIZES["CIF4"],
              "cif16MPI": H263_SIZES["CIF16"]}


def format_of(capability: Any, payload_type: int | None = None) -> VideoFormat | None:
    """A VideoCapability (what a peer receives, or the dataType of its channel) as a
    VideoFormat; None for codecs we do not carry."""
    try:
        kind, value = capability
    except (TypeError, ValueError):
        return None
    if kind == "genericVideoCapability":
        identifier = value.get("capabilityIdentifier")
        if identifier != ("standard", H264_OID):
            return None
        level = _LEVEL_CODES[31]  # 3.1 when the peer names none
        for parameter in value.get("collapsing", []):
            ident, param_value = parameter.get("parameterIdentifier"), parameter.get(
                "parameterValue")
            if ident == ("standard", H264_LEVEL) and isinstance(param_value, tuple):
                level = int(param_value[1])
        max_br = value.get("maxBitRate")
        return VideoFormat("H264", payload_type or H264_PAYLOAD_TYPE, profile_idc=0x42,
                           profile_iop=0xE0, level_idc=H241_LEVELS.get(level, 31),
                           packetization_mode=0,
                           max_br=max_br // 10 if max_br else None)
    if kind in ("h263VideoCapability", "h261VideoCapability"):
        name = "H263" if kind == "h263VideoCapability" else "H261"
        sizes = tuple((w, h, int(value[key])) for key, (w, h) in _MPI_SIZES.items()
                      if key in value)
        if not sizes:
            return None
        return VideoFormat(name, STATIC_TYPES[name], image_sizes=sizes,
                           max_br=value.get("maxBitRate"))
    return None


def send_format(fmt: VideoFormat, policy: VideoPolicy, mtu: int) -> VideoSendFormat:
    """What we encode for a peer that receives ``fmt`` (the SDP side's rules)."""
    size = fmt.max_frame_size(policy.max_size)
    rate = fmt.max_frame_rate(size, policy.max_fps)
    peer_bps = fmt.max_bitrate_bps()
    bitrate = min(policy.max_bitrate_bps, peer_bps) if peer_bps else policy.max_bitrate_bps
    return VideoSendFormat(fmt.name, fmt.payload_type, size[0], size[1], rate, bitrate,
                           packetization_mode=fmt.packetization_mode or 0, mtu=mtu)


def capabilities(policy: VideoPolicy) -> list[Any]:
    """Our receive capabilities, in the order of the policy's preferences."""
    kbps = policy.max_bitrate_bps // 100
    out: list[Any] = []
    for codec in policy.preferences:
        if codec == "H264":
            out.append(("genericVideoCapability", {
                "capabilityIdentifier": ("standard", H264_OID),
                "maxBitRate": kbps,
                "collapsing": [
                    {"parameterIdentifier": ("standard", H264_PROFILE),
                     "parameterValue": ("booleanArray", BASELINE)},
                    {"parameterIdentifier": ("standard", H264_LEVEL),
                     "parameterValue": ("unsignedMin", _LEVEL_CODES[31])},
                ]}))
        elif codec == "H263":
            out.append(("h263VideoCapability", {
                "qcifMPI": 1, "cifMPI": 1, "maxBitRate": min(kbps, 192400),
                "unrestrictedVector": False, "arithmeticCoding": False,
                "advancedPrediction": False, "pbFrames": False,
                "temporalSpatialTradeOffCapability": False}))
        elif codec == "H261":
            out.append(("h261VideoCapability", {
                "qcifMPI": 1, "cifMPI": 1, "temporalSpatialTradeOffCapability": False,
                "maxBitRate": min(kbps, 19200), "stillImageTransmission": False}))
    return out


def data_type(fmt: VideoSendFormat) -> Any:
    """The dataType of the channel we send ``fmt`` on."""
    kbps = fmt.bitrate_bps // 100
    if fmt.codec == "H264":
        return ("videoData", ("genericVideoCapability", {
            "capabilityIdentifier": ("standard", H264_OID), "maxBitRate": kbps,
            "collapsing": [
                {"parameterIdentifier": ("standard", H264_PROFILE),
                 "parameterValue": ("booleanArray", BASELINE)},
                {"parameterIdentifier": ("standard", H264_LEVEL),
                 "parameterValue": ("unsignedMin", _LEVEL_CODES[31])}]}))
    mpi = {(352, 288): "cifMPI", (176, 144): "qcifMPI", (128, 96): "sqcifMPI",
           (704, 576): "cif4MPI", (1408, 1152): "cif16MPI"}.get((fmt.width, fmt.height),
                                                                 "cifMPI")
    if fmt.codec == "H263":
        return ("videoData", ("h263VideoCapability", {
            mpi: 1, "maxBitRate": min(kbps, 192400), "unrestrictedVector": False,
            "arithmeticCoding": False, "advancedPrediction": False, "pbFrames": False,
            "temporalSpatialTradeOffCapability": False}))
    return ("videoData", ("h261VideoCapability", {
        mpi if mpi in ("cifMPI", "qcifMPI") else "cifMPI": 1,
        "temporalSpatialTradeOffCapability": False, "maxBitRate": min(kbps, 19200),
        "stillImageTransmission": False}))
