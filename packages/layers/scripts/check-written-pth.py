#!/usr/bin/python3
"""Checks that torch.load reads what writeTorchStateDict writes (Debian's python3-torch):

  npx tsx --tsconfig tsconfig.base.json packages/layers/scripts/write-pth-fixture.ts
  /usr/bin/python3 packages/layers/scripts/check-written-pth.py [file.pth expected.json]

By default it checks test/fixtures/pth/written-by-phalanx.pth against written-by-phalanx.json: every
name, dtype, shape and value (bit for bit), with torch.load(weights_only=True) where this torch has it, and
load_state_dict(strict=True) into a module with the same names.
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'test', 'fixtures', 'pth')
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(FIXTURES, 'written-by-phalanx.pth')
want_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(FIXTURES, 'written-by-phalanx.json')
want = json.load(open(want_path))

try:
    state = torch.load(path, map_location='cpu', weights_only=True)
    how = 'torch.load(weights_only=True)'
except TypeError:  # torch < 1.13 has no weights_only
    state = torch.load(path, map_location='cpu')
    how = 'torch.load'

assert list(state.keys()) == list(want.keys()), (list(state.keys()), list(want.keys()))


for name, w in want.items():
    t = state[name]
    assert str(t.dtype) == 'torch.' + w['torch'], (name, t.dtype, w['torch'])
    assert list(t.shape) == w['shape'], (name, list(t.shape), w['shape'])
    if t.dtype == torch.float32:  # compared as IEEE bit patterns
        got = list(struct.unpack('<%dI' % t.numel(), t.contiguous().numpy().astype('<f4').tobytes()))
    else:
        got = [int(v) for v in t.flatten().tolist()]
    assert got == w['values'], (name, got[:8], w['values'][:8])

# load_state_dict(strict=True) into a module with exactly these names.
module = torch.nn.Module()
for name, t in state.items():
    owner = module
    *path_parts, leaf = name.split('.')
    for part in path_parts:
        if not hasattr(owner, part):
            owner.add_module(part, torch.nn.Module())
        owner = getattr(owner, part)
    owner.register_buffer(leaf, torch.empty_like(t))
module.load_state_dict(state, strict=True)
print(f'{how} read {len(state)} tensors from {os.path.basename(path)}: names, dtypes, shapes and values match;'
      ' load_state_dict(strict=True) accepted them')
