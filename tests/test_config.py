"""Typed configs: ``--help`` from field docstrings, strict parsing, presets, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Literal

import pytest

from infrastructure.config import (
    Check,
    CheckedConfig,
    config_from_dict,
    config_to_dict,
    field_docs,
    in_zero_one,
    load_config,
    non_negative,
    one_of,
    parse_config,
    parse_with_presets,
    positive,
    positive_or_none,
    preset_for,
    save_config,
)


@dataclass
class ToyConfig:
    learning_rate: float = 5e-3
    """Adam step size for the policy."""
    n_iter: int = 100
    """Number of policy-gradient iterations."""
    use_baseline: bool = True
    """Whether to learn a value baseline."""
    max_grad_norm: float | None = None
    """Clip gradients to this norm (none: no clipping)."""
    estimator: Literal["rtg", "total"] = "rtg"
    """Return estimator: reward-to-go or total return."""
    env_id: str = "CartPole-v1"
    """Gymnasium environment id, 100% standard."""


def parse(argv: list[str], defaults: ToyConfig | None = None) -> ToyConfig:
    return parse_config(ToyConfig, argv, defaults=defaults, prog="toy")


def expect_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Parse ``argv``, expect argparse's exit with status 2, return its stderr."""
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_field_docs_reads_the_string_under_each_field():
    docs = field_docs(ToyConfig)
    assert docs["learning_rate"] == "Adam step size for the policy."
    assert docs["estimator"] == "Return estimator: reward-to-go or total return."
    assert set(docs) == {f.name for f in dataclasses.fields(ToyConfig)}


def test_help_shows_field_docstrings_and_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    for expected in [
        "--learning-rate LEARNING_RATE Adam step size for the policy. (default: 0.005)",
        "--n-iter N_ITER Number of policy-gradient iterations. (default: 100)",
        "Whether to learn a value baseline. (default: True)",
        "--estimator {rtg,total} Return estimator: reward-to-go or total return. (default: rtg)",
        "Gymnasium environment id, 100% standard.",  # a % in a docstring is not a format
    ]:
        assert expected in text


def test_no_arguments_gives_the_dataclass_defaults():
    assert parse([]) == ToyConfig()


def test_values_of_every_field_type():
    config = parse(
        [
            "--learning-rate",
            "0.01",
            "--n-iter",
            "7",
            "--use-baseline",
            "false",
            "--max-grad-norm",
            "0.5",
            "--estimator",
            "total",
            "--env-id",
            "Ant-v5",
        ]
    )
    assert config == ToyConfig(
        learning_rate=0.01,
        n_iter=7,
        use_baseline=False,
        max_grad_norm=0.5,
        estimator="total",
        env_id="Ant-v5",
    )
    assert isinstance(config.n_iter, int) and isinstance(config.learning_rate, float)


@pytest.mark.parametrize(
    ("text", "value"),
    [("false", False), ("0", False), ("no", False), ("True", True), ("1", True), ("yes", True)],
)
def test_bool_options(text, value):
    assert parse(["--use-baseline", text]).use_baseline is value


def test_a_bool_option_given_bare_means_true():
    assert parse(["--use-baseline"], defaults=ToyConfig(use_baseline=False)).use_baseline is True
    config = parse(["--use-baseline", "--n-iter", "3"], defaults=ToyConfig(use_baseline=False))
    assert config.use_baseline is True and config.n_iter == 3
    assert parse(["--use-baseline", "false"]).use_baseline is False


def test_optional_option_takes_none():
    preset = ToyConfig(max_grad_norm=1.0)
    assert parse(["--max-grad-norm", "none"], defaults=preset).max_grad_norm is None
    assert parse(["--max-grad-norm", "None"], defaults=preset).max_grad_norm is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--learnig-rate", "0.1"], "unrecognized arguments: --learnig-rate 0.1"),
        (["--learning", "0.1"], "unrecognized arguments: --learning 0.1"),  # abbreviation
        (["--learning=0.1"], "unrecognized arguments: --learning=0.1"),
        (["--use-baseline", "maybe"], "expected true or false, got 'maybe'"),
        (["--estimator", "gae"], "invalid choice: 'gae'"),
        (["--n-iter", "2.5"], "invalid int value: '2.5'"),
        (["--learning-rate", "none"], "invalid float value: 'none'"),  # not optional
    ],
)
def test_bad_command_lines_are_usage_errors(argv, message, capsys):
    assert message in expect_usage_error(argv, capsys)


def test_preset_gives_the_defaults_and_the_command_line_wins(capsys):
    preset = ToyConfig(learning_rate=0.02, n_iter=3, estimator="total")
    config = parse(["--n-iter", "50"], defaults=preset)
    assert config == ToyConfig(learning_rate=0.02, n_iter=50, estimator="total")
    with pytest.raises(SystemExit):
        parse(["--help"], defaults=preset)
    text = " ".join(capsys.readouterr().out.split())
    assert "Adam step size for the policy. (default: 0.02)" in text


@dataclass(frozen=True)
class EnvConfig:
    env: str = "CartPole-v1"
    """Gymnasium environment id."""
    steps: int = 100
    """Environment steps."""
    seed: int = 0
    """Seed."""


ENV_PRESETS = {
    "Hopper-v5": EnvConfig(env="Hopper-v5", steps=5000),
    "CartPole-v1": EnvConfig(steps=7),
}


def test_preset_for_an_environment_with_and_without_a_preset():
    assert preset_for(EnvConfig, ENV_PRESETS, "Hopper-v5") == EnvConfig(env="Hopper-v5", steps=5000)
    # no preset: the dataclass's defaults, for that environment
    assert preset_for(EnvConfig, ENV_PRESETS, "Ant-v5") == EnvConfig(env="Ant-v5")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], EnvConfig(steps=7)),  # the preset of the dataclass's own environment
        (["--env", "Hopper-v5"], EnvConfig(env="Hopper-v5", steps=5000)),
        (["--seed", "3", "--env=Hopper-v5"], EnvConfig(env="Hopper-v5", steps=5000, seed=3)),
        (["--env", "Hopper-v5", "--steps", "10"], EnvConfig(env="Hopper-v5", steps=10)),
        (["--env", "Ant-v5"], EnvConfig(env="Ant-v5")),
    ],
)
def test_parse_with_presets_starts_from_the_preset_of_env(argv, expected):
    assert parse_with_presets(EnvConfig, ENV_PRESETS, argv, "Train.", "toy") == expected


def test_parse_with_presets_help_names_the_presets(capsys):
    with pytest.raises(SystemExit):
        parse_with_presets(EnvConfig, ENV_PRESETS, ["--help"], "Train a toy.", "toy")
    out = " ".join(capsys.readouterr().out.split())
    assert "Train a toy. Presets exist for: Hopper-v5, CartPole-v1" in out
    assert "--steps STEPS Environment steps. (default: 7)" in out  # the preset's value


def test_parse_with_presets_refuses_a_misspelled_option(capsys):
    with pytest.raises(SystemExit):
        parse_with_presets(EnvConfig, ENV_PRESETS, ["--env", "Hopper-v5", "--step", "3"], "", "toy")
    assert "unrecognized arguments: --step 3" in capsys.readouterr().err


def test_config_from_dict_round_trip():
    config = ToyConfig(
        learning_rate=0.25, n_iter=3, use_baseline=False, max_grad_norm=None, estimator="total"
    )
    assert config_from_dict(ToyConfig, config_to_dict(config)) == config
    # missing keys take the dataclass default; an int is a fine float
    assert config_from_dict(ToyConfig, {"learning_rate": 1}) == ToyConfig(learning_rate=1.0)


def test_unknown_key_suggests_the_close_one():
    message = (
        "unknown config key(s) 'learning_rat' (did you mean 'learning_rate'?), 'zzz'; "
        "expected keys of ToyConfig: learning_rate, n_iter, use_baseline, "
        "max_grad_norm, estimator, env_id"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        config_from_dict(ToyConfig, {"learning_rat": 0.1, "zzz": 1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"n_iter": "5"}, "config key 'n_iter': expected int, got '5'"),
        ({"n_iter": 2.0}, "config key 'n_iter': expected int, got 2.0"),
        ({"n_iter": True}, "config key 'n_iter': expected int, got True"),
        ({"learning_rate": "0.1"}, "config key 'learning_rate': expected float, got '0.1'"),
        ({"learning_rate": True}, "config key 'learning_rate': expected float, got True"),
        ({"use_baseline": 1}, "config key 'use_baseline': expected bool, got 1"),
        (
            {"estimator": "gae"},
            "config key 'estimator': expected one of ('rtg', 'total'), got 'gae'",
        ),
        ({"env_id": None}, "config key 'env_id': expected str, got None"),
    ],
)
def test_wrong_value_type_is_an_error(data, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        config_from_dict(ToyConfig, data)


def test_config_from_dict_wants_a_dict():
    with pytest.raises(TypeError, match="expected a JSON object of config values, got list"):
        config_from_dict(ToyConfig, [1, 2])  # type: ignore[arg-type]


def test_save_and_load_round_trip(tmp_path):
    config = ToyConfig(
        learning_rate=1e-4,
        n_iter=0,
        use_baseline=False,
        max_grad_norm=0.5,
        estimator="total",
        env_id="ALE/Pong-v5",
    )
    path = tmp_path / "config.json"
    save_config(config, path)
    assert load_config(ToyConfig, path) == config
    assert json.loads(path.read_text())["env_id"] == "ALE/Pong-v5"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left


def test_load_of_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "config.json"
    with pytest.raises(FileNotFoundError, match=re.escape(f"expected a config file at {path}")):
        load_config(ToyConfig, path)


def test_load_of_a_bad_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(f"expected JSON in {path}")):
        load_config(ToyConfig, path)
    path.write_text(json.dumps({"n_iter": 3, "learning_rte": 0.1}))
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        load_config(ToyConfig, path)


@dataclass(frozen=True)
class CheckedToy(CheckedConfig):
    env: str = "CartPole-v1"
    """Gymnasium environment id."""
    batch_size: int = 64
    """Transitions per gradient step."""
    learning_starts: int = 0
    """Environment steps before the first gradient step."""
    checkpoint_every: int | None = None
    """Checkpoint period; None never checkpoints."""
    gamma: float = 0.99
    """Discount factor."""

    def checks(self) -> list[Check]:
        return [
            one_of(self, "env", ("CartPole-v1", "Acrobot-v1")),
            positive(self, "batch_size"),
            non_negative(self, "learning_starts"),
            positive_or_none(self, "checkpoint_every"),
            in_zero_one(self, "gamma"),
        ]


@dataclass(frozen=True)
class CheckedToyChild(CheckedToy):
    tau: float = 0.005
    """Polyak coefficient."""

    def checks(self) -> list[Check]:
        return super().checks() + [in_zero_one(self, "tau")]


@pytest.mark.parametrize(
    "changes",
    [
        {"batch_size": 1},
        {"learning_starts": 0},
        {"checkpoint_every": None},
        {"checkpoint_every": 1},
        {"gamma": 1.0},
        {"gamma": 1e-9},
        {"env": "Acrobot-v1"},
    ],
)
def test_checked_config_accepts_the_edges_of_each_constraint(changes):
    assert dataclasses.asdict(CheckedToy(**changes)).items() >= changes.items()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"batch_size": 0}, "expected batch_size > 0, got 0"),
        ({"learning_starts": -1}, "expected learning_starts >= 0, got -1"),
        ({"checkpoint_every": 0}, "expected checkpoint_every > 0 or None, got 0"),
        ({"gamma": 0.0}, "expected 0 < gamma <= 1, got 0.0"),
        ({"gamma": 1.5}, "expected 0 < gamma <= 1, got 1.5"),
        (
            {"env": "Pong"},
            "expected env in ('CartPole-v1', 'Acrobot-v1'), got 'Pong'",
        ),
    ],
)
def test_checked_config_refuses_a_value_and_says_what_was_expected(changes, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        CheckedToy(**changes)


def test_checked_config_reports_its_first_failing_constraint():
    with pytest.raises(ValueError, match=r"^expected batch_size > 0, got -3$"):
        CheckedToy(batch_size=-3, gamma=2.0)


def test_checked_config_subclass_keeps_the_checks_of_its_base():
    with pytest.raises(ValueError, match=r"^expected 0 < tau <= 1, got 0.0$"):
        CheckedToyChild(tau=0.0)
    with pytest.raises(ValueError, match=r"^expected batch_size > 0, got 0$"):
        CheckedToyChild(batch_size=0)


def test_checked_config_refuses_a_bad_command_line_and_a_bad_config_file(capsys):
    with pytest.raises(SystemExit):
        parse_config(CheckedToy, ["--gamma", "0"], prog="toy")
    assert "expected 0 < gamma <= 1, got 0.0" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"^expected checkpoint_every > 0 or None, got -5$"):
        config_from_dict(CheckedToy, {"checkpoint_every": -5})
