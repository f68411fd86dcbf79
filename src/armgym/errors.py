"""armgym's own exceptions. Every error says what went wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ArmgymError(Exception):
    """Base class of every error armgym raises on purpose."""


class UnknownNameError(ArmgymError, KeyError):
    """A name (task, robot, option value, policy, ...) is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind, self.name = kind, name
        self.valid = sorted(valid)
        close = difflib.get_close_matches(name, self.valid, n=1, cutoff=0.0)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Valid: {', '.join(self.valid)}.")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class InvalidActionError(ArmgymError, ValueError):
    """An action has the wrong shape, dtype, or non-finite values."""


class ConfigError(ArmgymError, ValueError):
    """A configuration value is out of range or inconsistent."""


class PhysicsError(ArmgymError, RuntimeError):
    """The simulation became unstable (NaN state, MuJoCo warning)."""


class CheckpointError(ArmgymError, ValueError):
    """A checkpoint is missing, incompatible, or has been tampered with."""


class DatasetError(ArmgymError, ValueError):
    """A dataset on disk is malformed; the message names the file."""


class ProtocolError(ArmgymError, ValueError):
    """A message on the wire does not follow armgym's / openpi's protocol."""


class HardwareError(ArmgymError, RuntimeError):
    """A real device (servo bus, camera, robot server) failed or did not answer.

    The driver has already tried to leave the arm in a safe state (held where it is);
    the message says what failed and what to check.
    """


class TrainingError(ArmgymError, RuntimeError):
    """Training cannot go on (a NaN loss, a full disk); the last good checkpoint is intact."""
