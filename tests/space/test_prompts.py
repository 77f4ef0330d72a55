from __future__ import annotations

from pathlib import Path

import pytest

from accord.space import ConfigError, PromptLibrary


def test_builtin_templates_render_with_placeholders() -> None:
    library = PromptLibrary.load()
    messages = library.get("tests", "basic").render(prompt="def f(x): ...", entry_point="f", n_tests=4)
    assert messages[0]["role"] == "system"
    assert "4 assert statements" in messages[1]["content"]
    assert "def f(x): ..." in messages[1]["content"]


def test_missing_placeholder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        PromptLibrary.load().get("code", "direct").render()


def test_user_folder_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "code_terse.txt").write_text("Write $entry_point.")
    library = PromptLibrary.load([tmp_path])
    assert "terse" in library.names("code")
    assert library.get("code", "terse").render(entry_point="g") == ({"role": "user", "content": "Write g."},)
    with pytest.raises(ConfigError, match="no code template named 'zzz'"):
        library.get("code", "zzz")
