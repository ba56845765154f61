"""The wire format between the grader and the sandboxed worker: JSON plus raw array bytes.

Nothing that crosses the pipe is ever unpickled or imported. A message is one *frame*::

    frame = b"RLHW" | body length (8 bytes, big-endian) | body
    body  = JSON length (4 bytes, big-endian) | JSON (UTF-8) | array bytes, back to back

The JSON may hold only plain values: ``None``, ``bool``, ``int`` (64-bit), finite ``float``,
``str``, ``list``, and ``dict`` with ``str`` keys. Everything else is a one-key *marker*
object (keys starting with ``__`` are reserved for markers):

========================================================  ======================================
marker                                                    decodes to
========================================================  ======================================
``{"__float__": "nan"}`` (or ``"inf"``, ``"-inf"``)       the non-finite ``float``
``{"__tuple__": [...]}``                                  a ``tuple``
``{"__ndarray__": {"dtype": "float32", "shape": [2, 3],   a fresh, writable ``np.ndarray`` of
"offset": 0, "nbytes": 24}}``                             ``nbytes`` bytes taken from the array
                                                          bytes at ``offset`` (little-endian)
the same with ``"torch": true``                           a ``torch.Tensor`` (CPU), or the array
                                                          when decoding with ``tensors=False``
the same with ``"scalar": true`` and ``"shape": []``      a NumPy scalar (``np.float32(1.5)``)
========================================================  ======================================

Decoding is strict, because the worker runs student code and may send anything: it rejects a
bad magic, frames over the size cap (64 MiB by default, checked before reading the body), a
JSON part over :data:`MAX_JSON_BYTES` (checked on the body's first four bytes, before it is
read) or with more than :data:`MAX_JSON_ITEMS` values (counted before it is parsed): arrays
travel as raw bytes, so the JSON is only the message's structure, and these caps are what bound
the memory and time that parsing one message costs the grader;
``NaN``/``Infinity`` literals and numbers that overflow to infinity, duplicate keys, unknown
markers, dtypes outside :data:`DTYPES` (so no object arrays), a shape that does not match the
byte count, arrays that overlap, skip or leave bytes over, and nesting deeper than
:data:`MAX_DEPTH`. Every such problem raises :class:`ProtocolError`. Every string it gives
back, dict keys included, has been through :func:`safe_text`: at most :data:`MAX_TEXT_CHARS`
long, with no control characters and no lone surrogates, so text from the worker can be shown
in a terminal and written as UTF-8 whatever the student's code put in it. A reply's id can be
read from the first bytes of its JSON (:func:`peek_id`), so a reply to something else is
refused before it is parsed.

Encoding is strict too: only the exact types above (no subclasses, so a ``float`` subclass
with its own ``__eq__`` is refused), NumPy arrays and scalars of a :data:`DTYPES` dtype, and
dense CPU-convertible torch tensors. Anything else raises :class:`UnsupportedTypeError`, which
names the offending type and where it sits (``result[1]['probs']``).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import sys
from typing import Any

import numpy as np

MAGIC = b"RLHW"
HEADER = struct.Struct(">4sQ")  # magic, body length
JSON_LENGTH = struct.Struct(">I")
DEFAULT_MAX_BYTES = 64 * 2**20
MAX_JSON_BYTES = 2**20
"""The largest JSON part of a frame. The suites' largest is under 3 KiB (a reference graded
with every fast check): a megabyte leaves room for any plain result and none for a JSON bomb
(60 MB of ``{},`` once took 3 GB of the grader's memory to parse)."""
MAX_JSON_ITEMS = 100_000
"""The most values a frame's JSON may hold, counted before it is parsed (by its commas and
opening brackets, an upper bound); the suites' largest holds about 200. At the caps, the
costliest message to parse (50,000 one-key dicts) takes the grader about 0.15 s and 22 MiB."""
MAX_TEXT_CHARS = 2**16
"""The longest string a decoded message holds; longer ones are cut (see :func:`safe_text`)."""
MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # int64 and uint64 values both travel as JSON ints

#: The array dtypes that may cross the pipe: booleans and fixed-size numbers, nothing else.
DTYPES: frozenset[str] = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    }
)
_ARRAY_KEYS = frozenset({"dtype", "shape", "offset", "nbytes", "torch", "scalar"})
_MAX_NDIM = 32
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# what a terminal or a UTF-8 file cannot take as it is: control characters (ESC, CR, backspace,
# NUL, C1 controls such as CSI) but tab and newline, lone surrogates, the line and paragraph
# separators (a new line to str.splitlines) and the bidirectional controls (which reorder
# what a table shows)
_UNSAFE_TEXT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_CUT_NOTE_CHARS = 40  # room kept for "\n[N more characters cut]"
_ID_PREFIX = re.compile(rb'\{"id":(0|[1-9][0-9]{0,18})[,}]')


def safe_text(text: str, limit: int | None = None) -> str:
    """``text`` safe to show in a terminal and to write as UTF-8: every control character but
    tab and newline (ESC, CR, backspace, NUL, ...), lone surrogate, line or paragraph separator
    and bidirectional control replaced by U+FFFD; when ``limit`` is given, at most ``limit``
    characters, the end cut and replaced by a note of how many were cut. Applying it twice
    gives the same text."""
    if limit is not None and len(text) > limit:
        if limit < 2 * _CUT_NOTE_CHARS:  # no room for the note
            text = text[:limit]
        else:
            keep = limit - _CUT_NOTE_CHARS
            text = text[:keep] + f"\n[{len(text) - keep} more characters cut]"
    return _UNSAFE_TEXT.sub("\ufffd", text)


def peek_id(body: bytes) -> int | None:
    """The ``"id"`` a frame body's JSON starts with (``{"id":12,...``), read from its first
    bytes without parsing the rest; ``None`` when it does not start with one. Every reply of
    the worker starts so, which lets the grader refuse a reply to something else unparsed."""
    match = _ID_PREFIX.match(body, JSON_LENGTH.size, JSON_LENGTH.size + 32)
    return int(match.group(1)) if match else None


class ProtocolError(ValueError):
    """A frame or message that breaks the wire format (garbage, truncation, bad array, ...)."""


class UnsupportedTypeError(TypeError):
    """A value that cannot be sent: only plain values, arrays and tensors can.

    ``type_name`` names what was found, ``where`` where it sits in the message
    (``message['ok'][1]``), ``detail`` adds why, if the type alone does not say.
    """

    def __init__(self, type_name: str, where: str, detail: str = ""):
        self.type_name = type_name
        self.where = where
        self.detail = detail
        super().__init__(f"{type_name} at {where}" + (f" ({detail})" if detail else ""))


# ---------------------------------------------------------------------------------- encoding


def _torch_tensor_types() -> tuple[type, ...]:
    # torch is never imported here: a tensor can only exist if its sender imported torch
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    return (torch.Tensor, torch.nn.Parameter)


class _Encoder:
    def __init__(self) -> None:
        self.buffers: list[bytes] = []
        self.offset = 0
        self.tensor_types = _torch_tensor_types()

    def array(self, array: np.ndarray, where: str, **flags: bool) -> dict[str, Any]:
        if array.dtype.name not in DTYPES or array.dtype.fields is not None:
            raise UnsupportedTypeError(f"array of dtype {array.dtype}", where)
        if array.ndim > _MAX_NDIM:
            raise UnsupportedTypeError(f"array of {array.ndim} dimensions", where)
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        data = little.tobytes()
        header: dict[str, Any] = {
            "dtype": array.dtype.name,
            "shape": [int(n) for n in array.shape],
            "offset": self.offset,
            "nbytes": len(data),
        }
        header.update({flag: True for flag, on in flags.items() if on})
        self.buffers.append(data)
        self.offset += len(data)
        return {"__ndarray__": header}

    def tensor(self, tensor: Any, where: str) -> dict[str, Any]:
        import torch

        if tensor.layout != torch.strided or tensor.is_quantized:
            raise UnsupportedTypeError(f"torch tensor with layout {tensor.layout}", where)
        if tensor.dtype == torch.bfloat16:
            raise UnsupportedTypeError("torch tensor of dtype torch.bfloat16", where)
        array = tensor.detach().cpu().resolve_conj().resolve_neg().numpy()
        return self.array(array, where, torch=True)

    def value(self, x: Any, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise UnsupportedTypeError("value nested too deeply", where, f"over {MAX_DEPTH}")
        kind = type(x)
        if x is None or kind is bool or kind is str:
            return x
        if kind is int:
            if not INT_MIN <= x <= INT_MAX:
                raise UnsupportedTypeError("int out of the 64-bit range", where)
            return x
        if kind is float:
            if math.isfinite(x):
                return x
            return {"__float__": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}
        if kind is list:
            return [self.value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(x)]
        if kind is tuple:
            return {
                "__tuple__": [self.value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(x)]
            }
        if kind is dict:
            out = {}
            for key, v in x.items():
                if type(key) is not str:
                    raise UnsupportedTypeError(f"dict key of type {type(key).__name__}", where)
                if key.startswith("__"):
                    raise UnsupportedTypeError(f"dict key {key!r}", where, "'__' is reserved")
                out[key] = self.value(v, f"{where}[{key!r}]", depth + 1)
            return out
        if kind is np.ndarray:
            return self.array(x, where)
        if isinstance(x, np.generic) and kind.__module__ == "numpy":
            if np.dtype(kind).name not in DTYPES:
                raise UnsupportedTypeError(_type_name(x), where)
            return self.array(np.asarray(x), where, scalar=True)
        if kind in self.tensor_types:
            return self.tensor(x, where)
        raise UnsupportedTypeError(_type_name(x), where)


def _type_name(x: Any) -> str:
    kind = type(x)
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None)
    if not isinstance(name, str):
        name = "?"
    return (
        name if module in (None, "builtins") or not isinstance(module, str) else f"{module}.{name}"
    )


def encode(message: Any, *, where: str = "message") -> bytes:
    """The frame for ``message`` (see the module docstring for what it may contain).

    Args:
        message: the value to send.
        where: how errors name ``message`` itself.

    Raises:
        UnsupportedTypeError: ``message`` holds something other than plain values, arrays
            of an allowed dtype and tensors, or so many plain values that its JSON is over
            :data:`MAX_JSON_BYTES` (the other side would refuse it).
    """
    encoder = _Encoder()
    tree = encoder.value(message, where, 0)
    text = json.dumps(tree, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_JSON_BYTES or _json_items(text) > MAX_JSON_ITEMS:
        raise UnsupportedTypeError(
            f"{len(text)} bytes and up to {_json_items(text)} plain values",
            where,
            f"over the caps of {MAX_JSON_BYTES} bytes and {MAX_JSON_ITEMS} values: send many "
            "numbers as an array",
        )
    body = b"".join([JSON_LENGTH.pack(len(text)), text.encode("ascii"), *encoder.buffers])
    return HEADER.pack(MAGIC, len(body)) + body


# ---------------------------------------------------------------------------------- decoding


def _json_items(text: str | bytes) -> int:
    """An upper bound on the number of values in JSON ``text``, without parsing it: each value
    after the first follows a comma, or opens a container (commas in strings count too)."""
    if isinstance(text, str):
        return text.count(",") + text.count("[") + text.count("{") + 1
    return text.count(b",") + text.count(b"[") + text.count(b"{") + 1


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"non-finite number literal {name} (send it as a __float__ marker)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"number {text[:40]} overflows to infinity")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 21:  # longer than any 64-bit integer
        raise ProtocolError(f"integer {text[:40]}... is out of the 64-bit range")
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise ProtocolError(f"integer {value} is out of the 64-bit range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        key = safe_text(key, MAX_TEXT_CHARS)  # two keys made equal by it are refused too
        if key in out:
            raise ProtocolError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


class _Decoder:
    def __init__(self, data: bytes, start: int, tensors: bool):
        self.data = data
        self.start = start  # where the array bytes begin
        self.size = len(data) - start
        self.offset = 0  # arrays must tile the array bytes in order
        self.tensors = tensors

    def array(self, header: Any) -> Any:
        if type(header) is not dict or not set(header) <= _ARRAY_KEYS:
            raise ProtocolError(f"bad __ndarray__ header {str(header)[:80]}")
        dtype_name, shape = header.get("dtype"), header.get("shape")
        offset, nbytes = header.get("offset"), header.get("nbytes")
        is_tensor, is_scalar = header.get("torch", False), header.get("scalar", False)
        if type(dtype_name) is not str or dtype_name not in DTYPES:
            raise ProtocolError(f"dtype {str(dtype_name)[:40]!r} is not allowed")
        if type(is_tensor) is not bool or type(is_scalar) is not bool:
            raise ProtocolError("array flags must be booleans")
        if (
            type(shape) is not list
            or len(shape) > _MAX_NDIM
            or any(type(n) is not int or n < 0 for n in shape)
        ):
            raise ProtocolError(f"bad array shape {str(shape)[:80]}")
        if is_scalar and shape:
            raise ProtocolError(f"a scalar has shape [], got {shape}")
        dtype = np.dtype(dtype_name).newbyteorder("<")
        expected = math.prod(shape) * dtype.itemsize
        if type(nbytes) is not int or nbytes != expected:
            raise ProtocolError(
                f"array of shape {shape} and dtype {dtype_name} needs {expected} bytes, "
                f"header says {str(nbytes)[:40]}"
            )
        if type(offset) is not int or offset != self.offset:
            raise ProtocolError(f"array bytes at offset {str(offset)[:40]}, expected {self.offset}")
        if offset + nbytes > self.size:
            raise ProtocolError(
                f"array needs bytes {offset}..{offset + nbytes}, the frame has {self.size}"
            )
        self.offset += nbytes
        count = math.prod(shape)
        flat = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.start + offset)
        array = flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)
        if is_scalar:
            return array[()]
        if is_tensor and self.tensors:
            import torch

            return torch.from_numpy(array)
        return array

    def value(self, x: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError(f"message nested deeper than {MAX_DEPTH}")
        if type(x) is list:
            return [self.value(v, depth + 1) for v in x]
        if type(x) is str:
            return safe_text(x, MAX_TEXT_CHARS)
        if type(x) is not dict:
            return x  # json.loads gives only None, bool, int, float here
        reserved = [key for key in x if key.startswith("__")]
        if not reserved:
            return {key: self.value(v, depth + 1) for key, v in x.items()}
        if len(x) != 1:
            raise ProtocolError(f"reserved key {reserved[0][:40]!r} in a plain dict")
        ((marker, payload),) = x.items()
        if marker == "__float__":
            if type(payload) is not str or payload not in _NONFINITE:
                raise ProtocolError(f"bad __float__ value {str(payload)[:40]!r}")
            return _NONFINITE[payload]
        if marker == "__tuple__":
            if type(payload) is not list:
                raise ProtocolError("__tuple__ needs a list")
            return tuple(self.value(v, depth + 1) for v in payload)
        if marker == "__ndarray__":
            return self.array(payload)
        raise ProtocolError(f"unknown marker {marker[:40]!r}")


def parse_json_length(body: bytes, body_length: int, max_json: int = MAX_JSON_BYTES) -> int:
    """The length of the JSON part announced by the first four bytes of a frame ``body`` of
    ``body_length`` bytes, checked against ``max_json`` (before the rest is read)."""
    (json_length,) = JSON_LENGTH.unpack_from(body)
    if json_length > max_json:
        raise ProtocolError(f"a JSON part of {json_length} bytes, over the {max_json}-byte cap")
    if JSON_LENGTH.size + json_length > body_length:
        raise ProtocolError(f"JSON of {json_length} bytes does not fit a body of {body_length}")
    return int(json_length)


def decode_body(body: bytes, *, tensors: bool = True, max_json: int = MAX_JSON_BYTES) -> Any:
    """The message in a frame's ``body`` (the bytes after the 12-byte header).

    Args:
        body: the frame body.
        tensors: give tensors back as ``torch.Tensor`` (else as NumPy arrays).
        max_json: the largest JSON part accepted, bytes.

    Raises:
        ProtocolError: the body breaks the wire format.
    """
    if len(body) < JSON_LENGTH.size:
        raise ProtocolError(f"frame body of {len(body)} bytes is too short")
    start = JSON_LENGTH.size + parse_json_length(body, len(body), max_json)
    text = body[JSON_LENGTH.size : start]
    items = _json_items(text)
    if items > MAX_JSON_ITEMS:
        raise ProtocolError(f"a JSON part of up to {items} values, over the {MAX_JSON_ITEMS} cap")
    try:
        tree = json.loads(
            text.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, or absurd nesting
        raise ProtocolError(f"bad JSON: {str(error)[:200]}") from None
    decoder = _Decoder(body, start, tensors)
    message = decoder.value(tree, 0)
    if decoder.offset != decoder.size:
        raise ProtocolError(f"{decoder.size - decoder.offset} array bytes left over")
    return message


def parse_header(header: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> int:
    """The body length announced by a 12-byte frame header, checked against ``max_bytes``."""
    magic, length = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame start {header[:12]!r} (not a frame)")
    if length > max_bytes:
        raise ProtocolError(f"frame of {length} bytes is over the {max_bytes}-byte cap")
    return int(length)


def decode(frame: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, tensors: bool = True) -> Any:
    """The message in one complete ``frame`` (header and body, nothing after it)."""
    if len(frame) < HEADER.size:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than its header")
    length = parse_header(frame[: HEADER.size], max_bytes)
    if len(frame) != HEADER.size + length:
        raise ProtocolError(f"frame announces {length} body bytes, has {len(frame) - HEADER.size}")
    return decode_body(frame[HEADER.size :], tensors=tensors)


class FrameReader:
    """Cuts frames out of a byte stream that arrives in pieces (the grader's end of the pipe).

    ``feed`` bytes as they come; ``next_frame`` gives the body of the next complete frame,
    or ``None`` while it is still incomplete. The size caps are checked on the header and on
    the JSON length that starts the body, before the rest of the body is waited for.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_json: int = MAX_JSON_BYTES):
        self.max_bytes = max_bytes
        self.max_json = max_json
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def pending(self) -> int:
        """Bytes received and not yet returned as a frame."""
        return len(self._buffer)

    def next_frame(self) -> bytes | None:
        if len(self._buffer) < HEADER.size:
            if self._buffer and not MAGIC.startswith(bytes(self._buffer[: len(MAGIC)])):
                raise ProtocolError(f"bad frame start {bytes(self._buffer[:12])!r} (not a frame)")
            return None
        length = parse_header(bytes(self._buffer[: HEADER.size]), self.max_bytes)
        start = HEADER.size + JSON_LENGTH.size
        if length >= JSON_LENGTH.size and len(self._buffer) >= start:
            parse_json_length(bytes(self._buffer[HEADER.size : start]), length, self.max_json)
        end = HEADER.size + length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        return body


# ----------------------------------------------------------------- blocking I/O (the worker)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, *, max_bytes: int = DEFAULT_MAX_BYTES, tensors: bool = True) -> Any:
    """Block until one whole message arrives on ``fd``.

    Raises:
        EOFError: the stream ended (cleanly between frames, or in the middle of one).
        ProtocolError: the frame breaks the wire format.
    """
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        raise EOFError("the stream ended")
    length = parse_header(header, max_bytes)
    body = _read_exactly(fd, length)
    if body is None:
        raise EOFError("the stream ended inside a frame")
    return decode_body(body, tensors=tensors)


def write_frame(fd: int, frame: bytes) -> None:
    """Write a whole frame to a blocking ``fd``."""
    view = memoryview(frame)
    while view:
        written = os.write(fd, view)
        view = view[written:]
