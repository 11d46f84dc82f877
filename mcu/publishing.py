"""What the MCU lends publishers (RTSP out, issue 15): a ``gateway.publish.StreamSource``.

A path is a conference's numeric ID. A viewer is one of the MCU's user accounts: Basic
is checked against the argon2 hash, Digest against the account's HA1 (realm
``passwords.DIGEST_REALM``); then ``authorize(WATCH_STREAM)`` decides, exactly as for
the HLS playlist (seed 003's "conference list plus streaming" and better, or control
of the conference; never a conference that requires encryption), and the conference
must have streaming on and be in progress. Media comes from ``Streams`` (one watcher
leg and encoder per conference, shared with HLS and recordings).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.auth import digest_matches
from gateway.media import INTERNAL_RATE
from gateway.publish import Credentials, Refusal, StreamInfo, StreamSubscriber
from mcu.control.access import conference_target
from mcu.mixer.watch import aac_config
from mcu.permissions import Actor, Operation, authorize
from mcu.store import Store, UserRecord
from mcu.store.passwords import DIGEST_REALM
from mcu.streaming import Streams

NO_CREDENTIALS = Refusal(401, "credentials required")
WRONG_CREDENTIALS = Refusal(401, "wrong username or password")


class McuStreamSource:
    digest_realm = DIGEST_REALM

    def __init__(self, store: Callable[[], Store | None], streams: Streams,
                 running: Callable[[str], bool], *, video: bool) -> None:
        self._store = store
        self._streams = streams
        self._running = running
        self._video = video  # conferences have a picture (video.enabled)

    async def open(self, path: str, credentials: Credentials | None,
                   address: str) -> StreamInfo | Refusal:
        store = self._store()
        if store is None:
            return Refusal(404, "not started")
        if credentials is None:
            return NO_CREDENTIALS
        user = await self._user(store, credentials)
        if user is None:
            return WRONG_CREDENTIALS
        record = await store.get_conference_by_numeric_id(path) if path.isdigit() else None
        if record is None:
            return Refusal(404, "no such conference")
        target = conference_target(record, await store.list_roles(conference_id=record.id))
        decision = authorize(Actor(user.username, user.privilege, user.is_operator),
                             Operation.WATCH_STREAM, target)
        if not decision.allowed:
            return Refusal(403, decision.rule)
        if not record.streaming:
            return Refusal(404, "streaming is off for this conference")
        if not self._running(path):
            return Refusal(404, "the conference is not in progress")
        return self.info(record.name)

    def info(self, name: str) -> StreamInfo:
        s = self._streams.settings
        video = self._video
        return StreamInfo(name, s.width if video else None, s.height if video else None,
                          s.frame_rate if video else None, INTERNAL_RATE, 1,
                          aac_config(s.audio_bitrate_bps))

    def subscribe(self, path: str, subscriber: StreamSubscriber) -> Callable[[], None] | None:
        return self._streams.subscribe(path, subscriber)

    def keyframe(self, path: str) -> None:
        self._streams.keyframe(path)

    @staticmethod
    async def _user(store: Store, credentials: Credentials) -> UserRecord | None:
        if credentials.scheme == "basic":
            return await store.authenticate(credentials.username, credentials.password or "")
        found = await store.digest_ha1(credentials.username)
        if found is None or not digest_matches(credentials.params, found[1], credentials.method):
            return None
        return found[0]
