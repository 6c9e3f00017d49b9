/**
 * PyTorch weights into and out of the models of this package: the release's `TWStage`, `FEM` and `EHPE`
 * state_dicts both ways, and torchvision ResNet (ImageNet) checkpoints for the backbone — thin wrappers
 * of `loadTorchStateDict` / `torchStateDict` of `@phalanx/layers` that add the release's names.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  handAdjacency,
  hopNeighborhood,
  loadTorchStateDict,
  torchStateDict,
  type TorchImportReport,
  type TorchStateDictOptions,
} from '@phalanx/layers';
import { checkOptions, checkOptionsObject, PhalanxConfigError } from '@phalanx/errors';
import { ehpeRecordOf } from './config';

/** Module paths of the release that differ from this package's, as `[ours, the release's]` prefixes: the release's backbone wraps torchvision's stem in a Sequential. */
const RELEASE_PREFIXES: readonly (readonly [string, string])[] = [
  ['backbone.conv1.', 'backbone.stem.0.'],
  ['backbone.bn1.', 'backbone.stem.1.'],
];

function renamePrefix(key: string, from: 0 | 1): string {
  for (const pair of RELEASE_PREFIXES) {
    if (key.startsWith(pair[from])) return pair[1 - from] + key.slice(pair[from].length);
  }
  return key;
}

/** The keys of `TorchStateDictOptions`: any other key is a named error. */
const OPTION_KEYS = { strict: true, stripPrefix: true, only: true } satisfies Record<keyof TorchStateDictOptions, true>;

/** What `tensors` must be, in the errors of the imports. */
const TENSORS_EXPECTED = 'a record of PyTorch name → tf.Tensor';

/**
 * The release's keys under this package's names: `stripPrefix` (when given; every key must start with
 * it) or else a `module.` prefix removed, the release's stem names renamed and the fixed `adj` buffer
 * dropped. Two keys that name one weight (`module.k` and `k`, `backbone.stem.0.*` and
 * `backbone.conv1.*`) are a named error: one of them would silently win.
 */
function renameReleaseKeys(
  tensors: Readonly<Record<string, tf.Tensor>>,
  stripPrefix: string | undefined,
): Record<string, tf.Tensor> {
  const component = 'importTorchStateDict';
  const renamed = Object.create(null) as Record<string, tf.Tensor>; // any key is an own property
  const source = new Map<string, string>();
  for (const [key, t] of Object.entries(tensors)) {
    if (stripPrefix && !key.startsWith(stripPrefix)) {
      throw new PhalanxConfigError(component, 'stripPrefix', `a prefix of every key (${key})`, stripPrefix);
    }
    // '' (or none) keeps the release behaviour: a DataParallel `module.` is removed where present.
    const prefix = stripPrefix || (key.startsWith('module.') ? 'module.' : '');
    const bare = key.slice(prefix.length);
    if (bare === 'adj') continue; // the release's fixed skeleton, not learned
    const name = renamePrefix(bare, 1);
    const earlier = source.get(name);
    if (earlier !== undefined) {
      throw new PhalanxConfigError(
        component,
        'tensors',
        'a state_dict naming each weight once',
        `${earlier} and ${key}`,
      );
    }
    source.set(name, key);
    renamed[name] = t;
  }
  return renamed;
}

/** The release's `EHPE.adj` buffer: the skeleton's 1-hop adjacency with self-loops, `[21, 21]` float32. */
function releaseAdjacency(): tf.Tensor2D {
  return tf.tensor2d(hopNeighborhood(handAdjacency(), 1), undefined, 'float32');
}

/**
 * Loads a `state_dict` of the EHPE release into a model of this package, matching every tensor by its
 * PyTorch name: a `TWStage` into {@link createTwStage} (`upsample_to_hm.0.weight`, `hg.hgs.0.up1.conv1.weight`,
 * `refine.blocks.0.bn1.running_var`, `to_25d.bias`, …), a `FEM` into {@link createFem}
 * (`sa_blocks.0.attn.in_proj_weight`, `ca_blocks.1.lnk.weight`, `…mlp.3.bias`), or a whole `EHPE` into
 * {@link createEhpe} (`backbone.stem.0` / `.stem.1` are read as `backbone.conv1` / `backbone.bn1`; the
 * `adj` buffer, the fixed skeleton, is skipped; the graph layers take PyTorch Geometric `GATConv` names — the release's own
 * graph module `SPI_GAT` is missing from it, see the README). Conversions: convolutions `[O, I, kh, kw]`
 * → `[kh, kw, I, O]`, linear `[O, I]` → `[I, O]`, batch / layer norm, `nn.MultiheadAttention`'s packed
 * `in_proj_weight`, `pg.omega_g` / `pg.omega_e` → {@link @phalanx/layers!DualBranchFusion}. A `module.`
 * prefix is removed (or a non-empty `options.stripPrefix`, which every key must then start with) and
 * `num_batches_tracked` ignored; two keys that name one weight (`module.k` beside `k`, `backbone.stem.0.*`
 * beside `backbone.conv1.*`) are a `PhalanxConfigError`.
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
  tensors: Readonly<Record<string, tf.Tensor>>,
  options: TorchStateDictOptions = {},
): TorchImportReport {
  checkOptionsObject('importTorchStateDict', 'tensors', tensors, TENSORS_EXPECTED);
  checkOptions('importTorchStateDict', 'options', options, OPTION_KEYS, 'an object {strict?, stripPrefix?, only?}');
  if (options.stripPrefix !== undefined && typeof options.stripPrefix !== 'string') {
    throw new PhalanxConfigError('importTorchStateDict', 'stripPrefix', 'a string', options.stripPrefix);
  }
  const renamed = renameReleaseKeys(tensors, options.stripPrefix);
  return loadTorchStateDict(model, renamed, { ...options, stripPrefix: '' });
}

/**
 * The weights of a model of this package as a `state_dict` of the EHPE release — the inverse of
 * {@link importTorchStateDict}, on the same converters: a {@link createTwStage} model gives a `TWStage`
 * state_dict, a {@link createFem} model a `FEM` one, so that `writeSafetensors(exportTorchStateDict(m))`
 * loads into the release's module with `load_state_dict(strict=True)` (`scripts/check-export.py` checks
 * both). A {@link createEhpe} model gives the release's `EHPE` names (`backbone.stem.0` / `.stem.1` for
 * `backbone.conv1` / `backbone.bn1`, and its fixed `adj` buffer); its graph layers carry PyTorch
 * Geometric `GATConv` names, because the release's `SPI_GAT` is missing from it (see the README), so that
 * one is not checked against the release.
 *
 * @returns New tensors by PyTorch key; the caller disposes them.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { writeSafetensors } from '@phalanx/layers';
 * import { createTwStage, exportTorchStateDict } from '@phalanx/ehpe';
 * const sd = exportTorchStateDict(createTwStage({ backboneChannels: 2048 }));
 * writeFileSync('tw_stage.safetensors', writeSafetensors(sd));
 * tf.dispose(Object.values(sd));
 */
export function exportTorchStateDict(model: tfl.LayersModel): Record<string, tf.Tensor> {
  const ours = torchStateDict(model);
  const out: Record<string, tf.Tensor> = {};
  for (const [key, t] of Object.entries(ours)) out[renamePrefix(key, 0)] = t;
  if (ehpeRecordOf(model)?.kind === 'ehpe') out.adj = releaseAdjacency();
  return out;
}

/**
 * Loads a torchvision ResNet `state_dict` (e.g. `resnet50(weights=IMAGENET1K_V2).state_dict()` saved as
 * safetensors; keys `conv1.weight`, `layer1.0.downsample.0.weight`, …) into the `backbone.*` layers of a
 * model from {@link createEhpe}; the classifier `fc.*` is skipped and the rest of the model left as it
 * is. Strict over the backbone: a `PhalanxConfigError` lists backbone weights without a tensor and
 * tensors that match no backbone layer, and nothing is written then.
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
  tensors: Readonly<Record<string, tf.Tensor>>,
): TorchImportReport {
  checkOptionsObject('importTorchvisionBackbone', 'tensors', tensors, TENSORS_EXPECTED);
  const prefixed: Record<string, tf.Tensor> = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith('fc.')) continue;
    prefixed[`backbone.${key}`] = t;
  }
  return loadTorchStateDict(model, prefixed, { stripPrefix: '', only: /^backbone\./ });
}
