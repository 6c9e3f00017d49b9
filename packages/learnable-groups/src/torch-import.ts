/**
 * Loading the official Learnable-Groups PyTorch `state_dict` (read from safetensors) into the model of
 * {@link createLearnableGroups}.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadTorchStateDict, type ImportTorchStateDictOptions, type ImportTorchStateDictReport } from '@phalanx/blocks';

export type { ImportTorchStateDictOptions, ImportTorchStateDictReport };

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
 * one `PhalanxConfigError`.
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
  tensors: Record<string, tf.Tensor>,
  options: ImportTorchStateDictOptions = {},
): ImportTorchStateDictReport {
  return loadTorchStateDict(model, tensors, options);
}
