#!/usr/bin/python3
"""Golden cases of ResizeBilinear (the golden format of docs/testing.md) from PyTorch's F.interpolate(mode='bilinear').

Writes packages/layers/test/fixtures/resize_bilinear.{up,down,corners}.json: float64 forward values and
the input gradient of Σ output ⊙ upstream. Run with Debian's python3-torch:

  /usr/bin/python3 packages/layers/scripts/make-resize-bilinear-fixtures.py
"""
import json
from pathlib import Path

import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures'


def tj(t):
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def case(name, shape, size, align):
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)  # NHWC
    y = F.interpolate(x.permute(0, 3, 1, 2), size=size, mode='bilinear', align_corners=align).permute(0, 2, 3, 1)
    up = torch.randn_like(y)
    (y * up).sum().backward()
    data = {
        'layer': 'ResizeBilinear',
        'config': {'height': size[0], 'width': size[1], 'alignCorners': align},
        'weights': [],
        'inputs': [tj(x.detach())],
        'kwargs': {},
        'outputs': [tj(y.detach())],
        'upstream': [tj(up)],
        'inputGrads': [tj(x.grad)],
        'weightGrads': [],
    }
    (OUT / f'resize_bilinear.{name}.json').write_text(json.dumps(data))


torch.manual_seed(0)
case('up', (2, 3, 5, 2), (7, 12), False)  # ×2.33 / ×2.4, includes the clamped borders
case('down', (1, 9, 8, 3), (4, 3), False)  # non-integer downsampling, no antialias
case('corners', (1, 4, 3, 2), (6, 5), True)
print('wrote', sorted(p.name for p in OUT.glob('resize_bilinear.*.json')))
