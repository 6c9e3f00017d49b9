#!/usr/bin/python3
"""Checks exportTorchStateDict against the official Learnable_Groups.

Loads a state_dict written by `scripts/export-case.ts` (a model of this package with random weights,
exported with `exportTorchStateDict`) into the official network at the same configuration with
`load_state_dict(strict=True)` — every key present, none unexpected, every shape right — then runs the
official forward (float64, eval mode, hard selector) on the case's input and compares its outputs
with the ones TensorFlow.js computed before the export. Exits 1 on any failure.

  git -C /work/.mirror/moranli-aca+LearnableGroups-Hand/repo archive HEAD nets | tar -x -C /tmp/lg-official
  npx tsx --tsconfig packages/learnable-groups/tsconfig.json packages/learnable-groups/scripts/export-case.ts /tmp/lg-export
  /usr/bin/python3 packages/learnable-groups/scripts/check-export.py /tmp/lg-official /tmp/lg-export

Requires Debian's python3-torch and numpy. The official code is not part of this repository.
"""
import importlib.util
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DTYPES = {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64, 'F16': np.float16, 'U8': np.uint8}


def read_safetensors(path: Path) -> dict:
    raw = path.read_bytes()
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


def load_make_fixture():
    spec = importlib.util.spec_from_file_location('make_fixture', HERE / 'make-fixture.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    official, case_dir = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, official)
    fixture = load_make_fixture()
    case = json.loads((case_dir / 'case.json').read_text())
    state = read_safetensors(case_dir / 'weights.safetensors')
    net = fixture.build_net(case['config'])
    result = net.load_state_dict(state, strict=True)
    print(f'load_state_dict(strict=True): {len(state)} tensors, missing {result.missing_keys}, '
          f'unexpected {result.unexpected_keys}')
    x = torch.tensor(case['inputNHWC']['data'], dtype=torch.float64).reshape(case['inputNHWC']['shape'])
    uv, depth = fixture.forward_hard(net, x.permute(0, 3, 1, 2).contiguous())
    groups = net.meta_S.weight.argmax(-1).tolist()
    d_uv = (uv.reshape(-1) - torch.tensor(case['uv']['data'], dtype=torch.float64)).abs().max().item()
    d_depth = (depth.reshape(-1) - torch.tensor(case['depth']['data'], dtype=torch.float64)).abs().max().item()
    print(f'max |Δuv| {d_uv:.3e} px, max |Δdepth| {d_depth:.3e}, groups match {groups == case["groups"]}')
    ok = d_uv <= 0.02 and d_depth <= 2e-3 and groups == case['groups']
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
