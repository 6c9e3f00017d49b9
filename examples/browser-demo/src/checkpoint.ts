/**
 * A PyTorch checkpoint picked in the page — a `.pth`/`.pt` file as `torch.save` writes it (read in the
 * browser, no Python) or a `.safetensors` file — loaded into the network the page runs. The checkpoint
 * must be a `state_dict` of the same network and configuration (e.g. the official code's, or
 * `exportTorchStateDict` of a Phalanx model): the page builds a fresh copy of the current model's layers,
 * imports the tensors by their PyTorch names (strictly; a mismatch names every wrong key and leaves the
 * running model as it was) and runs the copy through the same estimator.
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  estimatorWithTorchWeights,
  readTorchCheckpoint,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';

/** Reads a `.safetensors` file or a PyTorch checkpoint (`readTorchCheckpoint` of `@phalanx/pretrained`). */
export const readCheckpoint = readTorchCheckpoint;

/** A new model with the layers of `model` (same architecture, fresh weights) and its metadata. */
async function freshCopy(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const topology = model.toJSON(undefined, false) as tf.io.ModelJSON['modelTopology'];
  const copy = await tfl.models.modelFromJSON({ modelTopology: topology });
  copy.setUserDefinedMetadata({ ...((model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>) });
  return copy;
}

/**
 * Loads the checkpoint `bytes` (named `name`) into a copy of `model`, a `kind` network, and returns the
 * estimator of that copy (`estimatorWithTorchWeights`); `model` is left untouched. Throws the import's
 * named error (and frees everything it made) when the checkpoint does not fit the network.
 */
export async function estimatorFromCheckpoint(
  kind: HandPoseModelName,
  model: tfl.LayersModel,
  bytes: Uint8Array,
  name: string,
): Promise<HandPoseEstimator> {
  return estimatorWithTorchWeights(kind, await freshCopy(model), bytes, name);
}
