"""In-conference keypad commands (``*6`` mute/unmute self, ``2``/``8`` layouts, ``*7``
recording for chairpersons). Sans-IO.

A ``KeyMap`` turns one participant's digits into the names of bound actions. A key
sequence may be longer than one digit (``*6``); digits that start a longer binding
wait for the rest, up to ``timeout_s``. No binding may be a prefix of another, so a
sequence is complete the moment it matches (checked when the map is built).
"""

from __future__ import annotations

from collections.abc import Mapping

# toggle_recording (issue 15): a chairperson starts or stops recording the conference.
ACTIONS = frozenset({"toggle_mute", "previous_layout", "next_layout", "toggle_recording"})
DIGITS = frozenset("0123456789*#ABCD")


class KeyMapError(ValueError):
    pass


def check_bindings(bindings: Mapping[str, str]) -> dict[str, str]:
    """Validate a keys table from the settings; returns it as a plain dict."""
    for keys, action in bindings.items():
        if not keys or set(keys) - DIGITS:
            raise KeyMapError(f"entry.keys: {keys!r} is not a keypad sequence")
        if action not in ACTIONS:
            raise KeyMapError(f"entry.keys: unknown action {action!r} (known: {sorted(ACTIONS)})")
        clash = [k for k in bindings if k != keys and k.startswith(keys)]
        if clash:
            raise KeyMapError(f"entry.keys: {keys!r} is a prefix of {clash[0]!r}")
    return dict(bindings)


class KeyMap:
    def __init__(self, bindings: Mapping[str, str], timeout_s: float = 2.0) -> None:
        self._bindings = check_bindings(bindings)
        self._prefixes = {keys[:i] for keys in self._bindings for i in range(1, len(keys))}
        self._timeout_s = timeout_s
        self._buffer = ""
        self._last = 0.0

    def digit(self, digit: str, now: float) -> str | None:
        """The action this digit completes, or None."""
        if self._buffer and now - self._last > self._timeout_s:
            self._buffer = ""
        self._last = now
        candidate = self._buffer + digit
        if candidate not in self._bindings and candidate not in self._prefixes:
            candidate = digit  # a broken sequence: the new digit may start a fresh one
        action = self._bindings.get(candidate)
        self._buffer = "" if action is not None or candidate not in self._prefixes else candidate
        return action
