#!/usr/bin/python3
"""Writes the .pth fixtures of readTorchStateDict (packages/layers/test/fixtures/pth/) with Debian's
python3-torch, at small sizes, deterministically (seed 0):

  /usr/bin/python3 packages/layers/scripts/make-pth-fixtures.py

- zip.pth            a module's state_dict (conv, batch norm with int64 num_batches_tracked, linear), as
                     torch.save writes it since PyTorch 1.6 (a zip: archive/data.pkl + archive/data/N)
- legacy.pth         the same state_dict in the legacy format (_use_new_zipfile_serialization=False)
- float16.pth        float16 tensors
- dtypes.pth         one tensor per storage type: float32, float16, bfloat16, float64, int64, int32, int16,
                     int8, uint8, bool
- dtypes-legacy.pth  the same, legacy format
- noncontiguous.pth  a transposed tensor, a strided slice with a storage offset, a zero-stride expand
- shared.pth         several tensors sharing one storage (views of one base, and one tensor stored twice)
- dataparallel.pth   nn.DataParallel(model).state_dict(): every key prefixed 'module.'
- nested.pth         a training checkpoint: {'epoch', 'Temperature', 'model_state_dict', 'optimizer_state_dict',
                     'history': nested dicts and lists}, as the Learnable Groups release stores it
- forbidden.pth      a checkpoint whose pickle calls print (__builtin__.print in protocol 2): code a reader
                     must refuse to run
- whole-model.pth    torch.save(model): a pickled nn.Module, refused likewise
- expected.json      for each fixture that loads: the state dict's keys, dtypes, shapes and values

The zip files are byte-for-byte reproducible; the legacy ones name storages by memory address, so their bytes
(not their contents) change from run to run.
"""
import collections
import json
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'pth')
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


net = Net()
# Give the buffers non-default values (running statistics, a step count).
net.train()
for _ in range(3):
    net(torch.randn(4, 2, 6, 6))
net.eval()


def describe(state):
    """What readTorchStateDict must return: name -> dtype (tfjs), shape, values as float/int/bool lists."""
    out = {}
    for name, t in state.items():
        t = t.detach()
        if t.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            kind, values = 'float32', t.to(torch.float32).flatten().tolist()
        elif t.dtype == torch.bool:
            kind, values = 'bool', [int(v) for v in t.flatten().tolist()]
        else:
            kind, values = 'int32', t.flatten().tolist()
        out[name] = {'dtype': kind, 'torch': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape),
                     'values': values}
    return out


expected = {}


def save(name, obj, state=None, legacy=False):
    path = os.path.join(OUT, name)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    if state is not None:
        expected[name] = describe(state)
    print(f'{name}: {os.path.getsize(path)} bytes')


sd = net.state_dict()
save('zip.pth', sd, sd)
save('legacy.pth', sd, sd, legacy=True)

half = collections.OrderedDict(
    [('weight', torch.randn(4, 3).half()), ('bias', torch.tensor([0.5, -2.0, 65504.0, 6e-8]).half())])
save('float16.pth', half, half)

dtypes = collections.OrderedDict([
    ('f32', torch.randn(2, 3)),
    ('f16', torch.randn(5).half()),
    ('bf16', torch.randn(2, 2).bfloat16()),
    ('f64', torch.randn(3).double() * 1e3),
    ('i64', torch.tensor([-(2 ** 31), 0, 2 ** 31 - 1, 7])),
    ('i32', torch.tensor([[1, -2], [3, -4]], dtype=torch.int32)),
    ('i16', torch.tensor([-32768, 32767], dtype=torch.int16)),
    ('i8', torch.tensor([-128, 127], dtype=torch.int8)),
    ('u8', torch.tensor([0, 200, 255], dtype=torch.uint8)),
    ('bool', torch.tensor([True, False, True])),
    ('scalar', torch.tensor(3.25)),
    ('empty', torch.zeros(0, 4)),
])
save('dtypes.pth', dtypes, dtypes)
save('dtypes-legacy.pth', dtypes, dtypes, legacy=True)

base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
views = collections.OrderedDict([
    ('transposed', base.t()),                          # strides (1, 6)
    ('slice', base[1:, ::2]),                          # storage offset 6, strides (6, 2)
    ('expanded', torch.tensor([1.0, 2.0]).reshape(2, 1).expand(2, 3)),  # stride 0
])
save('noncontiguous.pth', views, views)

tied = torch.randn(3, 2)
shared = collections.OrderedDict([
    ('base', base),
    ('row', base[2]),                                  # shares base's storage, offset 12
    ('flat_part', base.view(-1)[5:9]),                 # offset 5
    ('embedding.weight', tied),
    ('decoder.weight', tied),                          # the same tensor twice (weight tying)
])
save('shared.pth', shared, shared)

dp = nn.DataParallel(net).state_dict()
assert all(k.startswith('module.') for k in dp)
save('dataparallel.pth', dp, sd)

opt = torch.optim.Adam(net.parameters(), lr=1e-3)
net.train()
loss = net(torch.randn(2, 2, 6, 6)).square().sum()
loss.backward()
opt.step()
net.eval()
sd_after = net.state_dict()
checkpoint = {
    'epoch': 7,
    'Temperature': 0.5,
    'model_state_dict': sd_after,
    'optimizer_state_dict': opt.state_dict(),
    'history': {'loss': [1.5, 0.75], 'best': {'epoch': 6, 'pck': 0.9}},
}
save('nested.pth', checkpoint, sd_after)


class Pwn:
    """Calls print when unpickled: what an allow-list unpickler must refuse (torch.load runs it)."""

    def __reduce__(self):
        return (print, ('code ran while loading forbidden.pth',))


save('forbidden.pth', {'state_dict': sd, 'hook': Pwn()})
save('whole-model.pth', net)

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1)
print('expected.json written')
