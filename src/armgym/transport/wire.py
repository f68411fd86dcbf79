"""The wire codec: msgpack with numpy arrays, byte-compatible with openpi-client.

Arrays travel as msgpack maps, exactly as ``openpi_client.msgpack_numpy`` writes them::

    {b"__ndarray__": True, b"data": <raw C-order bytes>, b"dtype": dtype.str, b"shape": [..]}
    {b"__npgeneric__": True, b"data": scalar.item(), b"dtype": dtype.str}

so armgym's peers and openpi's peers read each other's frames. Nothing is pickled: only
numeric, boolean and fixed-width string dtypes (kinds ``b i u f S U``) are accepted;
object, void (structured) and complex dtypes are refused on both sides. Decoded arrays
are zero-copy, read-only views of the received frame.

Every decoding failure raises :class:`armgym.errors.ProtocolError` with a message that
names the offending key, so servers can answer bad input without dying.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgpack
import numpy as np

from armgym.errors import ProtocolError

#: Bumped when a frame's layout changes incompatibly; announced in the metadata frame.
PROTOCOL_VERSION = 1

#: dtype kinds allowed on the wire: bool, signed/unsigned int, float, bytes, unicode.
ALLOWED_KINDS = frozenset("biufSU")

#: Default cap on one websocket frame [bytes] (two 224x224x3 images are ~0.3 MB).
DEFAULT_MAX_MESSAGE_BYTES = 16 * 2**20


def _check_dtype(dtype: np.dtype) -> None:
    if (
        dtype.kind not in ALLOWED_KINDS
        or dtype.hasobject
        or dtype.fields is not None
        or dtype.itemsize == 0
    ):
        raise ProtocolError(
            f"dtype {dtype.str!r} cannot be sent: only bool, int, uint, float, bytes and "
            "unicode arrays are allowed (no object, structured/void or complex dtypes)"
        )


def _pack_default(obj: Any) -> Any:
    """msgpack ``default`` hook: numpy arrays and scalars -> openpi's maps."""
    if isinstance(obj, np.ndarray):
        _check_dtype(obj.dtype)
        if not obj.flags.c_contiguous:
            obj = np.ascontiguousarray(obj)
        # a byte view avoids one copy of large images; 0-d / empty arrays take tobytes()
        data: bytes | memoryview = (
            memoryview(obj).cast("B") if obj.ndim and obj.size else obj.tobytes()
        )
        return {b"__ndarray__": True, b"data": data, b"dtype": obj.dtype.str, b"shape": obj.shape}
    if isinstance(obj, np.generic):
        _check_dtype(obj.dtype)
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    if isinstance(obj, tuple):
        return list(obj)
    raise ProtocolError(f"cannot encode object of type {type(obj).__name__} on the wire")


_DTYPE_CACHE: dict[str, np.dtype] = {}


def _decode_dtype(raw: Any) -> np.dtype:
    cached = _DTYPE_CACHE.get(raw) if isinstance(raw, str) else None
    if cached is not None:
        return cached
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str) or len(raw) > 16:
        raise ProtocolError(f"array dtype must be a short string like '<f4', got {raw!r}")
    try:
        dtype = np.dtype(raw)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"unknown array dtype {raw!r}") from exc
    _check_dtype(dtype)
    if len(_DTYPE_CACHE) < 256:  # only valid dtypes are cached; bounded
        _DTYPE_CACHE[raw] = dtype
    return dtype


def _decode_array(obj: dict[Any, Any]) -> np.ndarray:
    dtype = _decode_dtype(obj.get(b"dtype"))
    data, shape = obj.get(b"data"), obj.get(b"shape")
    if type(data) is not bytes:
        raise ProtocolError("array 'data' must be msgpack bin (raw bytes)")
    if type(shape) is not list:  # msgpack arrays decode to lists
        raise ProtocolError(f"array 'shape' must be a list of non-negative ints, got {shape!r}")
    count = 1
    for d in shape:
        if type(d) is not int or d < 0:
            raise ProtocolError(f"array 'shape' must be a list of non-negative ints, got {shape!r}")
        count *= d
    if count * dtype.itemsize != len(data):
        raise ProtocolError(
            f"array of shape {tuple(shape)} and dtype {dtype.str} needs "
            f"{count * dtype.itemsize} bytes, frame carries {len(data)}"
        )
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape)


def _object_hook(obj: dict[Any, Any]) -> Any:
    if b"__ndarray__" in obj:
        return _decode_array(obj)
    if b"__npgeneric__" in obj:
        dtype = _decode_dtype(obj.get(b"dtype"))
        try:
            return dtype.type(obj.get(b"data"))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"bad numpy scalar of dtype {dtype.str}: {exc}") from exc
    return obj


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ProtocolError(f"msgpack extension type {code} is not part of the protocol")


class Packer:
    """Reusable encoder (one per connection/thread; not thread-safe)."""

    def __init__(self) -> None:
        self._packer = msgpack.Packer(default=_pack_default, use_bin_type=True)

    def pack(self, obj: Any) -> bytes:
        """Encode ``obj`` (dicts, lists, scalars, str, bytes, numpy arrays) to one frame."""
        try:
            return self._packer.pack(obj)
        except ProtocolError:
            self._packer.reset()
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            self._packer.reset()
            raise ProtocolError(f"cannot encode message: {exc}") from exc


def packb(obj: Any) -> bytes:
    """Encode one message with a fresh packer (thread-safe; :class:`Packer` is faster)."""
    try:
        return msgpack.packb(obj, default=_pack_default, use_bin_type=True)
    except ProtocolError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(f"cannot encode message: {exc}") from exc


def unpackb(frame: bytes | bytearray | memoryview | str) -> Any:
    """Decode one frame; any malformed input raises :class:`ProtocolError`.

    Text frames are refused (the protocol's data frames are binary; servers use text
    frames only for error messages).
    """
    if isinstance(frame, str):
        raise ProtocolError("expected a binary msgpack frame, got a text frame")
    try:
        return msgpack.unpackb(
            frame, object_hook=_object_hook, ext_hook=_refuse_ext, raw=False, strict_map_key=False
        )
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises ValueError, ExtraData, StackError, TypeError...
        raise ProtocolError(f"malformed msgpack frame ({type(exc).__name__}: {exc})") from exc


# ----------------------------------------------------------------------------- validation


def expect_mapping(msg: Any, what: str) -> dict[str, Any]:
    """Return ``msg`` if it is a map with string keys, else raise ProtocolError."""
    if not isinstance(msg, dict):
        raise ProtocolError(f"{what} must be a msgpack map, got {type(msg).__name__}")
    for key in msg:
        if not isinstance(key, str):
            raise ProtocolError(f"{what} keys must be strings, got {key!r}")
    return msg


_add_reduce = np.add.reduce


def all_finite(arr: np.ndarray) -> bool:
    """True if the float array ``arr`` holds no NaN or inf.

    One reduction instead of ``np.isfinite(arr).all()`` (a temporary array and two
    calls; ~5x slower for small arrays): a NaN or inf element always makes the sum NaN
    or inf, so a finite sum proves every element finite. A sum that overflows from
    finite values falls back to the exact check.
    """
    return math.isfinite(_add_reduce(arr, axis=None)) or bool(np.isfinite(arr).all())


def check_finite(name: str, arr: np.ndarray) -> None:
    """Raise ProtocolError if a float array holds NaN or inf."""
    if arr.dtype.kind == "f" and not all_finite(arr):
        raise ProtocolError(f"{name!r} contains NaN or inf values")


def validate_array(
    name: str, value: Any, dtype: str | np.dtype, shape: tuple[int, ...] | list[int]
) -> np.ndarray:
    """Check one array against ``dtype`` and ``shape`` (``-1`` = any size); no NaN/inf.

    Returns the array unchanged; raises ProtocolError naming ``name`` otherwise.
    """
    if not isinstance(value, np.ndarray):
        raise ProtocolError(
            f"{name!r} must be a numpy array (msgpack-numpy map), got {type(value).__name__}"
        )
    want = np.dtype(dtype)
    if value.dtype != want:
        raise ProtocolError(f"{name!r} has dtype {value.dtype}, expected {want} (cast it first)")
    if len(value.shape) != len(shape) or any(
        s != -1 and s != v for s, v in zip(shape, value.shape, strict=True)
    ):
        raise ProtocolError(f"{name!r} has shape {value.shape}, expected {tuple(shape)}")
    check_finite(name, value)
    return value


Schema = Mapping[str, tuple[str | np.dtype, tuple[int, ...]]]


class CompiledSchema:
    """An observation schema prepared once for fast per-message validation.

    Args:
        schema: key -> (dtype, shape); ``-1`` in a shape matches any size.
        allow_extra: accept keys the schema does not list.
        history: > 1 also accepts a history per key, shape ``(T, *shape)`` with
            ``1 <= T <= history`` (oldest frame first), for policies with an observation
            horizon (``metadata.extra["obs_horizon"]``).
    """

    def __init__(self, schema: Schema, *, allow_extra: bool = False, history: int = 1):
        self.allow_extra, self.history = allow_extra, max(1, int(history))
        self.keys = frozenset(schema)
        self.fields = [
            (key, np.dtype(dtype), tuple(shape), -1 in shape, np.dtype(dtype).kind == "f")
            for key, (dtype, shape) in schema.items()
        ]

    def validate(self, obs: Any) -> dict[str, np.ndarray]:
        """Return ``obs`` if it matches; else raise ProtocolError naming the key."""
        if type(obs) is not dict or (not self.allow_extra and obs.keys() != self.keys):
            return self._slow(obs)
        for key, dtype, shape, wildcard, is_float in self.fields:
            value = obs.get(key)
            if (
                type(value) is not np.ndarray
                or value.dtype != dtype
                or (value.shape != shape and (not wildcard or len(value.shape) != len(shape)))
            ):
                return self._slow(obs)
            if wildcard or (is_float and not all_finite(value)):
                validate_array(key, value, dtype, shape)
        return obs

    def _slow(self, obs: Any) -> dict[str, np.ndarray]:
        return validate_observation(
            obs,
            {k: (dt, shape) for k, dt, shape, _, _ in self.fields},
            allow_extra=self.allow_extra,
            history=self.history,
        )


def validate_observation(
    obs: Any, schema: Schema, *, allow_extra: bool = False, history: int = 1
) -> dict[str, np.ndarray]:
    """Validate an observation map against ``schema`` (key -> (dtype, shape)).

    Missing keys, unknown keys (unless ``allow_extra``), wrong dtypes or shapes and
    NaN/inf values each raise ProtocolError with a message naming the key. With
    ``history`` > 1 a value may also be a history ``(T, *shape)``, ``1 <= T <= history``.
    """
    obs = expect_mapping(obs, "observation")
    missing = [k for k in schema if k not in obs]
    if missing:
        raise ProtocolError(
            f"observation is missing key(s) {missing}; the server expects {sorted(schema)}"
        )
    if not allow_extra:
        extra = [k for k in obs if k not in schema]
        if extra:
            raise ProtocolError(
                f"observation has unknown key(s) {extra}; the server expects {sorted(schema)}"
            )
    for key, (dtype, shape) in schema.items():
        value = obs[key]
        ndim = len(shape)
        if history > 1 and isinstance(value, np.ndarray) and value.ndim == ndim + 1:
            if not 1 <= value.shape[0] <= history:
                raise ProtocolError(
                    f"{key!r} has shape {value.shape}: a history of {value.shape[0]} frames; "
                    f"send one frame {tuple(shape)} or at most {history} (oldest first)"
                )
            validate_array(key, value, dtype, (value.shape[0], *shape))
        else:
            validate_array(key, value, dtype, shape)
    return obs
