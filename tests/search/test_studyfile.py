from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from accord.search.studyfile import load_study
from accord.space import ConfigError


def test_good_file_loads_with_defaults(study_file: Callable[..., Path]) -> None:
    path = study_file()
    definition = load_study(path)
    assert definition.name == "s"
    assert definition.storage == f"sqlite:///{(path.parent / 'runs' / 's.db').resolve()}"
    assert definition.pass_source == "hidden" and definition.cost_unit == "usd"
    assert definition.models["good"].input_cost_per_token == 1e-6
    assert definition.space.values("coder.model") == ("good", "bad")
    assert definition.settings == {
        "max_tokens": 512,
        "min_asserts": 3,
        "max_asserts": 5,
        "test_timeout_s": 3.0,
    }


def test_local_models_get_documented_default_prices(study_file: Callable[..., Path]) -> None:
    definition = load_study(study_file('[models.tiny]\nmodel = "local/smollm2-135m"\n'))
    assert definition.models["tiny"].input_cost_per_token == pytest.approx(0.01e-6)
    overridden = load_study(
        study_file('[models.tiny]\nmodel = "local/smollm2-135m"\noutput_cost_per_token = 5e-6\n', name="o")
    )
    assert overridden.models["tiny"].output_cost_per_token == 5e-6


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[budget.extra]\n", "budget.extra: unknown key"),
        ("[objectives]\npass_rat = 'hidden'\n", "objectives.pass_rat: unknown key"),
        ("[objectives]\ncost = 'euros'\n", "objectives.cost: 'euros' is not one of usd, tokens, seconds"),
        ("[loop]\nmax_tokens = 'many'\n", "loop.max_tokens: expected an integer, got 'many'"),
        ("[loop]\nmax_tokens = -5\n", "loop.max_tokens: must be between 1 and 131072"),
        ("[cache]\nenabled = 1\n", "cache.enabled: expected true or false"),
        ("[models.x]\nmodel = 'local/gpt-9'\n", "models.x.model: unknown local model"),
        ("[models.x]\nmodl = 'openai/gpt-4o'\n", "models.x.model: required"),
        (
            "[models.y]\nmodel = 'openai/gpt-4o'\ninput_cost_per_token = -1\n",
            "input_cost_per_token: must be between 0 and 1",
        ),
        ("colour = 'red'\n", "colour: unknown key"),
    ],
)
def test_bad_keys_name_file_and_key(study_file: Callable[..., Path], extra: str, message: str) -> None:
    path = study_file()
    text = path.read_text()
    # top-level keys must precede the first table
    path.write_text(extra + text if not extra.startswith("[") else text.replace("[space]", extra + "[space]"))
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_bad_study_section_values(study_file: Callable[..., Path]) -> None:
    path = study_file()
    path.write_text(path.read_text().replace('sampler = "random"', 'sampler = "grid"'))
    with pytest.raises(ConfigError, match=r"study.sampler: 'grid' is not one of tpe, nsga2, gp, random"):
        load_study(path)
    path.write_text(path.read_text().replace('sampler = "grid"', 'presets = ["magic"]'))
    with pytest.raises(ConfigError, match=r"study\.presets: unknown preset 'magic'"):
        load_study(path)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_study(bad)
    with pytest.raises(ConfigError, match="study file not found"):
        load_study(tmp_path / "none.toml")


def test_gp_sampler_says_what_it_needs() -> None:
    import importlib.util

    import optuna

    from accord.search.study import SAMPLER_FACTORIES

    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("scipy") is None:
        with pytest.raises(
            ConfigError,
            match=r"study.sampler: sampler 'gp' needs torch and scipy \((torch|scipy) is not installed\)",
        ):
            SAMPLER_FACTORIES["gp"](1)
    else:
        assert isinstance(SAMPLER_FACTORIES["gp"](1), optuna.samplers.GPSampler)


def test_distinguishing_inputs_are_refused_on_a_replayed_corpus(tmp_path: Path) -> None:
    studies = Path(__file__).resolve().parents[2] / "studies"
    text = (studies / "replay-search.toml").read_text()
    text = text.replace("../../shared", str(studies.parent.parent / "shared"))
    (tmp_path / "ok.toml").write_text(text)
    assert load_study(tmp_path / "ok.toml").space.values("selection.distinguish") == (False,)
    (tmp_path / "s.toml").write_text(text + "selection.distinguish = [false, true]\n")
    with pytest.raises(
        ConfigError, match=r"space\.selection\.distinguish.*unavailable on replayed models \(codegen\)"
    ):
        load_study(tmp_path / "s.toml")
