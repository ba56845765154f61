"""Typed configs: a dataclass per homework becomes a command line, a JSON file, and back.

Each field is documented by the string literal written under it, as in CleanRL's ``Args``::

    @dataclass
    class Config:
        learning_rate: float = 5e-3
        \"\"\"Adam step size for the policy.\"\"\"

That text is the ``--help`` of ``--learning-rate``. A misspelled option or config key is an
error that lists the valid ones; it never falls back silently to a default.

A config that derives from :class:`CheckedConfig` also refuses values outside its constraints
when it is built (from defaults, a command line, a preset or a saved ``config.json``), with
the message ``expected eval_every > 0, got 0``; :func:`positive` and its siblings write the
constraints that recur.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import inspect
import json
import math
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of dataclass ``cls`` (and of its bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``float | None`` -> ``(float, True)``; ``float`` -> ``(float, False)``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
        raise TypeError(f"config fields support `T | None` unions only, got {tp}")
    return tp, False


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _converter(tp: Any) -> Any:
    base, optional = _unwrap_optional(tp)
    if typing.get_origin(base) is typing.Literal:
        choices = typing.get_args(base)
        convert: Any = type(choices[0])
    elif base is bool:
        convert = _parse_bool
    elif base in (int, float, str):
        convert = base
    else:
        raise TypeError(f"config fields must be bool, int, float, str or a Literal, got {base}")
    if not optional:
        return convert

    def convert_optional(text: str) -> Any:
        return None if text.lower() == "none" else convert(text)

    convert_optional.__name__ = getattr(convert, "__name__", "value")
    return convert_optional


def _choices(tp: Any) -> tuple[Any, ...] | None:
    base, optional = _unwrap_optional(tp)
    if typing.get_origin(base) is typing.Literal:
        return typing.get_args(base) + ((None,) if optional else ())
    return None


def add_arguments(parser: argparse.ArgumentParser, cls: type, defaults: Any = None) -> None:
    """Add one ``--option-name`` per field of dataclass ``cls`` to ``parser``.

    Options not given on the command line are absent from the parsed namespace, so that
    a preset can fill them (see :func:`parse_config`). A boolean option given without a value
    means true: ``--double`` is ``--double true``.
    """
    docs = field_docs(cls)
    types_ = _field_types(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = getattr(defaults, f.name) if defaults is not None else _default(f)
        help_text = docs.get(f.name, "")
        help_text += f" (default: {default})" if default is not dataclasses.MISSING else ""
        bare: dict[str, Any] = (
            {"nargs": "?", "const": True} if _unwrap_optional(types_[f.name])[0] is bool else {}
        )
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_converter(types_[f.name]),
            choices=_choices(types_[f.name]),
            default=argparse.SUPPRESS,
            help=help_text.replace("%", "%%"),
            metavar=_metavar(f.name, types_[f.name]),
            **bare,
        )


def _metavar(name: str, tp: Any) -> str | None:
    base, optional = _unwrap_optional(tp)
    if _choices(tp) is not None:
        return None  # argparse shows the choices
    text = "{true,false}" if base is bool else name.upper()
    return text + ("|none" if optional else "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def parse_config(
    cls: type[C],
    argv: Sequence[str] | None = None,
    defaults: C | None = None,
    description: str | None = None,
    prog: str | None = None,
) -> C:
    """Parse ``argv`` into an instance of dataclass ``cls``.

    Fields not given on the command line take their value from ``defaults`` (a preset) when
    it is given, else from the dataclass. Unknown or abbreviated options are errors.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    add_arguments(parser, cls, defaults)
    given = vars(parser.parse_args(argv))
    try:
        base = defaults if defaults is not None else cls()
        return dataclasses.replace(base, **given)  # type: ignore[type-var]
    except ValueError as error:  # a check in the config's __post_init__
        parser.error(str(error))


def preset_for(cls: type[C], presets: Mapping[str, C], env: str) -> C:
    """The tuned configuration for ``env`` from ``presets``; an environment without a preset
    gets the defaults of ``cls`` with its ``env`` replaced."""
    if env in presets:
        return presets[env]
    return dataclasses.replace(cls(), env=env)  # type: ignore[type-var]


def parse_with_presets(
    cls: type[C],
    presets: Mapping[str, C],
    argv: Sequence[str],
    description: str,
    prog: str,
) -> C:
    """A run's config from its command line: the preset of ``--env`` (of the default
    environment of ``cls`` when ``--env`` is not given), overridden by every other option
    given. ``description`` heads ``--help``, which then names the environments with a preset.
    """
    argv = list(argv)
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--env", default=None)
    env = pre.parse_known_args(argv)[0].env
    if env is None:
        env = cls().env  # type: ignore[attr-defined]
    return parse_config(
        cls,
        argv,
        defaults=preset_for(cls, presets, env),
        description=f"{description}\nPresets exist for: {', '.join(presets)}",
        prog=prog,
    )


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build ``cls`` from a dict (for instance a saved ``config.json``); unknown keys and
    values of the wrong type are errors that say what was expected."""
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object of config values, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in data if k not in names]
    if unknown:
        hints = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        text = ", ".join(
            f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items()
        )
        raise ValueError(
            f"unknown config key(s) {text}; expected keys of {cls.__name__}: {', '.join(names)}"
        )
    types_ = _field_types(cls)
    for key, value in data.items():
        base, optional = _unwrap_optional(types_[key])
        if value is None and optional:
            continue
        choices = _choices(types_[key])
        if choices is not None:
            ok = value in choices
        elif base is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, base)
            ok = ok and not (base is int and isinstance(value, bool))
        if not ok:
            expected = f"one of {choices}" if choices is not None else base.__name__
            raise ValueError(f"config key {key!r}: expected {expected}, got {value!r}")
    return cls(**data)


def save_config(config: Any, path: Path) -> None:
    """Write ``config`` as JSON to ``path`` (atomically: a crash leaves the old file or none)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load_config(cls: type[C], path: Path) -> C:
    """Read a config saved by :func:`save_config`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expected a config file at {path}, found none")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"expected JSON in {path}: {error}") from error
    return config_from_dict(cls, data)


Check = tuple[bool, str, Any]
"""One constraint on a config's fields: ``(ok, what was expected, what came in)``."""


class CheckedConfig:
    """A base of config dataclasses: building one runs :meth:`checks`, and the first
    constraint that fails raises ``ValueError("expected <what>, got <value>")``.

    A subclass lists its constraints in ``checks`` (extending ``super().checks()`` where its
    base has some), so that each is written once and every way of building the config, the
    command line included, refuses the same values with the same message.
    """

    def checks(self) -> list[Check]:
        """``(ok, what was expected, what came in)`` for each constraint on the fields."""
        return []

    def __post_init__(self) -> None:
        for ok, expected, got in self.checks():
            if not ok:
                raise ValueError(f"expected {expected}, got {got!r}")


def positive(config: Any, name: str) -> Check:
    """The constraint ``name > 0`` on field ``name`` of ``config``."""
    value = getattr(config, name)
    return (value > 0, f"{name} > 0", value)


def non_negative(config: Any, name: str) -> Check:
    """The constraint ``name >= 0`` on field ``name`` of ``config``."""
    value = getattr(config, name)
    return (value >= 0, f"{name} >= 0", value)


def positive_or_none(config: Any, name: str) -> Check:
    """The constraint ``name > 0 or None``: an optional count or period, where None turns
    the feature off."""
    value = getattr(config, name)
    return (value is None or value > 0, f"{name} > 0 or None", value)


def in_zero_one(config: Any, name: str) -> Check:
    """The constraint ``0 < name <= 1``: the interval (0, 1] of a discount factor, a Polyak
    coefficient or a share."""
    value = getattr(config, name)
    return (0.0 < value <= 1.0, f"0 < {name} <= 1", value)


def one_of(config: Any, name: str, choices: tuple[str, ...]) -> Check:
    """The constraint ``name in choices``, for a string field whose valid values are a tuple
    kept beside the code that uses them (environment ids, strategies, explorers)."""
    value = getattr(config, name)
    return (value in choices, f"{name} in {choices}", value)


@dataclasses.dataclass(frozen=True)
class Target:
    """What a preset is tuned to reach, as the handout's "Results to reach" states it: an
    evaluation whose mean return is at least ``return_mean``, reached within ``within`` steps,
    on every seed or, where the handout says so, on a share of them.

    The slow tests hold the reference's preset runs to it, and ``rlhw calibrate`` refuses
    reference seeds that miss it (more of them than ``share_of_seeds`` allows) instead of
    lowering the grading bar.
    """

    return_mean: float
    """Mean return of one evaluation (the mean over its episodes) to reach."""
    within: int
    """Steps of the run's own clock (environment steps; gradient steps in homework 1) by which
    an evaluation reaches it."""
    share_of_seeds: float = 1.0
    """Share of the seeds that reach it: 1 (every seed) unless the algorithm is known to fail
    on some seeds at this budget and the handout says how often."""

    def __post_init__(self) -> None:
        if self.within <= 0:
            raise ValueError(f"expected within > 0 steps, got {self.within}")
        if not 0.0 < self.share_of_seeds <= 1.0:
            raise ValueError(f"expected 0 < share_of_seeds <= 1, got {self.share_of_seeds}")

    def misses_allowed(self, seeds: int) -> int:
        """How many of ``seeds`` runs may miss the target."""
        return seeds - math.ceil(self.share_of_seeds * seeds - 1e-9)
