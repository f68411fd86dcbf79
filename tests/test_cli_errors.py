"""Every ``armgym`` sub-command turns a bad name or value into one clear line and exit 2.

For each command in ``armgym.cli.COMMANDS`` the walk passes a bad task, robot, path and
number; a command without such an option gets it as an unrecognised option, which is bad
input too. Each case must end with exit code 2 and exactly one line on stderr that names
the problem, and no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from armgym.cli import COMMANDS
from armgym.cli import main as armgym

MISSING = "/nonexistent/armgym-nope"

# command -> {kind: (args, a word the error line must contain)}; kinds a command has no
# option for are passed as an unknown option (see ``cases``)
SPECIFIC: dict[str, dict[str, tuple[list[str], str]]] = {
    "demo": {
        "task": (["--task", "Nope"], "Nope"),
        "number": (["--demos", "-3"], "--demos"),
        "path": (["--out", "{file}"], "{file}"),
    },
    "show": {
        "task": (["--task", "Nope"], "Nope"),
        "robot": (["--robot", "widowx"], "widowx250"),
        "number": (["--seconds", "soon"], "--seconds"),
    },
    "collect": {
        "task": (["--out", "{tmp}/c", "--task", "Nope"], "Nope"),
        "robot": (["--out", "{tmp}/c", "--robot", "widowx"], "widowx250"),
        "path": (["--out", "{file}"], "{file}"),
        "number": (["--out", "{tmp}/c", "--episodes", "0"], "--episodes"),
    },
    "export": {
        "path": ([MISSING], MISSING),
        "number": (["{tmp}", "--episodes-per-shard", "many"], "--episodes-per-shard"),
    },
    "consolidate": {
        "path": ([MISSING, "--out", "{tmp}/o"], MISSING),
        "number": (["{tmp}", "--out", "{tmp}/o", "--data-file-mb", "big"], "--data-file-mb"),
    },
    "replay": {
        "path": ([MISSING], MISSING),
        "number": (["{tmp}", "--tolerance", "tiny"], "--tolerance"),
    },
    "view": {
        "path": ([MISSING], MISSING),
        "number": (["{tmp}", "--max-episodes", "many"], "--max-episodes"),
    },
    "train": {
        "task": (["bc", "--dataset", "{tmp}", "--out", "{tmp}/o", "--task", "Nope"], "Nope"),
        "path": (["bc", "--dataset", MISSING, "--out", "{tmp}/o"], MISSING),
        "number": (["bc", "--dataset", "{tmp}", "--out", "{tmp}/o", "--steps", "x"], "--steps"),
    },
    "eval": {
        "task": (["--checkpoint", MISSING, "--task", "Nope"], "Nope"),
        "path": (["--checkpoint", MISSING], MISSING),
        "number": (["--checkpoint", MISSING, "--episodes", "0"], "--episodes"),
    },
    "serve": {
        "path": (["--checkpoint", MISSING], MISSING),
        "number": (["--policy", "scripted:PickCube", "--port", "70000"], "--port"),
    },
    "run": {
        "task": (["--task", "Nope"], "Nope"),
        "robot": (["--robot", "widowx"], "widowx250"),
        "number": (["--episodes", "0"], "--episodes"),
    },
    "robot-server": {
        "task": (["--task", "Nope"], "Nope"),
        "robot": (["--robot", "widowx"], "widowx250"),
        "number": (["--port", "-1"], "--port"),
    },
    "bench": {
        "task": (["--task", "Nope"], "Nope"),
        "robot": (["--robot", "widowx"], "widowx250"),
        "number": (["--steps", "0"], "--steps"),
    },
}
# what a command needs besides the bad option, so that the option is what fails
BASE: dict[str, list[str]] = {
    "export": ["{tmp}"],
    "consolidate": ["{tmp}", "--out", "{tmp}/o"],
    "replay": ["{tmp}"],
    "view": ["{tmp}"],
    "train": ["bc", "--dataset", "{tmp}", "--out", "{tmp}/o"],
    "eval": ["--checkpoint", MISSING],
}
UNKNOWN_OPTION = {
    "task": ["--task", "Nope"],
    "robot": ["--robot", "widowx"],
    "path": ["--path", MISSING],
    "number": ["--number", "-1"],
}


def cases() -> list[tuple[str, str]]:
    return [(cmd, kind) for cmd in COMMANDS for kind in UNKNOWN_OPTION]


def test_every_command_is_walked() -> None:
    assert set(SPECIFIC) <= set(COMMANDS)
    assert len(cases()) == 4 * len(COMMANDS)


@pytest.mark.parametrize(("cmd", "kind"), cases())
def test_bad_input_is_one_line_and_exit_2(cmd: str, kind: str, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    specific = SPECIFIC.get(cmd, {})
    if kind in specific:
        args, word = specific[kind]
    else:
        args, word = BASE.get(cmd, []) + UNKNOWN_OPTION[kind], UNKNOWN_OPTION[kind][0]
    args = [a.replace("{tmp}", str(tmp_path)).replace("{file}", str(a_file)) for a in args]
    word = word.replace("{tmp}", str(tmp_path)).replace("{file}", str(a_file))
    code = armgym([cmd, *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (cmd, args, err[-2000:])
    assert "Traceback" not in err
    assert len(lines) == 1, (cmd, args, err[-2000:])
    assert lines[0].startswith(f"armgym {cmd}: error: "), lines[0]
    assert word in lines[0], (word, lines[0])


def test_gymnasium_unknown_env_becomes_an_armgym_error() -> None:
    import gymnasium as gym

    import armgym  # noqa: F401
    from armgym._cli_errors import one_line_errors
    from armgym.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'Stack'"), one_line_errors():
        gym.make("armgym/Stak-v0")
