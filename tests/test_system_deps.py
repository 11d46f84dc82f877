"""A missing program fails its test and names the install step; it is never a skip."""

from __future__ import annotations

import pytest

from tests.system_deps import missing, require_browser, require_program


def test_a_missing_program_fails_naming_the_install_script() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"no-such-peer-program .*is missing: "
                       r"`make test` installs it \(scripts/install-system-deps\.sh\)"):
        require_program("no-such-peer-program")


def test_a_present_program_gives_its_path() -> None:
    assert require_program("sh").endswith("/sh")


def test_a_missing_browser_fails_naming_the_install_script(tmp_path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"chromium .*install-system-deps\.sh"):
        require_browser(tmp_path / "no-chromium")


def test_missing_is_a_failure_not_a_skip() -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        missing("espeak-ng")
    assert not isinstance(failed.value, pytest.skip.Exception)
