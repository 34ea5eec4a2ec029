"""The contract of every ``longtail`` subcommand, derived from :data:`longtail.cli.COMMANDS`.

A command registered there is covered here without editing this file: its ``--help`` exits 0
with a usage line and a one-line description, its argparse errors are one ``error:`` line with
exit code 2, and run without its required arguments it fails in one line, without a traceback.
"""

from __future__ import annotations

import argparse

import pytest

from longtail.cli import COMMANDS, build_parser, main
from longtail.config.loading import _spec_keys

NAMES = sorted(COMMANDS)
#: Config keys of registered components (loss, strategy, augment.method, ...), as the config
#: model knows them: a name or a ``{name: ..., **params}`` spec.
REGISTRY_KEYS = sorted(_spec_keys())

# Commands whose every argument has a default: run bare, they do their work (``demo`` trains
# on SMS Spam), so the "fails without arguments" contract does not apply to them. The test
# ``test_commands_exempt_from_the_bare_run_have_no_required_argument`` keeps this list honest.
RUN_WITHOUT_ARGUMENTS = {"demo"}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """The one-line ``help`` of each subcommand, as ``longtail --help`` lists it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _exit_code(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.fixture
def wide_terminal(monkeypatch):
    """argparse wraps at $COLUMNS; wide enough that a one-line description stays one line."""
    monkeypatch.setenv("COLUMNS", "300")


def test_every_registered_command_is_a_subcommand_with_a_handler():
    parser = build_parser()
    assert sorted(_subparsers(parser)) == NAMES
    for name, module in COMMANDS.items():
        assert callable(module.add_parser) and callable(module.run), name
        assert _subparsers(parser)[name].get_default("handler") is module.run, name


def test_top_level_help_lists_every_command_with_a_summary(capsys, wide_terminal):
    assert _exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # a long name puts its summary on the next line
    summaries = _summaries(build_parser())
    for name in NAMES:
        assert summaries[name].strip(), f"{name} has no help= summary"
        assert f" {name} {' '.join(summaries[name].split())}" in flat, (
            f"{name} missing from `longtail --help`:\n{out}"
        )


@pytest.mark.parametrize("name", NAMES)
def test_help_exits_zero_with_a_usage_line(name, capsys, wide_terminal):
    assert _exit_code([name, "--help"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"usage: longtail {name} ")
    assert captured.err == ""


@pytest.mark.parametrize("name", NAMES)
def test_help_has_a_one_line_description(name, capsys, wide_terminal):
    assert _exit_code([name, "--help"]) == 0
    paragraphs = [p.strip() for p in capsys.readouterr().out.split("\n\n")]
    assert paragraphs[0].startswith(f"usage: longtail {name}")
    description = paragraphs[1]  # argparse: usage, then the description, then the sections
    assert description and "\n" not in description, repr(description)
    assert not description.endswith(":"), f"no description, only a section: {description!r}"


@pytest.mark.parametrize("name", NAMES)
def test_nested_actions_have_help_too(name, capsys, wide_terminal):
    """``longtail cache info --help`` and the like: every action of a command with actions."""
    actions = _subparsers(_subparsers(build_parser())[name])
    for action in sorted(actions):
        assert _exit_code([name, action, "--help"]) == 0, (name, action)
        assert capsys.readouterr().out.startswith(f"usage: longtail {name} {action}")


@pytest.mark.parametrize("name", NAMES)
def test_unknown_flag_is_one_line_pointing_at_the_command_help(name, capsys):
    assert _exit_code([name, "--no-such-flag"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"longtail {name}" in line and "--help" in line


@pytest.mark.parametrize("name", NAMES)
def test_no_command_guesses_a_shortened_flag(name):
    """Every command's flags work spelled out only (``allow_abbrev=False``): ``train``'s are
    generated from the config, so a new field could change what a prefix meant."""
    parser = _subparsers(build_parser())[name]
    nested = list(_subparsers(parser).values())  # cache / datasets actions
    assert all(p.allow_abbrev is False for p in [parser, *nested])


def test_a_shortened_train_flag_is_refused_in_one_line(capsys):
    assert _exit_code(["train", "--max-c", "3"]) == 2  # --max-chunks or --max-chars?
    line = _one_error_line(capsys.readouterr().err)
    assert "unrecognized arguments: --max-c " in line, line


@pytest.mark.parametrize("name", sorted(set(NAMES) - RUN_WITHOUT_ARGUMENTS))
def test_without_arguments_fails_in_one_line(name, capsys):
    code = _exit_code([name])
    assert isinstance(code, int) and code != 0
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert captured.out == ""
    # the message names what is missing: a flag, a positional or the data to pass
    assert "required" in line or "pass --" in line, line


def test_commands_exempt_from_the_bare_run_have_no_required_argument():
    parser = build_parser()
    for name in RUN_WITHOUT_ARGUMENTS:
        assert name in COMMANDS, f"{name} is exempted but not registered"
        args = parser.parse_args([name])  # no "the following arguments are required"
        assert args.command == name and args.handler is COMMANDS[name].run


@pytest.mark.parametrize("name", sorted(RUN_WITHOUT_ARGUMENTS))
def test_exempt_commands_still_refuse_a_bad_value_in_one_line(name, capsys):
    parser = _subparsers(build_parser())[name]
    typed = [
        a
        for a in parser._actions
        if a.option_strings and a.type in (int, float) and a.nargs is None
    ]
    assert typed, f"{name}: no numeric option to misuse; extend this test"
    for action in typed:
        assert _exit_code([name, action.option_strings[-1], "not-a-number"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert action.option_strings[-1] in line and f"longtail {name}" in line


def test_train_flags_offer_exactly_the_values_the_config_allows():
    """Every ``longtail train`` flag with fixed choices takes them from the config's annotation."""
    from longtail.cli.train import config_choices, config_flag_keys

    keys = config_flag_keys()
    train = _subparsers(build_parser())["train"]
    checked = 0
    for action in train._actions:
        if action.choices is not None and action.dest in keys:
            assert list(action.choices) == config_choices(keys[action.dest]), action.dest
            checked += 1
    assert checked >= 8
    with pytest.raises(TypeError, match="not a Literal"):
        config_choices("train.epochs")


@pytest.mark.parametrize("key", REGISTRY_KEYS)
def test_a_train_flag_whose_help_lists_a_registry_names_every_registered_entry(
    key, capsys, wide_terminal
):
    """The names are read from the registry when ``--help`` is printed (not written out), so a
    newly registered component is listed without editing the CLI."""
    import re

    from longtail.options import REGISTRIES, options

    [option] = [o for o in options() if o.key == key]
    assert _exit_code(["train", "--help"]) == 0
    out = capsys.readouterr().out
    [block] = re.findall(rf"^  {re.escape(option.flag)} .*?(?=^  -|\Z)", out, re.M | re.S)
    words = set(re.findall(r"[a-z_]+", block))
    registered = REGISTRIES[key]().names()
    missing = [entry for entry in registered if entry not in words]
    assert registered and not missing, f"longtail train {option.flag}: help does not name {missing}"
