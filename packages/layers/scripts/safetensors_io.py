"""Reading safetensors files in Python without the `safetensors` package (Debian's python3-torch has
none): an 8-byte little-endian header length, a JSON header, then the raw little-endian arrays. Used by
the export checks of the model packages (`packages/*/scripts/check-export.py`)."""
import json
import struct
from pathlib import Path

import numpy as np
import torch

DTYPES = {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64, 'F16': np.float16, 'U8': np.uint8}


def read_safetensors(path: Path) -> dict:
    """The tensors of a safetensors file by name (`__metadata__` skipped), as torch tensors."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, spec in header.items():
        if name == '__metadata__':
            continue
        start, end = spec['data_offsets']
        array = np.frombuffer(body[start:end], dtype=DTYPES[spec['dtype']]).reshape(spec['shape'])
        out[name] = torch.from_numpy(array.copy())
    return out
