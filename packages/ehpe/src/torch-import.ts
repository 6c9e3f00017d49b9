/**
 * Loading PyTorch weights (read from safetensors) into the models of this package: the release's
 * `TWStage`, `FEM` and `EHPE` state_dicts, and torchvision ResNet (ImageNet) checkpoints for the backbone.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/layers';
import { loadTorchStateDict, type ImportTorchStateDictOptions, type ImportTorchStateDictReport } from '@phalanx/blocks';

export type { ImportTorchStateDictOptions, ImportTorchStateDictReport };

/** Release names that differ from this package's: its backbone wraps torchvision's stem in a Sequential. */
const RENAMES: [RegExp, string][] = [
  [/^backbone\.stem\.0\./, 'backbone.conv1.'],
  [/^backbone\.stem\.1\./, 'backbone.bn1.'],
];

/** Buffers of the release that hold no learned state: the fixed skeleton adjacency of `EHPE`. */
const IGNORED = new Set(['adj']);

/**
 * Loads a `state_dict` of the EHPE release into a model of this package, matching every tensor by its
 * PyTorch name: a `TWStage` into {@link createTwStage} (`upsample_to_hm.0.weight`, `hg.hgs.0.up1.conv1.weight`,
 * `refine.blocks.0.bn1.running_var`, `to_25d.bias`, …), a `FEM` into {@link createFem}
 * (`sa_blocks.0.attn.in_proj_weight`, `ca_blocks.1.lnk.weight`, `…mlp.3.bias`), or a whole `EHPE` into
 * {@link createEhpe} (`backbone.stem.0` / `.stem.1` are read as `backbone.conv1` / `backbone.bn1`; the
 * `adj` buffer is ignored; the graph layers take PyTorch Geometric `GATConv` names — the release's own
 * graph module `SPI_GAT` is missing from it, see the README). Conversions: convolutions `[O, I, kh, kw]`
 * → `[kh, kw, I, O]`, linear `[O, I]` → `[I, O]`, batch / layer norm, `nn.MultiheadAttention`'s packed
 * `in_proj_weight`, `pg.omega_g` / `pg.omega_e` → {@link @phalanx/layers!DualBranchFusion}. A `module.`
 * prefix is removed and `num_batches_tracked` ignored.
 *
 * Strict by default: every missing and unexpected key is listed in one `PhalanxConfigError`; a tensor of
 * the wrong shape throws a `PhalanxShapeError` naming it.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { readSafetensors } from '@phalanx/layers';
 * import { createTwStage, importTorchStateDict } from '@phalanx/ehpe';
 * const tw = createTwStage({ backboneChannels: 64, hourglassChannels: 32 });
 * const tensors = readSafetensors(readFileSync('tw_stage.safetensors'));
 * importTorchStateDict(tw, tensors);
 * tf.dispose(Object.values(tensors));
 */
export function importTorchStateDict(
  model: tfl.LayersModel,
  tensors: Record<string, tf.Tensor>,
  options: ImportTorchStateDictOptions = {},
): ImportTorchStateDictReport {
  const renamed: Record<string, tf.Tensor> = {};
  for (const [key, t] of Object.entries(tensors)) {
    const bare = key.startsWith('module.') ? key.slice('module.'.length) : key;
    if (IGNORED.has(bare)) continue;
    let name = bare;
    for (const [pattern, replacement] of RENAMES) name = name.replace(pattern, replacement);
    renamed[name] = t;
  }
  return loadTorchStateDict(model, renamed, { ...options, stripPrefix: '' });
}

/**
 * Loads a torchvision ResNet `state_dict` (e.g. `resnet50(weights=IMAGENET1K_V2).state_dict()` saved as
 * safetensors; keys `conv1.weight`, `layer1.0.downsample.0.weight`, …) into the `backbone.*` layers of a
 * model from {@link createEhpe}; the classifier `fc.*` is skipped and the rest of the model left as it
 * is. Throws a `PhalanxConfigError` listing backbone weights without a tensor and tensors that match no
 * backbone layer.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { readSafetensors } from '@phalanx/layers';
 * import { createEhpe, importTorchvisionBackbone } from '@phalanx/ehpe';
 * const model = createEhpe({ backbone: { depth: 50 } });
 * importTorchvisionBackbone(model, readSafetensors(readFileSync('resnet50-imagenet.safetensors')));
 */
export function importTorchvisionBackbone(
  model: tfl.LayersModel,
  tensors: Record<string, tf.Tensor>,
): ImportTorchStateDictReport {
  const prefixed: Record<string, tf.Tensor> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('fc.')) continue;
    prefixed[`backbone.${key}`] = t;
  }
  const report = loadTorchStateDict(model, prefixed, { strict: false, stripPrefix: '' });
  const missing = report.missing.filter((k) => k.startsWith('backbone.'));
  if (missing.length > 0 || report.unexpected.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing keys: ${missing.join(', ')}`);
    if (report.unexpected.length > 0) parts.push(`unexpected keys: ${report.unexpected.join(', ')}`);
    throw new PhalanxConfigError(
      'importTorchvisionBackbone',
      'tensors',
      "a torchvision ResNet state_dict of the model's backbone",
      parts.join('; '),
    );
  }
  return { ...report, missing: [] };
}
