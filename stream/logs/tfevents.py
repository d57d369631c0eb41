"""TensorBoard event files (`events.out.tfevents.*`) read without TensorFlow or protobuf: the
TFRecord framing and the few fields of the Event message that hold scalars.

A file is a sequence of records: `uint64 length`, `uint32 masked CRC-32C of length`, `data`,
`uint32 masked CRC-32C of data` (little-endian). `data` is a serialized `tensorboard.Event`:
`wall_time` (1, double), `step` (2, int64), `file_version` (3, "brain.Event:2" in the first
record), `summary` (5) with repeated `value` (1): `tag` (1), `simple_value` (2, float: what
torch's SummaryWriter.add_scalar writes), `metadata` (9: plugin name), `tensor` (8: a scalar
tensor, as TF2 and `new_style` writers write: dtype 1/2, `float_val` 5, `double_val` 6 or
`tensor_content` 4). Everything else (images, histograms, graphs, text) is skipped.

The length's CRC is always checked (a torn or foreign file is refused there); the data's CRC
is checked for records up to `CRC_CHECKED_BYTES` (every scalar record): a pure-Python CRC-32C
of multi-megabyte image records would cost seconds, and a damaged one fails to parse anyway.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

CRC_CHECKED_BYTES = 64 << 10
MAX_RECORD_BYTES = 256 << 20  # larger "records" are a damaged length, not a summary
FILE_VERSION = b"brain.Event:"
SCALAR_PLUGIN = b"scalars"


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C (Castagnoli), rotated right by 15 and offset."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@dataclass
class Framed:
    """The records at the start of some bytes (b"" for one whose data CRC does not match),
    where the next record starts, and why reading stopped there when the framing is wrong
    (nothing after a bad length can be trusted)."""

    data: list[bytes]
    end: int
    damaged: str | None = None


def split_records(buf: bytes) -> Framed:
    """Complete records at the start of `buf`; a record still being written waits; a length
    whose CRC does not match (a torn write, or not an event file) ends the reading."""
    out, at = [], 0
    while len(buf) - at >= 12:
        header = buf[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", buf[at + 8:at + 12])
        if crc != masked_crc32c(header) or length > MAX_RECORD_BYTES:
            return Framed(out, at, f"bad record length at byte {at}")
        if len(buf) - at < 16 + length:
            break
        data = buf[at + 12:at + 12 + length]
        (data_crc,) = struct.unpack("<I", buf[at + 12 + length:at + 16 + length])
        at += 16 + length
        if length <= CRC_CHECKED_BYTES and data_crc != masked_crc32c(data):
            out.append(b"")  # counted as a bad record by the caller
            continue
        out.append(data)
    return Framed(out, at)


# --- protobuf wire format: just enough ---------------------------------------------------


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a message: ints for varints, bytes otherwise."""
    at = 0
    while at < len(buf):
        key, at = _varint(buf, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(buf, at)
        elif wire == 1:
            value, at = buf[at:at + 8], at + 8
        elif wire == 2:
            size, at = _varint(buf, at)
            value, at = buf[at:at + size], at + size
        elif wire == 5:
            value, at = buf[at:at + 4], at + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if at > len(buf):
            raise ValueError("truncated field")
        yield number, wire, value


@dataclass(frozen=True)
class Scalar:
    tag: str
    step: int
    value: float
    wall_time: float


def is_event_file_head(head: bytes) -> bool | None:
    """Whether bytes start like an event file (None: too short to tell)."""
    if any(head[2:8]):  # the first record (file_version) is tens of bytes long
        return False
    if len(head) < 12:
        return None
    (length,) = struct.unpack("<Q", head[:8])
    framed = split_records(head[:16 + length])  # the first record only
    if framed.damaged:
        return False
    if not framed.data:
        return None if len(head) < 16 + length else False
    try:
        return any(n == 3 and bytes(v).startswith(FILE_VERSION)
                   for n, _, v in fields(framed.data[0]))
    except ValueError:
        return False


def event_scalars(data: bytes) -> list[Scalar]:
    """The scalars of one serialized Event (ValueError when it does not parse)."""
    wall_time, step, summaries = 0.0, 0, []
    for number, wire, value in fields(data):
        if number == 1 and wire == 1:
            (wall_time,) = struct.unpack("<d", value)
        elif number == 2 and wire == 0:
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 5 and wire == 2:
            summaries.append(value)
    out = []
    for summary in summaries:
        for number, wire, value in fields(summary):
            if number == 1 and wire == 2:
                scalar = _summary_value(value)
                if scalar is not None:
                    out.append(Scalar(scalar[0], step, scalar[1], wall_time))
    return out


def _summary_value(buf: bytes) -> tuple[str, float] | None:
    tag, simple, tensor, plugin = None, None, None, None
    for number, wire, value in fields(buf):
        if number == 1 and wire == 2:
            tag = bytes(value).decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            (simple,) = struct.unpack("<f", value)
        elif number == 8 and wire == 2:
            tensor = value
        elif number == 9 and wire == 2:
            plugin = _plugin_name(value)
    if tag is None:
        return None
    if simple is not None:
        return tag, float(simple)
    if tensor is not None and plugin in (None, SCALAR_PLUGIN):
        value = _scalar_tensor(tensor)
        return None if value is None else (tag, value)
    return None


def _plugin_name(metadata: bytes) -> bytes | None:
    for number, wire, value in fields(metadata):
        if number == 1 and wire == 2:
            for n, w, v in fields(value):
                if n == 1 and w == 2:
                    return bytes(v)
    return None


def _scalar_tensor(buf: bytes) -> float | None:
    """The value of a 0-d float or double TensorProto, else None."""
    dtype, floats, doubles, content, shaped = None, [], [], b"", False
    for number, wire, value in fields(buf):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            shaped = any(n == 2 for n, _, _ in fields(value))  # a dim: not a scalar
        elif number == 4 and wire == 2:
            content = bytes(value)
        elif number == 5:
            floats += _packed(value, wire, "<f", 4)
        elif number == 6:
            doubles += _packed(value, wire, "<d", 8)
    if shaped or dtype not in (1, 2):
        return None
    if dtype == 1 and (floats or len(content) == 4):
        return float(floats[0] if floats else struct.unpack("<f", content)[0])
    if dtype == 2 and (doubles or len(content) == 8):
        return float(doubles[0] if doubles else struct.unpack("<d", content)[0])
    return None


def _packed(value: int | bytes, wire: int, fmt: str, size: int) -> list[float]:
    if wire == 2:
        data = bytes(value)
        return [struct.unpack(fmt, data[i:i + size])[0] for i in range(0, len(data) - size + 1,
                                                                       size)]
    return [struct.unpack(fmt, value)[0]]
