"""Generic checkpoints: a folder of safetensors weights + a versioned JSON config.

::

    model.safetensors   the weights (tensors by name; nothing is ever unpickled)
    config.json         format, config_version, armgym_version, weights_sha256, and
                        whatever the owner of the format stores (policy config, schema,
                        normalisation stats, env ...)

A :class:`CheckpointFormat` names one kind of checkpoint (``armgym.policy`` for BC
policies, later SAC actors, residual policies, reward classifiers) with its current
config version and the migrations from older versions. :meth:`CheckpointFormat.save`
writes the weights then the config (the commit point) with the package's one atomic
writer; :meth:`CheckpointFormat.read_config` migrates older versions and refuses unknown
or newer ones with :class:`CheckpointError`; :meth:`CheckpointFormat.load_weights`
verifies the sha256 before reading a byte of the weights.

The BC policy runtime and its save/load live in :mod:`armgym.policies.learned`; its names
are re-exported here for existing imports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from armgym.atomic import write_bytes_atomic, write_json_atomic
from armgym.errors import CheckpointError

if TYPE_CHECKING:
    import torch

WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"

Migration = Callable[[dict[str, Any]], dict[str, Any]]
"""Upgrades a config dict of version v to version v + 1 (sets ``config_version``)."""


@dataclass(frozen=True)
class CheckpointFormat:
    """One kind of checkpoint folder.

    Attributes:
        name: the ``format`` string stored in config.json (e.g. ``armgym.policy``).
        version: the config version this armgym writes.
        migrations: ``{v: upgrade v -> v + 1}`` for every older version still readable.
        what: how errors call the checkpoint (``policy checkpoint``, ``SAC checkpoint``).
    """

    name: str
    version: int
    migrations: Mapping[int, Migration] = field(default_factory=dict)
    what: str = "checkpoint"

    def save(self, path: str | Path, tensors: Mapping[str, torch.Tensor],
             config: Mapping[str, Any]) -> Path:  # fmt: skip
        """Write ``tensors`` to model.safetensors, then ``config`` (+ format, version,
        armgym version, sha256 of the weights) to config.json; returns the folder."""
        from safetensors.torch import save as st_save

        import armgym

        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        blob = st_save(state, metadata={"format": "pt"})
        write_bytes_atomic(root / WEIGHTS_FILE, blob)
        head = {"format": self.name, "config_version": self.version}
        body = {
            **head,
            **dict(config),
            "armgym_version": armgym.__version__,
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
        }
        write_json_atomic(root / CONFIG_FILE, body, indent=2)
        return root

    def read_config(self, path: str | Path) -> dict[str, Any]:
        """config.json of checkpoint folder ``path``, migrated to :attr:`version`."""
        file = Path(path) / CONFIG_FILE
        if not file.is_file():
            raise CheckpointError(
                f"{file}: missing; {path} is not a {self.what} folder written by armgym "
                f"(it needs {CONFIG_FILE} and {WEIGHTS_FILE})"
            )
        try:
            config = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                f"{file}: not valid JSON ({exc}); the checkpoint is corrupt"
            ) from None
        if not isinstance(config, dict) or config.get("format", self.name) != self.name:
            found = config.get("format") if isinstance(config, dict) else None
            raise CheckpointError(
                f"{file}: not an armgym {self.what} ({self.name}); format {found!r}"
            )
        return self.migrate(config, file)

    def migrate(self, config: dict[str, Any], file: Path | str = CONFIG_FILE) -> dict[str, Any]:
        """Upgrade ``config`` to :attr:`version` step by step; CheckpointError if impossible."""
        version = config.get("config_version")
        if not isinstance(version, int):
            raise CheckpointError(f"{file}: no integer config_version; not an armgym checkpoint")
        if version > self.version:
            raise CheckpointError(
                f"{file}: config_version {version} is newer than this armgym "
                f"understands ({self.version}); upgrade armgym"
            )
        while version < self.version:
            step = self.migrations.get(version)
            if step is None:
                oldest = min(self.migrations, default=self.version)
                raise CheckpointError(
                    f"{file}: config_version {version} is too old to migrate "
                    f"(oldest supported: {oldest}); re-train"
                )
            try:
                config = step(config)
            except (KeyError, TypeError) as exc:
                raise CheckpointError(
                    f"{file}: cannot migrate config_version {version}: missing {exc}"
                ) from None
            version = config["config_version"]
        return config

    def load_weights(self, path: str | Path, config: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """The tensors of model.safetensors, after checking their sha256 against ``config``."""
        from safetensors import SafetensorError
        from safetensors.torch import load as st_load

        weights = Path(path) / WEIGHTS_FILE
        if not weights.is_file():
            raise CheckpointError(f"{weights}: missing; the checkpoint is incomplete")
        blob = weights.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if digest != config.get("weights_sha256"):
            raise CheckpointError(
                f"{weights}: sha256 {digest[:12]}… does not match {CONFIG_FILE} "
                f"({str(config.get('weights_sha256'))[:12]}…); the weights were "
                "modified or corrupted: re-train or restore the file"
            )
        try:
            return dict(st_load(blob))
        except SafetensorError as exc:
            raise CheckpointError(f"{weights}: not a safetensors file ({exc})") from None


def config_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a (nested) frozen config dataclass from ``dataclasses.asdict`` output."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CheckpointError(
            f"{cls.__name__} has no fields {unknown}; the checkpoint was "
            "written by a newer armgym (upgrade) or edited by hand"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = config_from_dict(hint, value)  # type: ignore[arg-type]
        elif typing.get_origin(hint) is tuple:
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
