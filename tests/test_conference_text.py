"""Text in a conference (issue 17): a connected participant's ``TextReceived`` reaches
``on_text``, a lobby caller's does not; ``send_text`` goes to connected text legs but the
one excluded. And the bridge's line for phones (`endpoint_text`)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.leg import TextReceived
from mcu.chat_bridge import endpoint_text
from mcu.conference import Conference
from mcu.lobby import Access
from mcu.settings import MixerSettings
from mcu.store import MessageRecord
from tests.test_conference_entry import PIN, EntryLeg, manual_clock, settle  # noqa: F401


class TextLeg(EntryLeg):
    def __init__(self, leg_id: str) -> None:
        super().__init__(leg_id)
        self.texts: list[str] = []

    def send_text(self, text: str) -> bool:
        self.texts.append(text)
        return True


async def test_text_in_and_out() -> None:
    heard: list[tuple[str, str]] = []
    conference = Conference("1000", "Test", MixerSettings(), None,  # type: ignore[arg-type]
                            on_text=lambda conf, leg, text: heard.append((leg.id, text)))
    a, b, plain = TextLeg("a"), TextLeg("b"), EntryLeg("c")
    for leg in (a, b, plain):
        conference.join(leg)
    a.post(TextReceived("hello"))
    await settle()
    assert heard == [("a", "hello")]
    assert conference.send_text("bob: hi", exclude="a") == 1
    assert (a.texts, b.texts) == ([], ["bob: hi"])
    await conference.close()


async def test_lobby_callers_say_nothing_to_the_chat() -> None:
    heard: list[str] = []
    conference = Conference("1000", "Test", MixerSettings(), None,  # type: ignore[arg-type]
                            access=Access("1000", pin=PIN),
                            on_text=lambda conf, leg, text: heard.append(text))
    caller = TextLeg("a")
    conference.join(caller)
    caller.post(TextReceived("let me in"))
    await settle()
    assert heard == [] and conference.send_text("anyone?") == 0
    await conference.close()


def test_endpoint_text() -> None:
    now = datetime.now(UTC)

    def message(kind: str, text: str | None) -> MessageRecord:
        return MessageRecord(1, 1, "ann", "ann", kind, text, None, None, None, None, False,
                             False, None, now)

    assert endpoint_text(message("text", "hi")) == "ann: hi"
    assert endpoint_text(message("poll", None)) == "ann: [poll]"
    assert endpoint_text(message("file", "minutes")) == "ann: [file] minutes"
