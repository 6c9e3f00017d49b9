#!/usr/bin/python3
"""Checks exportTorchStateDict against the EHPE release's TWStage and FEM.

Loads the state_dicts written by `scripts/export-case.ts` (models of this package with random weights,
exported with `exportTorchStateDict`) into the release's `TWStage` and `FEM` at the same configuration
with `load_state_dict(strict=True)` — every key present, none unexpected, every shape right — then runs
the release's forward (float64, eval mode) on the case's inputs and compares with the outputs
TensorFlow.js computed before the export. Exits 1 on any failure.

  mkdir -p /tmp/ehpe-official
  git -C /work/.mirror/SereinNout+EHPE/repo archive HEAD models utils | tar -x -C /tmp/ehpe-official
  npx tsx --tsconfig packages/ehpe/tsconfig.json packages/ehpe/scripts/export-case.ts /tmp/ehpe-export
  /usr/bin/python3 packages/ehpe/scripts/check-export.py /tmp/ehpe-official /tmp/ehpe-export

The whole `EHPE` is not checked: the release imports a graph module (`SPI_GAT`) it does not define.
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


def tensor(j: dict) -> torch.Tensor:
    return torch.tensor(j['data'], dtype=torch.float64).reshape(j['shape'])


def load_make_fixture():
    return load_script(HERE / 'make-fixture.py', 'make_fixture')


def strict_load(name: str, module: torch.nn.Module, state: dict) -> None:
    result = module.load_state_dict(state, strict=True)
    print(f'{name}: load_state_dict(strict=True): {len(state)} tensors, missing {result.missing_keys}, '
          f'unexpected {result.unexpected_keys}')


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.reshape(-1) - b.reshape(-1)).abs().max().item()


def main() -> int:
    official, case_dir = sys.argv[1], Path(sys.argv[2])
    fixture = load_make_fixture()
    ehpe, fem_mod, _ = fixture.import_official(official)

    tw_case = json.loads((case_dir / 'tw_stage.json').read_text())
    tw = fixture.build_tw(ehpe, tw_case['config'])
    strict_load('TWStage', tw, read_safetensors(case_dir / 'tw_stage.safetensors'))
    tw.eval().double()
    torch.set_default_dtype(torch.float64)  # the release's soft-argmax grids use the default dtype
    with torch.no_grad():
        heat, logits, coords = tw(tensor(tw_case['featuresNHWC']).permute(0, 3, 1, 2).contiguous())
    torch.set_default_dtype(torch.float32)
    b, j, d, h, w = logits.shape
    diffs = {
        'heatmaps2d': max_diff(heat.permute(0, 2, 3, 1), tensor(tw_case['heatmaps2dNHWC'])),
        'volume': max_diff(logits.reshape(b, j * d, h, w).permute(0, 2, 3, 1), tensor(tw_case['volumeNHWC'])),
        'coords25d': max_diff(coords, tensor(tw_case['coords25d'])),
    }

    fem_case = json.loads((case_dir / 'fem.json').read_text())
    fem = fixture.build_fem(fem_mod, fem_case['config'])
    strict_load('FEM', fem, read_safetensors(case_dir / 'fem.safetensors'))
    fem.eval().double()
    with torch.no_grad():
        out = fem(tensor(fem_case['jointTokens']), tensor(fem_case['imageTokens']))
    diffs['fem'] = max_diff(out, tensor(fem_case['output']))

    print('max |Δ|: ' + ', '.join(f'{k} {v:.3e}' for k, v in diffs.items()))
    ok = all(v <= 1e-3 for v in diffs.values())
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
