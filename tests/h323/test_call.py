"""The H.323 call core, caller and callee of our own stack talking in memory with a
fake clock: Fast Connect, the normal H.245 procedure tunnelled and on its own
connection, keys, key-frame requests, refusals, release, and the timers."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.h323 import call as core
from gateway.h323 import h225, h245, q931
from gateway.leg import RefuseCause
from gateway.sdp.video import VideoPolicy

POLICY = VideoPolicy()
CALLEE_LOCAL = core.Local("127.0.0.1", 40000, 40002)
CALLER_LOCAL = core.Local("127.0.0.2", 50000, 50002)


@dataclass
class Side:
    call: core.H323Call
    seen: list[core.Action] = field(default_factory=list)

    def of(self, kind: type) -> list:
        return [a for a in self.seen if isinstance(a, kind)]


def pump(a: Side, b: Side, now: float = 0.0, *, accept: bool = True,
         separate: bool = False) -> None:
    """Carry messages both ways until both are quiet; the callee (b) accepts."""
    for _ in range(50):
        moved = False
        for me, other in ((a, b), (b, a)):
            for action in me.call.actions():
                me.seen.append(action)
                moved = True
                if isinstance(action, core.SendQ931):
                    other.call.receive(action.data, now)
                elif isinstance(action, core.SendH245):
                    other.call.receive_h245(action.data, now)
                elif isinstance(action, core.Incoming) and accept:
                    me.call.accept(CALLEE_LOCAL, now, h245_address=(
                        ("127.0.0.1", 41000) if action.separate_h245 else None))
                elif isinstance(action, core.ConnectH245):
                    me.call.h245_connected(now)
                    other.call.h245_connected(now)
        if not moved:
            return
    raise AssertionError("the two sides never went quiet")


def call_pair(*, fast_start: bool = True, tunnelling: bool = True, video: bool = True,
              dialled: str = "4321") -> tuple[Side, Side]:
    caller = Side(core.H323Call(0.0, caller=True, video_policy=POLICY if video else None,
                                audio_codecs=("PCMU", "PCMA") if fast_start else ()))
    caller.call.tunnelling = tunnelling
    callee = Side(core.H323Call(0.0, video_policy=POLICY if video else None))
    local = CALLER_LOCAL if video else core.Local("127.0.0.2", 50000)
    caller.call.setup(local, 0.0, destination=dialled, signal_address=("127.0.0.1", 1720))
    if not fast_start:  # no proposals were made: the normal procedure opens PCMU
        caller.call.audio_codecs = ["PCMU"]
    return caller, callee


def test_fast_connect_agrees_audio_and_video_both_ways_in_one_round_trip() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    (incoming,) = callee.of(core.Incoming)
    assert incoming.dialled == "4321" and not incoming.separate_h245
    assert callee.of(core.Answered) and caller.of(core.Answered)
    media = callee.of(core.Media)[0]
    assert media.audio.codec == "PCMU" and media.audio.send_to == ("127.0.0.2", 50000)
    assert media.audio.receiving and media.video is not None
    assert media.video.codec == "H264" and media.video.send_to == ("127.0.0.2", 50002)
    theirs = caller.of(core.Media)[-1]
    assert theirs.audio.send_to == ("127.0.0.1", 40000) and theirs.video.send_to == (
        "127.0.0.1", 40002)
    assert callee.call.next_timer() is None  # nothing left to wait for


def test_without_fast_connect_h245_opens_the_channels_tunnelled() -> None:
    caller, callee = call_pair(fast_start=False)
    pump(caller, callee)
    (connect,) = [q931.decode(a.data) for a in callee.of(core.SendQ931)
                  if q931.decode(a.data).type == q931.MessageType.CONNECT]
    assert h225.decode(connect.user_user).fast_start == []  # Fast Connect refused
    audio = callee.of(core.Media)[-1].audio
    assert audio.codec == "PCMU" and audio.send_to == ("127.0.0.2", 50000) and audio.receiving
    assert caller.of(core.Media)[-1].audio.send_to == ("127.0.0.1", 40000)
    # every H.245 message rode in H.225.0 messages: nothing for a separate connection
    assert not callee.of(core.SendH245) and not caller.of(core.SendH245)


def test_without_tunnelling_h245_runs_on_its_own_connection() -> None:
    caller, callee = call_pair(fast_start=False, tunnelling=False, video=False)
    pump(caller, callee)
    assert callee.of(core.Incoming)[0].separate_h245
    assert caller.of(core.ConnectH245)[0].address == ("127.0.0.1", 41000)
    assert callee.of(core.SendH245) and caller.of(core.SendH245)
    assert callee.of(core.Media)[-1].audio.send_to == ("127.0.0.2", 50000)


def test_keys_key_frame_requests_and_end_session() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    caller.call._queue_h245(h245.user_input("2"))
    caller.call._queue_h245(h245.encode("indication", "userInput",
                                        ("signal", {"signalType": "#"})))
    pump(caller, callee)
    assert [k.digit for k in callee.of(core.Key)] == ["2", "#"]
    assert callee.call.request_keyframe()  # videoFastUpdatePicture on the caller's channel
    pump(caller, callee)
    assert caller.of(core.KeyFrameAsked)
    callee.call.hang_up("bye")
    pump(caller, callee)
    assert caller.of(core.Ended)[0].by_remote and callee.of(core.Close)
    assert callee.call.state == caller.call.state == "released"


def test_a_refused_call_is_released_with_the_causes_q931_value() -> None:
    caller, callee = call_pair()
    pump(caller, callee, accept=False)
    callee.call.refuse(RefuseCause.NOT_FOUND, "no conference")
    pump(caller, callee)
    ended = caller.of(core.Ended)[0]
    assert ended.by_remote and ended.cause == q931.Cause.UNALLOCATED_NUMBER


def test_status_enquiry_is_answered_and_unknown_messages_get_a_status() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    reference = callee.call._reference
    for kind in (q931.MessageType.STATUS_ENQUIRY, 0x99):
        callee.call.receive(q931.encode(q931.Message(kind, reference, False)), 1.0)
    statuses = [q931.decode(a.data) for a in callee.call.actions()
                if isinstance(a, core.SendQ931)]
    assert [s.cause for s in statuses] == [30, 97]


def test_timers_close_a_silent_connection_and_a_call_whose_h245_never_comes() -> None:
    silent = core.H323Call(0.0, setup_timeout_s=1.0)
    assert silent.next_timer() == 1.0
    silent.handle_timer(1.0)
    assert any(isinstance(a, core.Close) for a in silent.actions())
    caller, callee = call_pair(fast_start=False, tunnelling=False, video=False)
    callee.call.media_timeout_s = 2.0
    for action in caller.call.actions():
        if isinstance(action, core.SendQ931):
            callee.call.receive(action.data, 0.0)
    callee.call.actions()
    callee.call.accept(CALLEE_LOCAL, 0.0, h245_address=("127.0.0.1", 41000))
    callee.call.actions()
    assert callee.call.next_timer() == 2.0
    callee.call.handle_timer(2.0)
    released = [q931.decode(a.data) for a in callee.call.actions()
                if isinstance(a, core.SendQ931)]
    assert released[-1].cause == q931.Cause.RECOVERY_ON_TIMER_EXPIRY


def test_bad_per_in_a_setup_gets_release_complete_95_and_never_raises() -> None:
    callee = core.H323Call(0.0)
    bad = q931.Message(q931.MessageType.SETUP, 9, False,
                       {q931.IE.USER_USER: q931.user_user_ie(b"\x80" * 33)})
    callee.receive(q931.encode(bad), 0.0)
    actions = callee.actions()
    (sent,) = [q931.decode(a.data) for a in actions if isinstance(a, core.SendQ931)]
    assert sent.type == q931.MessageType.RELEASE_COMPLETE and sent.cause == 95
    assert sent.call_reference == 9 and sent.from_destination
    assert any(isinstance(a, core.Close) for a in actions)


def test_garbage_h245_is_dropped_and_unknown_requests_are_not_understood() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    callee.call.receive_h245(b"\xff\xff\xff", 1.0)  # not on a separate link, but harmless
    assert callee.call.state == "connected"
    caller.call._queue_h245(h245.encode("request", "maintenanceLoopRequest",
                                        {"type": ("systemLoop", 0)}))
    pump(caller, callee)
    assert callee.call.state == "connected"


def test_what_we_send_round_trips_through_pycrate() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    for side in (caller, callee):
        for action in side.of(core.SendQ931):
            message = q931.decode(action.data)
            pdu = h225.decode(message.user_user)
            for data in pdu.h245:
                h245.decode(data)
            for element in pdu.fast_start:
                h245.decode_olc(element)


def test_flow_control_caps_our_video_bit_rate_and_lifts_the_cap() -> None:
    caller, callee = call_pair()
    pump(caller, callee)
    full = callee.of(core.Media)[-1].video.video.bitrate_bps
    channel = callee.call.kinds["video"].our_channel
    caller.call._queue_h245(h245.encode("command", "flowControlCommand", {
        "scope": ("logicalChannelNumber", channel), "restriction": ("maximumBitRate", 2560)}))
    pump(caller, callee)
    assert callee.of(core.Media)[-1].video.video.bitrate_bps == 256_000 < full
    caller.call._queue_h245(h245.encode("command", "flowControlCommand", {
        "scope": ("wholeMultiplex", 0), "restriction": ("noRestriction", 0)}))
    pump(caller, callee)
    assert callee.of(core.Media)[-1].video.video.bitrate_bps == full


def test_a_size_request_caps_the_peers_video_bit_rate_and_lifts_it_again() -> None:
    """Issue 14: H.245 cannot ask for a picture size on an open channel; the callee
    asks by flowControlCommand, and the caller (our own core, which honours it)
    encodes for it at the rate a 426x240 picture needs, then at full rate again."""
    caller, callee = call_pair()
    pump(caller, callee)
    full = caller.of(core.Media)[-1].video.video.bitrate_bps
    assert callee.call.request_video_size(426, 240, 30.0)
    pump(caller, callee)
    capped = caller.of(core.Media)[-1].video.video.bitrate_bps
    assert capped == core.bitrate_for(426, 240, 30.0) // 100 * 100 < full
    assert callee.call.request_video_size(426, 240, 30.0)  # the same again: nothing sent
    assert not callee.call.actions()
    assert callee.call.request_video_size(1920, 1080, 30.0)  # beyond the ceiling
    pump(caller, callee)
    assert caller.of(core.Media)[-1].video.video.bitrate_bps == full


def test_no_size_request_without_the_peers_video_channel() -> None:
    caller, callee = call_pair(video=False)
    pump(caller, callee)
    assert not callee.call.request_video_size(426, 240, 30.0)
