from __future__ import annotations

from pathlib import Path

import pytest

from accord.space import ConfigError, PromptLibrary


def test_builtin_templates_render_with_placeholders() -> None:
    library = PromptLibrary.load()
    messages = library.get("tests", "basic").render(
        prompt="def f(x): ...", entry_point="f", n_tests=4, context=""
    )
    assert messages[0]["role"] == "system"
    assert "4 assert statements" in messages[1]["content"]
    assert "def f(x): ..." in messages[1]["content"]
    assert "\n\n\n" not in messages[1]["content"] and messages[1]["content"].endswith("```")


def test_every_builtin_stage_has_a_template_rendering_the_loop_values() -> None:
    library = PromptLibrary.load()
    values = dict(
        prompt="def f(x): ...", entry_point="f", n_tests=5, context="CTX", code="CODE",
        feedback="FEEDBACK", reflection="REFLECTION", explanation="EXPLANATION",
    )  # fmt: skip
    for stage in ("code", "tests", "repair", "reflect", "plan", "spec", "explain", "check"):
        names = library.names(stage)
        assert names, stage
        for name in names:
            text = library.get(stage, name).render(**values)[-1]["content"]
            assert "$" not in text, (stage, name)
    assert "CTX" in library.get("code", "direct").render(**values)[-1]["content"]
    assert "REFLECTION" in library.get("repair", "feedback").render(**values)[-1]["content"]


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
