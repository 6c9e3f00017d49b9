#!/usr/bin/python3
"""Reduced whole-model fixture for the @phalanx/learnable-groups tests.

Builds the official `Learnable_Groups` (moranli-aca/LearnableGroups-Hand, `nets/Net.py`) with the
official classes at a small width — the backbone `Net_HG` rebuilt with `num_feats=16` and a stem of
8/12 channels instead of the hard-coded 64/128, `backbone_conv` with 16 instead of 128 channels,
`planes=[8, 8]`, 3 groups, NDDR on, 64-pixel input — with random weights, random batch-norm
statistics, random `meta_S` logits and `SoftHeatmap` β, and runs it in float64, eval mode, with the
hard selector (`one_hot(argmax meta_S.weight)` in place of the Concrete sample). Writes

  packages/learnable-groups/test/fixtures/lg-reduced/weights.safetensors  the state_dict (float32)
  packages/learnable-groups/test/fixtures/lg-reduced/case.json            config, inputNHWC, uv, depth, groups

(the layout of ../shared/golden/lg_official, so scripts/check-official-parity.ts reads both).

The official code is NOT part of this repository; export it to a temporary directory first:

  git -C /work/.mirror/moranli-aca+LearnableGroups-Hand/repo archive HEAD nets | tar -x -C /tmp/lg-official
  /usr/bin/python3 packages/learnable-groups/scripts/make-fixture.py /tmp/lg-official

Requires Debian's python3-torch (apt-get install python3-torch) and numpy. Deterministic (seed 0).
"""
import json
import struct
import sys
from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'lg-reduced'

CONFIG = {
    'numGroups': 3,
    'fusion': True,
    'inputSize': 64,
    'numJoints': 21,
    'planes': [8, 8],
    'hourglassFeatures': 16,
    'stemChannels': [8, 12],
    'neckChannels': 16,
}


def write_safetensors(path: Path, tensors) -> None:
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * (-len(raw) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for c in chunks:
            f.write(c)


def tensor_json(t: torch.Tensor) -> dict:
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


class HardSelection:
    """Stands in for RelaxedOneHotCategorical: `rsample()` is the one-hot of each row's argmax."""

    def __init__(self, temperature, logits):
        self.logits = logits

    def rsample(self):
        return nn.functional.one_hot(self.logits.argmax(-1), self.logits.shape[-1]).to(self.logits.dtype)


def build_net(c: dict) -> nn.Module:
    """The official Learnable_Groups at the reduced widths of `c` (the official classes, rebuilt backbone)."""
    from nets.Backbone import Net_HG, _Residual_Module
    from nets.Block_lib import Res2DBlock
    from nets.Net import Learnable_Groups

    J, G = c['numJoints'], c['numGroups']
    feats, (s0, s1), neck = c['hourglassFeatures'], c['stemChannels'], c['neckChannels']
    net = Learnable_Groups([G, c['fusion']], c['inputSize'], J, c['planes'])
    backbone = Net_HG(J, num_stages=1, num_feats=feats)
    backbone.conv1_ = nn.Conv2d(3, s0, bias=True, kernel_size=7, stride=2, padding=3)
    backbone.bn1 = nn.BatchNorm2d(s0)
    backbone.r1 = _Residual_Module(s0, s1)
    backbone.r4 = _Residual_Module(s1, s1)
    backbone.r5 = _Residual_Module(s1, feats)
    net.backbone = backbone
    net.backbone_conv = nn.Sequential(Res2DBlock(feats + J, neck), Res2DBlock(neck, c['planes'][0]))
    return net


def forward_hard(net: nn.Module, x: torch.Tensor):
    """`net(x)` in float64, eval mode, with the hard selector (one-hot of each row's argmax)."""
    net.eval()
    net.double()
    relaxed = torch.distributions.relaxed_categorical
    original = relaxed.RelaxedOneHotCategorical
    relaxed.RelaxedOneHotCategorical = HardSelection
    try:
        with torch.no_grad():
            return net(x.double(), 1.0)
    finally:
        relaxed.RelaxedOneHotCategorical = original


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    torch.manual_seed(0)
    c = CONFIG
    J, G = c['numJoints'], c['numGroups']
    net = build_net(c)

    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.data = torch.empty(n).uniform_(0.5, 1.5)
            m.bias.data = torch.randn(n) * 0.2
            m.running_mean = torch.randn(n) * 0.2
            m.running_var = torch.empty(n).uniform_(0.5, 1.5)
    for task in getattr(net, 'nddr_layer0').Conv_Task_List:
        task[0].weight.data = task[0].weight.data.float() + torch.randn_like(task[0].weight.data.float()) * 0.1
    net.meta_S.weight.data = torch.randn(J, G)
    for head in net.b_get_uv:
        head.beta.weight.data = torch.empty(J, 1, 1, 1).uniform_(1.0, 3.0)
    # Heatmap logits with some structure, so that the soft-argmax is not near the centre everywhere.
    for seq in net.b_htmaps_conv:
        seq[2].weight.data *= 4.0

    state = {k: v.clone() for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
    x = torch.rand(2, 3, c['inputSize'], c['inputSize'])
    uv, depth = forward_hard(net, x)

    groups = net.meta_S.weight.argmax(-1).tolist()
    OUT.mkdir(parents=True, exist_ok=True)
    write_safetensors(OUT / 'weights.safetensors', state)
    case = {
        'source': 'packages/learnable-groups/scripts/make-fixture.py',
        'torch': torch.__version__,
        'config': CONFIG,
        'inputNHWC': tensor_json(x.permute(0, 2, 3, 1)),
        'uv': tensor_json(uv),
        'depth': tensor_json(depth),
        'groups': groups,
    }
    with open(OUT / 'case.json', 'w') as f:
        json.dump(case, f)
    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f'wrote {len(state)} tensors, groups {groups}, {size / 1e6:.2f} MB to {OUT}')


if __name__ == '__main__':
    main()
