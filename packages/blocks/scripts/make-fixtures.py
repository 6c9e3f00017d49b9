#!/usr/bin/python3
"""PyTorch reference outputs for the @phalanx/blocks tests.

Builds each block of the official Learnable-Groups release (moranli-aca/LearnableGroups-Hand, `nets/`)
at a tiny width with random weights and random batch-norm statistics, runs it in float64 in eval mode
on a random input, and writes

  packages/blocks/test/fixtures/blocks.safetensors  every block's state_dict, keys '<case>.<param>'
  packages/blocks/test/fixtures/blocks.json         per case: input / output (NHWC) and settings

The official code is NOT part of this repository; export it to a temporary directory first:

  git -C /work/.mirror/moranli-aca+LearnableGroups-Hand/repo archive HEAD nets | tar -x -C /tmp/lg-official
  /usr/bin/python3 packages/blocks/scripts/make-fixtures.py /tmp/lg-official

Requires Debian's python3-torch (apt-get install python3-torch) and numpy. Deterministic (seed 0).
"""
import json
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures'


def randomize(module: torch.nn.Module) -> None:
    """Random batch-norm affine parameters and running statistics (weights keep PyTorch's init)."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.data = torch.empty(n).uniform_(0.5, 1.5)
            m.bias.data = torch.randn(n) * 0.2
            m.running_mean = torch.randn(n) * 0.2
            m.running_var = torch.empty(n).uniform_(0.5, 1.5)
    # ConvTranspose / conv biases are small by default; make them visible in the outputs.
    for name, p in module.named_parameters():
        if name.endswith('bias') and p.dim() == 1:
            p.data.add_(torch.randn_like(p) * 0.05)


def tensor_json(t: torch.Tensor) -> dict:
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def write_safetensors(path: Path, tensors: 'OrderedDict[str, torch.Tensor]') -> None:
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


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    from nets.Backbone import _Residual_Module, Hourglass_LiuhaoGe_CVPR2019
    from nets.Block_lib import Basic2DBlock, DownsampleConv2D_R, Res2DBlock, Upsample2DBlock_R, nddr_layer

    torch.manual_seed(0)
    cases = [
        # name, module, input NCHW shape, builder settings for the TS side
        ('residual', _Residual_Module(6, 8), [2, 6, 5, 7], {'block': 'preActResidual', 'outChannels': 8}),
        ('residual_same', _Residual_Module(8, 8), [1, 8, 4, 4], {'block': 'preActResidual', 'outChannels': 8}),
        ('hourglass', Hourglass_LiuhaoGe_CVPR2019(2, 1, 4), [1, 4, 8, 8], {'block': 'hourglass', 'depth': 2, 'numModules': 1}),
        ('basic', Basic2DBlock(5, 6, 3), [2, 5, 6, 6], {'block': 'basic2dBlock', 'outChannels': 6, 'kernelSize': 3}),
        ('res2d', Res2DBlock(5, 6), [2, 5, 6, 5], {'block': 'res2dBlock', 'outChannels': 6}),
        ('res2d_same', Res2DBlock(6, 6), [1, 6, 4, 4], {'block': 'res2dBlock', 'outChannels': 6}),
        ('down', DownsampleConv2D_R(4, 6), [2, 4, 7, 6], {'block': 'downsampleConv2dR', 'outChannels': 6}),
        ('up', Upsample2DBlock_R(5, 4, 4, 2), [2, 5, 3, 4], {'block': 'upsample2dBlockR', 'outChannels': 4}),
    ]
    state = OrderedDict()
    meta = {}
    for name, module, shape, settings in cases:
        randomize(module)
        module.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = module.double()(x.double())
        for k, v in module.state_dict().items():
            if not k.endswith('num_batches_tracked'):
                state[f'{name}.{k}'] = v
        meta[name] = dict(settings, input=tensor_json(x.permute(0, 2, 3, 1)), output=tensor_json(y.permute(0, 2, 3, 1)))

    # nddr_layer(G·C, C, G) applied to the concatenation of G branch features; BN + ReLU per group.
    groups, channels = 3, 4
    nddr = nddr_layer(groups * channels, channels, groups)
    randomize(nddr)
    for task in nddr.Conv_Task_List:  # move away from the constant initialisation
        task[0].weight.data.add_(torch.randn_like(task[0].weight) * 0.1)
    nddr.eval()
    xs = [torch.randn(2, channels, 3, 5) for _ in range(groups)]
    with torch.no_grad():
        ys = nddr.double()(torch.cat(xs, 1).double())
    for k, v in nddr.state_dict().items():
        if not k.endswith('num_batches_tracked'):
            state[f'nddr.{k}'] = v
    meta['nddr'] = {
        'block': 'nddrBlock',
        'inputs': [tensor_json(x.permute(0, 2, 3, 1)) for x in xs],
        'outputs': [tensor_json(y.permute(0, 2, 3, 1)) for y in ys],
    }

    OUT.mkdir(parents=True, exist_ok=True)
    write_safetensors(OUT / 'blocks.safetensors', state)
    with open(OUT / 'blocks.json', 'w') as f:
        json.dump({'source': 'packages/blocks/scripts/make-fixtures.py', 'torch': torch.__version__, 'cases': meta}, f)
    print(f'wrote {len(state)} tensors and {len(meta)} cases to {OUT}')


if __name__ == '__main__':
    main()
