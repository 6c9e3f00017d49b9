#!/usr/bin/python3
"""Reduced parity fixtures for the @phalanx/ehpe tests.

Builds the official EHPE modules (SereinNout/EHPE, `models/ehpe.py` TWStage, `models/fem_transformer.py`
FEM, `utils/geometry.py` init_21_from_tw) at tiny widths with random weights and random batch-norm
statistics, runs them in float64 in eval mode, and writes, in the layout of ../shared/golden/ehpe_official
(so scripts/check-official-parity.ts reads both):

  packages/ehpe/test/fixtures/ehpe-reduced/tw_stage.{json,safetensors}   config, featuresNHWC, heatmaps2dNHWC, volumeNHWC, coords25d
  packages/ehpe/test/fixtures/ehpe-reduced/fem.{json,safetensors}        config, jointTokens, imageTokens, output
  packages/ehpe/test/fixtures/ehpe-reduced/init21.json                   wrist, tips, init21
  packages/ehpe/test/fixtures/ehpe-reduced/resnet_{basic,bottleneck}.{json,safetensors}

The release's backbone is torchvision's ResNet, which Debian's python3-torch does not ship: the ResNet
cases use a transcription of torchvision's BasicBlock / Bottleneck / ResNet (same module names and
arithmetic: v1.5 stride on the 3×3 convolution, no conv biases, downsample = conv1×1 + BN) below.
Importing `models/ehpe.py` needs two stubs: `torchvision.models` (imported by `models/backbones.py`),
and `graph_gat.SPI_GAT`, which the release imports but does not define (neither is used by TWStage).

The official code is NOT part of this repository; export it to a temporary directory first:

  mkdir -p /tmp/ehpe-official
  git -C /work/.mirror/SereinNout+EHPE/repo archive HEAD models utils | tar -x -C /tmp/ehpe-official
  /usr/bin/python3 packages/ehpe/scripts/make-fixture.py /tmp/ehpe-official

Deterministic (seed 0).
"""
import importlib
import json
import struct
import sys
import types
from pathlib import Path

import torch
from torch import nn

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'ehpe-reduced'

TW_CONFIG = {
    'backboneChannels': 12,
    'hourglassChannels': 8,
    'hourglassDepth': 2,
    'hourglassStacks': 2,
    'tipWristJoints': 6,
    'heatmapSize': 16,
    'refineChannels': 8,
    'refineBlocks': 3,
    'refinePools': 2,
    'depthBins': 4,
    'beta': 1.0,
}
FEATURE_SIZE = 4
FEM_CONFIG = {'dim': 16, 'layers': 2, 'heads': 2, 'mlpRatio': 2}
IMAGE_TOKENS = 16


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


def tj(t: torch.Tensor) -> dict:
    return {'shape': list(t.shape), 'data': [float(v) for v in t.reshape(-1).tolist()]}


def randomise_norms(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.weight.data = torch.empty(n).uniform_(0.5, 1.5)
            m.bias.data = torch.randn(n) * 0.2
            m.running_mean = torch.randn(n) * 0.2
            m.running_var = torch.empty(n).uniform_(0.5, 1.5)
        elif isinstance(m, nn.LayerNorm):
            m.weight.data = torch.empty_like(m.weight).uniform_(0.5, 1.5)
            m.bias.data = torch.randn_like(m.bias) * 0.2


def state_of(module: nn.Module) -> dict:
    return {k: v.clone() for k, v in module.state_dict().items() if not k.endswith('num_batches_tracked')}


def import_official(root: str):
    """The release's modules as package `ehpe` (its relative imports need a parent package)."""
    tv = types.ModuleType('torchvision')
    tv_models = types.ModuleType('torchvision.models')
    tv_models.resnet50 = None
    tv_models.ResNet50_Weights = None
    tv.models = tv_models
    sys.modules.setdefault('torchvision', tv)
    sys.modules.setdefault('torchvision.models', tv_models)
    for name, sub in [('ehpe', ''), ('ehpe.models', 'models')]:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(Path(root) / sub)]
        sys.modules[name] = pkg
    graph_gat = importlib.import_module('ehpe.models.graph_gat')
    graph_gat.SPI_GAT = graph_gat.SPI  # imported by models/ehpe.py, defined nowhere in the release
    ehpe = importlib.import_module('ehpe.models.ehpe')
    fem = importlib.import_module('ehpe.models.fem_transformer')
    geometry = importlib.import_module('ehpe.utils.geometry')
    return ehpe, fem, geometry


# --- torchvision ResNet, transcribed (torchvision/models/resnet.py) ---------------------------------
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, widths, stem):
        super().__init__()
        self.inplanes = stem
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (n, w) in enumerate(zip(layers, widths)):
            setattr(self, f'layer{i + 1}', self._make_layer(block, w, n, 1 if i == 0 else 2))
        self.stages = len(layers)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        mods = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        mods += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.stages):
            x = getattr(self, f'layer{i + 1}')(x)
        return x


def resnet_case(name, block, config, size):
    net = ResNet(block, config['layers'], config['widths'], config['stemChannels'])
    randomise_norms(net)
    state = state_of(net)
    net.eval().double()
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        y = net(x)
    write_safetensors(OUT / f'resnet_{name}.safetensors', state)
    case = {'config': config, 'imageNHWC': tj(x.permute(0, 2, 3, 1)), 'featuresNHWC': tj(y.permute(0, 2, 3, 1))}
    (OUT / f'resnet_{name}.json').write_text(json.dumps(case))


def build_tw(ehpe, c: dict) -> nn.Module:
    """The release's TWStage with the configuration `c` (createTwStage's option names)."""
    return ehpe.TWStage(
        backbone_out_ch=c['backboneChannels'], hg_ch=c['hourglassChannels'], hg_depth=c['hourglassDepth'],
        hg_stacks=c['hourglassStacks'], tw_joints=c['tipWristJoints'], heatmap_size=c['heatmapSize'],
        refine_ch=c['refineChannels'], num_residual=c['refineBlocks'], num_pools=c['refinePools'],
        depth_bins=c['depthBins'], beta=c['beta'],
    )


def build_fem(fem_mod, f: dict) -> nn.Module:
    """The release's FEM with the configuration `f` (createFem's option names)."""
    return fem_mod.FEM(dim=f['dim'], layers=f['layers'], heads=f['heads'], mlp_ratio=f['mlpRatio'], dropout=0.1)


def main() -> None:
    ehpe, fem_mod, geometry = import_official(sys.argv[1])
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)

    c = TW_CONFIG
    tw = build_tw(ehpe, c)
    randomise_norms(tw)
    tw.to_25d.weight.data *= 3.0  # peakier volumes, so the soft-argmax is not near the centre everywhere
    state = state_of(tw)
    tw.eval().double()
    feats = torch.randn(2, c['backboneChannels'], FEATURE_SIZE, FEATURE_SIZE, dtype=torch.float64)
    torch.set_default_dtype(torch.float64)  # the release's soft-argmax grids use the default dtype
    with torch.no_grad():
        heat2d, logits, coords = tw(feats)
    torch.set_default_dtype(torch.float32)
    B, J, D, H, W = logits.shape
    write_safetensors(OUT / 'tw_stage.safetensors', state)
    (OUT / 'tw_stage.json').write_text(json.dumps({
        'source': 'packages/ehpe/scripts/make-fixture.py',
        'config': c,
        'featuresNHWC': tj(feats.permute(0, 2, 3, 1)),
        'heatmaps2dNHWC': tj(heat2d.permute(0, 2, 3, 1)),
        'volumeNHWC': tj(logits.reshape(B, J * D, H, W).permute(0, 2, 3, 1)),
        'coords25d': tj(coords),
    }))

    f = FEM_CONFIG
    fem = build_fem(fem_mod, f)
    randomise_norms(fem)
    state = state_of(fem)
    fem.eval().double()
    joints = torch.randn(2, 21, f['dim'], dtype=torch.float64)
    image = torch.randn(2, IMAGE_TOKENS, f['dim'], dtype=torch.float64)
    with torch.no_grad():
        out = fem(joints, image)
    write_safetensors(OUT / 'fem.safetensors', state)
    (OUT / 'fem.json').write_text(json.dumps({
        'source': 'packages/ehpe/scripts/make-fixture.py',
        'config': f, 'jointTokens': tj(joints), 'imageTokens': tj(image), 'output': tj(out),
    }))

    wrist = torch.rand(3, 3, dtype=torch.float64) * torch.tensor([255.0, 255.0, 7.0], dtype=torch.float64)
    tips = torch.rand(3, 5, 3, dtype=torch.float64) * torch.tensor([255.0, 255.0, 7.0], dtype=torch.float64)
    init = geometry.init_21_from_tw(wrist, tips, geometry.Init21Config())
    (OUT / 'init21.json').write_text(json.dumps({'wrist': tj(wrist), 'tips': tj(tips), 'init21': tj(init)}))

    resnet_case('bottleneck', Bottleneck, {'block': 'bottleneck', 'layers': [1, 2], 'widths': [4, 8], 'stemChannels': 8}, 32)
    resnet_case('basic', BasicBlock, {'block': 'basic', 'layers': [1, 1, 1, 1], 'widths': [4, 4, 8, 8], 'stemChannels': 4}, 64)

    size = sum(p.stat().st_size for p in OUT.iterdir())
    print(f'wrote {len(list(OUT.iterdir()))} files, {size / 1e6:.2f} MB to {OUT}')


if __name__ == '__main__':
    main()
