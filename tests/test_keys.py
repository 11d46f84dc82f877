"""KeyMap: in-conference keypad commands, with explicit ``now``."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcu.keys import ACTIONS, KeyMap, KeyMapError, check_bindings
from mcu.settings import EntrySettings, Settings

DEFAULT = {"*6": "toggle_mute", "2": "previous_layout", "8": "next_layout",
           "*7": "toggle_recording"}


def keymap(bindings: dict[str, str] | None = None, timeout_s: float = 2.0) -> KeyMap:
    return KeyMap(DEFAULT if bindings is None else bindings, timeout_s)


def test_default_settings_bindings_are_the_documented_ones() -> None:
    assert EntrySettings().keys == DEFAULT
    assert set(DEFAULT.values()) <= ACTIONS


def test_star_six_toggles_mute_only_after_both_digits() -> None:
    k = keymap()
    assert k.digit("*", 0.0) is None
    assert k.digit("6", 0.5) == "toggle_mute"
    # Complete: the buffer is empty again, so a lone 6 is nothing.
    assert k.digit("6", 0.6) is None
    assert k.digit("*", 1.0) is None
    assert k.digit("6", 1.1) == "toggle_mute"


def test_sequence_within_the_timeout_exactly() -> None:
    k = keymap()
    k.digit("*", 0.0)
    assert k.digit("6", 2.0) == "toggle_mute"


def test_star_then_timeout_then_six_is_nothing() -> None:
    k = keymap()
    assert k.digit("*", 0.0) is None
    assert k.digit("6", 2.5) is None  # "*" expired; "6" alone is unbound
    assert k.digit("6", 2.6) is None


def test_star_then_timeout_then_a_bound_digit_acts_alone() -> None:
    k = keymap()
    k.digit("*", 0.0)
    assert k.digit("8", 5.0) == "next_layout"


def test_layout_keys_act_at_once() -> None:
    k = keymap()
    assert k.digit("2", 0.0) == "previous_layout"
    assert k.digit("8", 0.1) == "next_layout"
    assert k.digit("8", 0.2) == "next_layout"
    assert k.digit("2", 0.3) == "previous_layout"


def test_broken_sequence_lets_the_new_digit_restart() -> None:
    k = keymap()
    assert k.digit("*", 0.0) is None
    assert k.digit("2", 0.1) == "previous_layout"  # "*2" is unbound: "2" starts afresh
    assert k.digit("6", 0.2) is None  # and the "*" is gone


def test_star_star_six_is_toggle_mute() -> None:
    k = keymap()
    assert k.digit("*", 0.0) is None
    assert k.digit("*", 0.1) is None  # "**" unbound; the second "*" starts again
    assert k.digit("6", 0.2) == "toggle_mute"


def test_unbound_digits_do_nothing() -> None:
    k = keymap()
    for d in "013456790#ABCD":
        assert k.digit(d, 0.0) is None


def test_longer_sequences() -> None:
    k = keymap({"*71": "next_layout", "*72": "previous_layout", "#": "toggle_mute"})
    assert [k.digit(d, 0.0) for d in "*71"] == [None, None, "next_layout"]
    assert [k.digit(d, 1.0) for d in "*72"] == [None, None, "previous_layout"]
    assert [k.digit(d, 2.0) for d in "*7#"] == [None, None, "toggle_mute"]
    # A pause in the middle breaks it.
    assert k.digit("*", 10.0) is None
    assert k.digit("7", 11.0) is None
    assert k.digit("1", 13.5) is None


def test_empty_keymap_never_acts() -> None:
    k = keymap({})
    assert all(k.digit(d, 0.0) is None for d in "*62#8")


@pytest.mark.parametrize(
    "bindings",
    [
        {"*": "toggle_mute", "*6": "next_layout"},
        {"*6": "next_layout", "*": "toggle_mute"},  # order does not matter
        {"12": "next_layout", "123": "previous_layout"},
    ],
)
def test_check_bindings_rejects_prefix_clashes(bindings: dict[str, str]) -> None:
    with pytest.raises(KeyMapError, match="prefix"):
        check_bindings(bindings)
    with pytest.raises(KeyMapError):
        KeyMap(bindings)


def test_check_bindings_rejects_unknown_actions() -> None:
    with pytest.raises(KeyMapError, match="unknown action"):
        check_bindings({"*6": "self_destruct"})


@pytest.mark.parametrize("keys", ["", "x", "*6x", "1 2", "e", "a", "٣"])
def test_check_bindings_rejects_non_keypad_sequences(keys: str) -> None:
    with pytest.raises(KeyMapError, match="keypad"):
        check_bindings({keys: "toggle_mute"})


def test_check_bindings_accepts_every_keypad_character_and_returns_a_plain_dict() -> None:
    bindings = {"0123456789": "toggle_mute", "*#ABCD": "next_layout"}
    out = check_bindings(bindings)
    assert out == bindings and type(out) is dict and out is not bindings


def test_keymap_is_not_affected_by_later_changes_to_its_bindings() -> None:
    bindings = dict(DEFAULT)
    k = KeyMap(bindings)
    bindings["6"] = "toggle_mute"
    assert k.digit("6", 0.0) is None


def test_bad_keys_in_settings_raise_validation_error() -> None:
    for bad in ({"*": "toggle_mute", "*6": "next_layout"}, {"*6": "nope"}, {"z": "next_layout"}):
        with pytest.raises(ValidationError):
            Settings(entry={"keys": bad})
        with pytest.raises(ValidationError):
            EntrySettings(keys=bad)


def test_good_keys_in_settings() -> None:
    s = Settings(entry={"keys": {"#1": "toggle_mute"}})
    assert s.entry.keys == {"#1": "toggle_mute"}
