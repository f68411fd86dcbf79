"""The wire codec: byte-compatible with openpi-client, strict on malformed input, never pickles."""

from __future__ import annotations

import contextlib
from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# openpi-client is a required dev dependency: an ImportError here must fail, not skip.
from openpi_client import msgpack_numpy

from armgym.errors import ProtocolError
from armgym.transport import wire

DTYPES = ["bool", "uint8", "int16", "int32", "int64", "float16", "float32", "float64", "<U3", "|S4"]


def test_bytes_identical_to_openpi() -> None:
    obs: dict[str, Any] = {
        "observation.state": np.arange(22, dtype=np.float32),
        "observation.images.front": np.zeros((8, 8, 3), np.uint8),
        "non_contiguous": np.arange(24, dtype=np.int64).reshape(4, 6)[:, ::2],
        "scalar": np.float32(2.5),
        "zero_d": np.array(3.0),
        "empty": np.zeros((0, 3), np.float32),
        "prompt": "pick up the cube",
        "nested": {"a": [1, 2.0, None, True], "b": b"raw"},
    }
    ours = wire.packb(obs)
    assert ours == msgpack_numpy.packb(obs)
    for decoded in (wire.unpackb(ours), msgpack_numpy.unpackb(ours)):
        for key in ("observation.state", "non_contiguous", "zero_d", "empty"):
            np.testing.assert_array_equal(decoded[key], obs[key])
            assert decoded[key].dtype == obs[key].dtype  # type: ignore[attr-defined]
        assert decoded["scalar"] == np.float32(2.5) and decoded["scalar"].dtype == np.float32
        assert decoded["prompt"] == "pick up the cube"
        assert decoded["nested"] == {"a": [1, 2.0, None, True], "b": b"raw"}


def test_packer_reuse_matches_packb() -> None:
    packer = wire.Packer()
    msg = {"actions": np.ones((4, 7), np.float32)}
    assert packer.pack(msg) == packer.pack(msg) == wire.packb(msg)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([object()], dtype=object),
        np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
        np.zeros(2, dtype="V8"),
        np.zeros(2, dtype=np.complex64),
    ],
    ids=["object", "structured", "void", "complex"],
)
def test_refuses_unsafe_dtypes_on_encode(bad: np.ndarray) -> None:
    with pytest.raises(ProtocolError, match="cannot be sent"):
        wire.packb({"x": bad})


def test_refuses_unknown_python_objects() -> None:
    with pytest.raises(ProtocolError, match="cannot encode"):
        wire.packb({"x": {1, 2}})


def _array_map(**over: object) -> bytes:
    m = {b"__ndarray__": True, b"data": b"\0" * 8, b"dtype": "<f4", b"shape": [2]}
    m.update({k.encode(): v for k, v in over.items()})
    return msgpack.packb({"x": m})


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\xc1", "malformed msgpack"),
        (b"\x92\x01", "malformed msgpack"),  # truncated array
        (msgpack.packb([1]) + b"\x01", "malformed msgpack"),  # trailing data
        (msgpack.packb(msgpack.ExtType(1, b"pickle")), "extension type"),
        (_array_map(dtype="|O"), "cannot be sent"),
        (_array_map(dtype="|V8"), "cannot be sent"),
        (_array_map(dtype="[('a','<f4')]"), "dtype"),
        (_array_map(dtype="not-a-dtype"), "unknown array dtype"),
        (_array_map(dtype=7), "dtype must be"),
        (_array_map(shape=[3]), "needs 12 bytes"),
        (_array_map(shape=[-2]), "non-negative"),
        (_array_map(shape="2"), "shape"),
        (_array_map(shape=[2**40, 2**40]), "bytes"),
        (_array_map(data="text"), "raw bytes"),
        (msgpack.packb({"x": {b"__npgeneric__": True, b"data": "x", b"dtype": "<f4"}}), "scalar"),
        (b"\x91" * 5000 + b"\x00", "malformed msgpack"),  # nesting bomb
    ],
)
def test_malformed_frames_raise_protocol_error(frame: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        wire.unpackb(frame)


def test_text_frame_is_refused() -> None:
    with pytest.raises(ProtocolError, match="text frame"):
        wire.unpackb("hello")


def test_decoded_arrays_are_read_only_views() -> None:
    arr = wire.unpackb(wire.packb(np.arange(4, dtype=np.float32)))
    assert not arr.flags.writeable


def test_validate_observation_messages() -> None:
    schema = {"s": ("float32", (3,)), "img": ("uint8", (-1, 4, 3))}
    good = {"s": np.zeros(3, np.float32), "img": np.zeros((5, 4, 3), np.uint8)}
    assert wire.validate_observation(good, schema) is good
    cases = [
        ({"s": good["s"]}, "missing key"),
        ({**good, "extra": np.zeros(1)}, "unknown key"),
        ({**good, "s": np.zeros(3, np.float64)}, "dtype float64, expected float32"),
        ({**good, "s": np.zeros(4, np.float32)}, r"shape \(4,\), expected \(3,\)"),
        ({**good, "img": np.zeros((5, 4), np.uint8)}, "shape"),
        ({**good, "s": np.array([0, np.nan, 0], np.float32)}, "NaN"),
        ({**good, "s": [0.0, 1.0, 2.0]}, "must be a numpy array"),
        ([1, 2], "must be a msgpack map"),
        ({1: 2}, "keys must be strings"),
    ]
    for obs, message in cases:
        with pytest.raises(ProtocolError, match=message):
            wire.validate_observation(obs, schema)
    assert wire.validate_observation({**good, "extra": 1}, schema, allow_extra=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
def test_roundtrip_property(arr: np.ndarray) -> None:
    frame = wire.packb({"a": arr})
    assert frame == msgpack_numpy.packb({"a": arr})
    out = wire.unpackb(frame)["a"]
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_never_escape_as_other_errors(frame: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        wire.unpackb(frame)
