/**
 * The official Learnable-Groups PyTorch `state_dict` into and out of the model of
 * {@link createLearnableGroups}: thin wrappers of `loadTorchStateDict` / `torchStateDict` of
 * `@phalanx/layers`, whose converters know every layer of the model by its PyTorch module name.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { checkOptions, checkPositiveFloat32 } from '@phalanx/errors';
import {
  ConcreteJointSelector,
  loadTorchStateDict,
  torchStateDict,
  type TorchImportReport,
  type TorchStateDictOptions,
} from '@phalanx/layers';

/** Options of {@link importTorchStateDict}. */
export interface LearnableGroupsImportOptions extends TorchStateDictOptions {
  /**
   * Concrete temperature to store in the selector `meta_S` (the official checkpoint keeps it apart from
   * the state_dict, as `ckpt['Temperature']`), a positive normal float32 (what the selector stores).
   * Default: leave the model's temperature unchanged.
   */
  temperature?: number;
}

/** The keys of {@link LearnableGroupsImportOptions}: any other key is a named error. */
const OPTION_KEYS = { strict: true, stripPrefix: true, only: true, temperature: true } satisfies Record<
  keyof LearnableGroupsImportOptions,
  true
>;

/**
 * Loads a `state_dict` of the official `Learnable_Groups` (e.g. `RHD_final.pth`'s
 * `model_state_dict`, converted to safetensors — see the README) into a model built by
 * {@link createLearnableGroups} with the checkpoint's configuration, matching every tensor by its
 * PyTorch name: the backbone's convolutions and batch norms, `backbone_conv`, the branch blocks
 * (`b_conv0 … b_up0`), the transposed convolutions (`[I, O, kh, kw]` → `[kh, kw, O, I]`), the heads,
 * `nddr_layer0.Conv_Task_List.i.0` → the `GroupFusion` kernel columns, `meta_S.weight [J, G]` → the
 * selector's logits, `b_get_uv.j.beta.weight [J, 1, 1, 1]` → `SoftArgmax25D` β `[J]` (the `wx` / `wy`
 * grids are checked to be the pixel grid). A `module.` prefix (DataParallel) is removed;
 * `num_batches_tracked` is ignored. Strict by default: every missing and unexpected key is listed in
 * one `PhalanxConfigError`. All or nothing: the options (a key that is not an option is a named error),
 * names, shapes, dtypes, values (finite, `running_var` ≥ 0) and the temperature are checked before
 * anything is written.
 *
 * **Shapes**: each tensor must have the PyTorch shape implied by the model (else `PhalanxShapeError`
 * naming the key).
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { readSafetensors } from '@phalanx/layers';
 * import { createLearnableGroups, importTorchStateDict } from '@phalanx/learnable-groups';
 * const model = createLearnableGroups({ numGroups: 3, fusion: true, inputSize: 256 });
 * const tensors = readSafetensors(readFileSync('RHD_final.safetensors'));
 * importTorchStateDict(model, tensors, { temperature: 0.1 });
 * tf.dispose(Object.values(tensors));
 */
export function importTorchStateDict(
  model: tfl.LayersModel,
  tensors: Readonly<Record<string, tf.Tensor>>,
  options: LearnableGroupsImportOptions = {},
): TorchImportReport {
  // Checked before anything is written: a temperature the selector refuses would fail after the weights.
  checkOptions(
    'importTorchStateDict',
    'options',
    options,
    OPTION_KEYS,
    'an object {strict?, stripPrefix?, only?, temperature?}',
  );
  const { temperature, ...rest } = options;
  if (temperature !== undefined) checkPositiveFloat32('importTorchStateDict', 'temperature', temperature);
  const report = loadTorchStateDict(model, tensors, rest);
  if (temperature !== undefined) {
    for (const layer of model.layers) if (layer instanceof ConcreteJointSelector) layer.setTemperature(temperature);
  }
  return report;
}

/**
 * The weights of a {@link createLearnableGroups} model as a `state_dict` of the official
 * `Learnable_Groups`: PyTorch names and layouts (the inverse of {@link importTorchStateDict}, through
 * the same converters), with the `SoftHeatmap` grids `b_get_uv.j.wx` / `.wy`, so that
 * `writeSafetensors(exportTorchStateDict(model))` loads into the official network with
 * `load_state_dict(strict=True)` (`scripts/check-export.py` checks it). The selector's temperature is
 * not part of it (the official checkpoint stores it as `ckpt['Temperature']`).
 *
 * @returns New tensors by PyTorch key; the caller disposes them.
 *
 * @example
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { writeSafetensors } from '@phalanx/layers';
 * import { createLearnableGroups, exportTorchStateDict } from '@phalanx/learnable-groups';
 * const model = createLearnableGroups({ inputSize: 64, planes: [8, 8] });
 * const sd = exportTorchStateDict(model);
 * writeFileSync('lg.safetensors', writeSafetensors(sd));
 * tf.dispose(Object.values(sd));
 */
export function exportTorchStateDict(model: tfl.LayersModel): Record<string, tf.Tensor> {
  return torchStateDict(model);
}
