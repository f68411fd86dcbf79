"""Bad command-line input -> one ``ArmgymError`` line, for ``armgym.cli``.

tyro reports a bad option value in a multi-line box and gymnasium an unknown env id with a
traceback; ``one_line_errors()`` turns both, and the ``OSError`` of a bad path, into
``ArmgymError`` subclasses whose message is one line naming the option or the name.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from armgym.errors import ArmgymError, ConfigError, UnknownNameError

#: What a bad path raises before any armgym check sees it.
PATH_ERRORS = (FileNotFoundError, NotADirectoryError, FileExistsError, IsADirectoryError)


def _flag(argument: Any) -> str:
    """``--name`` (or ``NAME`` for a positional) of a tyro ``ArgumentDefinition``."""
    lowered = getattr(argument, "lowered", None)
    names = getattr(lowered, "name_or_flags", None) or ()
    return "/".join(names) or str(getattr(lowered, "metavar", "argument"))


def parse_error_message(event: Any) -> str:
    """One line describing a tyro ``ParseErrorEvent``."""
    kind = type(event).__name__
    if kind == "InstantiationFailure" and event.argument is not None:
        return f"{_flag(event.argument)}: {event.message}"
    if kind == "InvalidChoice":
        return f"{_flag(event.argument)}: {event.value!r} is not one of {', '.join(event.choices)}"
    if kind == "BadValue":
        value = f" {event.offending_value!r}" if event.offending_value else ""
        return f"{_flag(event.argument)}: bad or missing value{value}"
    if kind == "UnrecognizedArgs":
        return f"unrecognized option(s) {' '.join(event.tokens)}; see `{event.prog} --help`"
    if kind == "MissingArgs":
        missing = ", ".join(_flag(a.arg) for a in event.missing_arguments)
        return f"missing required option(s) {missing}; see `{event.prog} --help`"
    message = getattr(event, "message", "") or kind
    return f"{message}; see `{event.prog} --help`"


def _raise_one_line(event: Any) -> None:
    raise ConfigError(parse_error_message(event))


def _unknown_env(exc: Exception) -> ArmgymError:
    """gymnasium's ``NameNotFound`` for ``armgym/<Task>-v0`` as an ``UnknownNameError``."""
    from armgym.tasks import TASKS

    found = re.search(r"`([^`]+)`", str(exc))
    return UnknownNameError("task", found.group(1) if found else str(exc), TASKS.names())


def _option_values(argv: list[str], flag: str) -> list[str]:
    """Values given to ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``)."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith(flag + "=")]
    values += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]
    return values


def _check_names(flag: str, names: list[str], valid: list[str]) -> None:
    lower = {v.lower() for v in valid}
    for name in names:
        if name.lower() not in lower:
            error = UnknownNameError(flag.strip("-"), name, valid)
            raise ConfigError(f"{flag}: {error}") from error


def check_common_options(argv: list[str]) -> None:
    """Options every command means the same way, checked before a command starts work.

    ``--task`` and ``--robot`` name a registered task / robot (``UnknownNameError`` with
    the closest name); ``--port`` is an int in 0..65535 or a serial device path.
    """
    if tasks := _option_values(argv, "--task"):
        from armgym.tasks import TASKS

        _check_names("--task", tasks, TASKS.names())
    if robots := _option_values(argv, "--robot"):
        from armgym.robots.specs import ROBOTS

        _check_names("--robot", robots, ROBOTS.names())
    for port in _option_values(argv, "--port"):
        if _serial_port(port):
            continue  # a real arm's serial port (--real --port /dev/ttyACM0)
        if not (port.isdigit() and 0 <= int(port) <= 65535):
            raise ConfigError(f"--port: {port!r} is not a TCP port (0..65535)")


def _serial_port(value: str) -> bool:
    """True for a serial device path (``/dev/ttyACM0``, ``COM3``), not a TCP port."""
    return "/" in value or (value.upper().startswith("COM") and value[3:].isdigit())


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Within the block, bad input raises an ``ArmgymError`` with a one-line message."""
    import gymnasium.error

    try:
        from tyro._errors import on_parse_error  # private in tyro 1.0; absent before
    except ImportError:  # pragma: no cover - older tyro prints its own box
        hook: Any = contextlib.nullcontext()
    else:
        hook = on_parse_error(_raise_one_line)
    try:
        with hook:
            yield
    except gymnasium.error.NameNotFound as exc:
        raise _unknown_env(exc) from exc
    except PATH_ERRORS as exc:
        raise ConfigError(f"{exc.filename}: {exc.strerror}") from exc
