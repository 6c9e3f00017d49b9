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
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def load_script(path: Path, name: str):
    """A sibling script as a module (its file name has a hyphen, or it lives in another package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


read_safetensors = load_script(HERE.parents[1] / 'layers' / 'scripts' / 'safetensors_io.py', 'safetensors_io').read_safetensors


def load_make_fixture():
    return load_script(HERE / 'make-fixture.py', 'make_fixture')


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
