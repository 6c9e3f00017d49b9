/**
 * A PyTorch checkpoint picked in the page — a `.pth`/`.pt` (the release's `RHD_final.pth`, read in the
 * browser without Python) or a `.safetensors` file — turned into a Learnable Groups model. The network's
 * configuration is read from the tensor shapes; only the input size is not in the weights (the release's:
 * 256; `?inputSize=` overrides it).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, parseTorchCheckpoint } from '@phalanx/layers';
import type { LearnableGroupsConfig } from '@phalanx/learnable-groups';
import { describePoseModel, type PoseModel } from './pose-model';

/** The state dict and the selector temperature stored beside it (the release: `ckpt['Temperature']`). */
export function readCheckpoint(
  bytes: Uint8Array,
  name: string,
): { tensors: Record<string, tf.Tensor>; temperature?: number } {
  if (name.endsWith('.safetensors')) {
    const file = parseSafetensors(bytes);
    const t = Number(file.metadata.Temperature);
    return { tensors: file.tensors(), temperature: Number.isFinite(t) ? t : undefined };
  }
  const ckpt = parseTorchCheckpoint(bytes, { file: name });
  const t = ckpt.root instanceof Map ? ckpt.root.get('Temperature') : undefined;
  return { tensors: ckpt.stateDict(), temperature: typeof t === 'number' ? t : undefined };
}

/** The `createLearnableGroups` configuration a state dict was made with, from its tensor shapes. */
export function configFromStateDict(tensors: Record<string, tf.Tensor>, inputSize: number): LearnableGroupsConfig {
  const dim = (key: string, axis: number): number => {
    const t = Object.hasOwn(tensors, key) ? tensors[key] : undefined;
    if (t === undefined) throw new Error(`not a Learnable Groups state dict: '${key}' is missing`);
    return t.shape[axis];
  };
  return {
    numJoints: dim('meta_S.weight', 0),
    numGroups: dim('meta_S.weight', 1),
    fusion: Object.keys(tensors).some((k) => k.startsWith('nddr_layer')),
    inputSize,
    stemChannels: [dim('backbone.conv1_.weight', 0), dim('backbone.r1.conv3.weight', 0)],
    hourglassFeatures: dim('backbone.r5.conv3.weight', 0),
    neckChannels: dim('backbone_conv.0.res_branch.0.weight', 0),
    planes: [dim('b_conv0.0.block.0.weight', 0), dim('b_conv1.0.res_branch.0.weight', 0)],
  };
}

/** Builds the network for the checkpoint's weights and loads them (strictly, by PyTorch names). */
export async function poseModelFromCheckpoint(bytes: Uint8Array, name: string, inputSize: number): Promise<PoseModel> {
  // Loaded on demand: the page needs the model package only for checkpoints.
  const { createLearnableGroups, importTorchStateDict } = await import('@phalanx/learnable-groups');
  const { tensors, temperature } = readCheckpoint(bytes, name);
  try {
    const model = createLearnableGroups(configFromStateDict(tensors, inputSize));
    try {
      importTorchStateDict(model, tensors, temperature === undefined ? {} : { temperature });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return describePoseModel(model);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
