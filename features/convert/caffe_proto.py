"""Read and write the parts of a binary .caffemodel (a serialized caffe.NetParameter) that hold weights.

Only the protobuf wire format is needed, so Caffe (and its generated caffe_pb2) is not: a NetParameter is a list
of LayerParameter messages (field 100; old V1 files use field 2), each with a name and its weight blobs. Field
numbers are those of BVLC caffe.proto:

  NetParameter:      layer = 100 (LayerParameter), layers = 2 (V1LayerParameter)
  LayerParameter:    name = 1, type = 2, blobs = 7
  V1LayerParameter:  name = 4, blobs = 6
  BlobProto:         shape = 7 (BlobShape), data = 5 (packed float), double_data = 8 (packed double),
                     num = 1, channels = 2, height = 3, width = 4 (legacy 4-D shape)
  BlobShape:         dim = 1 (packed int64)

Every other field (layer parameters, which the prototxt describes anyway) is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WIRE_VARINT, WIRE_FIXED64, WIRE_LEN, WIRE_FIXED32 = 0, 1, 2, 5


class CaffeModelError(ValueError):
    """A .caffemodel that cannot be decoded; the message names the file and, where known, the layer."""


@dataclass
class CaffeLayer:
    name: str
    type: str
    blobs: list[np.ndarray] = field(default_factory=list)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise IndexError('truncated varint')
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError('varint longer than 10 bytes')


def _fields(buf: bytes):
    """Yield (field_number, wire_type, value) over one message; LEN values are memoryview slices."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == WIRE_VARINT:
            value, pos = _varint(buf, pos)
        elif wire == WIRE_FIXED64:
            value = buf[pos:pos + 8]
            pos += 8
        elif wire == WIRE_FIXED32:
            value = buf[pos:pos + 4]
            pos += 4
        elif wire == WIRE_LEN:
            n, pos = _varint(buf, pos)
            value = buf[pos:pos + n]
            pos += n
        else:
            raise ValueError(f'unsupported wire type {wire} (field {number})')
        if pos > end:
            raise IndexError('message ends inside a field')
        yield number, wire, value


def _packed_varints(buf) -> list[int]:
    out = []
    pos = 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        out.append(v)
    return out


def _decode_blob(buf) -> np.ndarray:
    dims: list[int] = []
    legacy = {1: 0, 2: 0, 3: 0, 4: 0}
    floats: list[np.ndarray] = []
    doubles: list[np.ndarray] = []
    for number, wire, value in _fields(buf):
        if number == 7 and wire == WIRE_LEN:
            for n2, w2, v2 in _fields(value):
                if n2 == 1:
                    dims.extend(_packed_varints(v2) if w2 == WIRE_LEN else [v2])
        elif number == 5:
            # Packed (the norm) or, from very old writers, one fixed32 per element.
            floats.append(np.frombuffer(bytes(value), dtype='<f4'))
        elif number == 8:
            doubles.append(np.frombuffer(bytes(value), dtype='<f8'))
        elif number in legacy and wire == WIRE_VARINT:
            legacy[number] = value
    data = np.concatenate(floats) if floats else (np.concatenate(doubles).astype(np.float32) if doubles else np.zeros(0, np.float32))
    if not dims:
        # Legacy num/channels/height/width (e.g. [1, 1, out, in] for an InnerProduct): kept 4-D; the shape check
        # in caffe_net.py accepts it when the element count matches.
        dims = [legacy[1], legacy[2], legacy[3], legacy[4]]
    shape = tuple(int(d) for d in dims)
    if int(np.prod(shape)) != data.size:
        raise ValueError(f'blob shape {list(shape)} holds {int(np.prod(shape))} values but the data has {data.size}')
    return data.reshape(shape).astype(np.float32, copy=False)


def read_caffemodel(path: str) -> list[CaffeLayer]:
    """All layers of a .caffemodel that carry blobs, in file order."""
    with open(path, 'rb') as f:
        buf = f.read()
    layers: list[CaffeLayer] = []
    try:
        for number, wire, value in _fields(buf):
            if wire != WIRE_LEN or number not in (100, 2):
                continue
            v1 = number == 2
            name, ltype, blobs = '', '', []
            for n2, w2, v2 in _fields(value):
                if w2 != WIRE_LEN:
                    continue
                if n2 == (4 if v1 else 1):
                    name = bytes(v2).decode('utf-8')
                elif n2 == 2 and not v1:
                    ltype = bytes(v2).decode('utf-8')
                elif n2 == (6 if v1 else 7):
                    try:
                        blobs.append(_decode_blob(v2))
                    except (ValueError, IndexError) as e:
                        raise CaffeModelError(f'{path}: layer "{name or "?"}" blob {len(blobs)}: {e}') from None
            if blobs:
                layers.append(CaffeLayer(name, ltype if not v1 else 'V1', blobs))
    except (ValueError, IndexError) as e:
        if isinstance(e, CaffeModelError):
            raise
        raise CaffeModelError(f'{path}: not a caffemodel (NetParameter protobuf): {e}') from None
    if not layers:
        raise CaffeModelError(f'{path}: no layer with weights found; is this a .caffemodel (binary NetParameter)?')
    return layers


# ---- writing (used to build test networks; Caffe writes packed floats with an explicit BlobShape) ----

def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _enc_len(number: int, payload: bytes) -> bytes:
    return _enc_varint((number << 3) | WIRE_LEN) + _enc_varint(len(payload)) + payload


def _enc_blob(arr: np.ndarray) -> bytes:
    dims = b''.join(_enc_varint(int(d)) for d in arr.shape)
    shape = _enc_len(1, dims)
    data = np.ascontiguousarray(arr, dtype='<f4').tobytes()
    return _enc_len(7, shape) + _enc_len(5, data)


def write_caffemodel(path: str, net_name: str, layers: list[CaffeLayer]) -> None:
    out = bytearray(_enc_len(1, net_name.encode()))
    for layer in layers:
        body = _enc_len(1, layer.name.encode()) + _enc_len(2, layer.type.encode())
        body += b''.join(_enc_len(7, _enc_blob(b)) for b in layer.blobs)
        out += _enc_len(100, body)
    with open(path, 'wb') as f:
        f.write(out)


__all__ = ['CaffeLayer', 'CaffeModelError', 'read_caffemodel', 'write_caffemodel']
