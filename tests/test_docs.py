"""The README against the code (after datasette's tests/test_docs.py).

- The configuration table lists exactly the settings of `atlas.config.Settings` meant for the
  people who run the atlas, and where it states a literal default, it is the declared one.
- The `atlas` command block names only commands and options that `atlas … --help` knows (with
  the same choices where it lists them), and it names every command but Flask's and its
  extensions' own.

Each check collects problems; the tests after them show the checks catching a doctored README.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from atlas import config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
#: Flask's own commands and Flask-Limiter's (`limiter`), documented by them.
FLASK_COMMANDS = {"run", "shell", "routes", "limiter"}


def section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no section '## {heading}'"
    return match.group(1)


# -- the configuration table ------------------------------------------------------------------


def config_rows(text: str) -> list[tuple[list[str], str]]:
    """(setting names, default cell) of each `ATLAS_…` row of the configuration table."""
    rows = []
    for line in section(text, "Configuration").splitlines():
        if line.startswith("| `ATLAS_"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows.append((re.findall(r"`ATLAS_(\w+)`", cells[0]), cells[1]))
    return rows


def default_problem(name: str, cell: str, literal: str | None) -> str | None:
    """Why the README's default of `name` disagrees with the declared one, if it does."""
    declared = config.Settings.__dataclass_fields__[name].default
    if literal is None:  # "unset", or what the app does without it: nothing declared
        if declared not in (None, ""):
            return f"ATLAS_{name}: README says '{cell}', atlas/config.py has {declared!r}"
        return None
    if "…" in literal:
        pattern = ".*".join(re.escape(part) for part in literal.split("…"))
        agrees = isinstance(declared, str) and re.fullmatch(pattern, declared, re.S)
    else:
        try:
            agrees = config.parse(name, literal) == declared
        except ValueError:
            agrees = False
    if not agrees:
        return f"ATLAS_{name}: README's default `{literal}`, atlas/config.py has {declared!r}"
    return None


def config_problems(text: str) -> list[str]:
    rows = config_rows(text)
    documented = [name for names, _ in rows for name in names]
    user = config.user_settings()
    problems = [
        f"ATLAS_{n} is a setting for users but not in the README's table"
        for n in user
        if n not in documented
    ]
    problems += [
        f"ATLAS_{n} is in the README's table but not a user setting in atlas/config.py"
        for n in dict.fromkeys(documented)
        if n not in user
    ]
    problems += [
        f"ATLAS_{n} has more than one row"
        for n in dict.fromkeys(documented)
        if documented.count(n) > 1
    ]
    for names, cell in rows:
        literals = re.findall(r"`([^`]*)`", cell)
        if not literals:
            literals = [None] * len(names)
        elif len(literals) == 1:
            literals *= len(names)
        elif len(literals) != len(names):
            problems.append(f"{names}: {len(literals)} defaults for {len(names)} settings")
            continue
        problems += [
            p
            for n, lit in zip(names, literals)
            if n in user
            for p in [default_problem(n, cell, lit)]
            if p
        ]
    return problems


def test_the_configuration_table_is_the_settings_for_users():
    assert config_rows(README), "no ATLAS_… rows found in the README's configuration table"
    assert config_problems(README) == []


def _doctored(old: str, new: str) -> str:
    assert old in README
    return README.replace(old, new)


@pytest.mark.parametrize(
    "old, new, problem",
    [
        ("| `ATLAS_GEOCODER` |", "| `ATLAS_GEOCODERS` |", "ATLAS_GEOCODER is a setting"),
        ("| `ATLAS_GEOCODER` |", "| `ATLAS_GEOCODERS` |", "ATLAS_GEOCODERS is in the README"),
        (
            "`20 per hour`, `10 per minute`",
            "`20 per hour`, `5 per minute`",
            "ATLAS_RATELIMIT_LOGIN",
        ),
        (
            "| `ATLAS_RATELIMIT_ENABLED` | `1` |",
            "| `ATLAS_RATELIMIT_ENABLED` | `0` |",
            "ATLAS_RATELIMIT_ENABLED",
        ),
        ("`gemeinsame-sache-atlas/0.1 (…)`", "`atlas/0.1 (…)`", "ATLAS_NOMINATIM_USER_AGENT"),
        (
            "| `ATLAS_SMTP_PORT`, `ATLAS_SMTP_STARTTLS` | `25`, `0` |",
            "| `ATLAS_SMTP_PORT`, `ATLAS_SMTP_STARTTLS` | unset |",
            "ATLAS_SMTP_PORT",
        ),
    ],
)
def test_the_configuration_check_finds_a_disagreement(old, new, problem):
    assert any(p.startswith(problem) for p in config_problems(_doctored(old, new)))


def test_the_configuration_check_finds_a_missing_row():
    row = next(line for line in README.splitlines() if line.startswith("| `ATLAS_PUBLIC_URL`"))
    assert config_problems(_doctored(row + "\n", "")) == [
        "ATLAS_PUBLIC_URL is a setting for users but not in the README's table"
    ]


# -- the `atlas` command block ----------------------------------------------------------------


def command_block(text: str) -> list[str]:
    block = re.search(r"```sh\n(.*?)```", section(text, "The `atlas` command"), re.S)
    assert block, "no ```sh block in the README's section on the `atlas` command"
    return [line for line in block.group(1).splitlines() if line.strip()]


def parse_help(output: str) -> dict:
    """Commands and options (with their choices, if any) of a click help page."""
    commands, options, part = [], {}, None
    for line in output.splitlines():
        if re.match(r"^\S.*:$", line):
            part = line[:-1]
        elif part == "Commands" and line.strip():
            commands.append(line.split()[0])
        elif part == "Options" and line.strip().startswith("-"):
            head = re.split(r"\s{2,}", line.strip())[0]
            choice = re.search(r"\[([^\]]*\|[^\]]*)\]", head)
            for name in re.findall(r"--[\w-]+", head):
                options[name] = set(choice.group(1).split("|")) if choice else None
    return {"commands": commands, "options": options}


def command_problems(text: str, help_of) -> list[str]:
    """`help_of(path)` is the parsed help page of `atlas *path`."""
    top = help_of(())["commands"]
    problems, mentioned = [], set()
    for line in command_block(text):
        command = None
        for match in re.finditer(r"\batlas((?: [a-z][a-z-]*)+)", line):
            words = match.group(1).split()
            if words[0] not in top:
                problems.append(f"`atlas {words[0]}` is not an atlas command")
                continue
            path = (words[0],)
            sub = help_of(path)["commands"]
            if sub:
                if len(words) < 2 or words[1] not in sub:
                    problems.append(f"`atlas {' '.join(words[:2])}` is not an atlas command")
                    continue
                path += (words[1],)
            mentioned.add(path)
            command = command or path
        for option, value in re.findall(r"(--[\w-]+)(?:[ =]([\w.-]+(?:\|[\w.-]+)+))?", line):
            known = help_of(command)["options"] if command else {}
            if option not in known:
                problems.append(f"`atlas {' '.join(command or ())} {option}` is not an option")
            elif value and set(value.split("|")) != known[option]:
                problems.append(
                    f"`atlas {' '.join(command)} {option}`: the README lists "
                    f"{value}, the command takes {'|'.join(sorted(known[option]))}"
                )
    for name in top:
        if name in FLASK_COMMANDS:
            continue
        subs = help_of((name,))["commands"]
        for path in [(name, sub) for sub in subs] if subs else [(name,)]:
            if path not in mentioned:
                problems.append(f"`atlas {' '.join(path)}` is not in the README")
    return problems


@pytest.fixture
def help_of(cli):
    @cache
    def help_of(path: tuple[str, ...]) -> dict:
        result = cli(*path, "--help")
        assert result.exit_code == 0, result.output
        return parse_help(result.output)

    return help_of


def test_the_command_block_names_the_commands_and_options_there_are(help_of):
    assert len(help_of(())["commands"]) > len(FLASK_COMMANDS)
    assert command_problems(README, help_of) == []


@pytest.mark.parametrize(
    "old, new, problem",
    [
        ("atlas migrate ", "atlas migration ", "`atlas migration` is not an atlas command"),
        ("atlas migrate ", "#tlas migrate ", "`atlas migrate` is not in the README"),
        ("atlas users list", "atlas users all", "`atlas users all` is not an atlas command"),
        ("atlas users list", "", "`atlas users list` is not in the README"),
        ("[--skip-invalid]", "[--skip-bad]", "`atlas import --skip-bad` is not an option"),
        ("--admin: statewide", "--all: statewide", "`atlas users add --all` is not an option"),
        ("--format geojson|csv", "--format geojson|csv|kml", "`atlas export --format`: the README"),
    ],
)
def test_the_command_check_finds_a_disagreement(help_of, old, new, problem):
    assert any(p.startswith(problem) for p in command_problems(_doctored(old, new), help_of))
