/**
 * The "PG-stage only" ablation of the paper's Table 3: the EHPE network without the TW-stage's
 * guidance. The PG-stage starts from a layout given as an input (e.g. the mean hand of the training
 * set) instead of the layout built from the TW-stage's predictions.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { jointFeatureSampler, resizeBilinear } from '@phalanx/layers';
import { relu, resnetBackbone, resolveResNet, torchBatchNorm, torchConv2d } from '@phalanx/blocks';
import { pgStage, resolveEhpeConfig, type EhpeConfig } from './model';

type SymbolicTensor = tfl.SymbolicTensor;

/**
 * Builds EHPE without the TW-stage: backbone → `img_token_proj` → image tokens and joint features
 * sampled at a **given** layout → PG-stage (SPI ∥ FEM → fusion → `out_head`). Every layer has the name
 * it has in {@link createEhpe} (`backbone.*`, `img_token_proj.*`, `pg.*`), so weights move between the
 * two by name (e.g. a backbone trained in the TW-stage). With a constant layout (the mean hand), the
 * PG-stage has no joint guidance: the paper's "PG-stage only" row of Table 3.
 *
 * **Shapes**: inputs `image [B, S, S, 3]`, `layout [B, 21, 3]` (x, y in input pixels, z in depth bins,
 * like `init21`) → outputs `joints [B, 21, 3]`, `attention1 [B, K, 21, 21]`, `attention2 [B, K, 21, 21]`.
 *
 * @example
 * const pgOnly = createPgOnly({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32, nodeDim: 64 });
 * const [joints] = pgOnly.predict([images, tf.tile(meanLayout, [B, 1, 1])]) as tf.Tensor[];
 */
export function createPgOnly(config: EhpeConfig = {}): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  const backbone = resolveResNet({ ...c.backbone, name: 'backbone' }, 'createPgOnly');
  const image = tfl.input({ shape: [c.imageSize, c.imageSize, 3], name: 'image' });
  const layout = tfl.input({ shape: [21, 3], name: 'layout' });
  const features = resnetBackbone(image, { ...c.backbone, name: 'backbone' });
  let img = torchConv2d(features, { filters: c.nodeDim, kernelSize: 1, useBias: false, name: 'img_token_proj.0' });
  img = relu(torchBatchNorm(img, 'img_token_proj.1'), 'img_token_proj.2');
  const h = c.imageSize / backbone.outputStride;
  const tokens = tfl.layers
    .reshape({ targetShape: [h * h, c.nodeDim], name: 'img_tokens' })
    .apply(img) as SymbolicTensor;
  const s = c.featureSampleSize;
  const asImage = tfl.layers.reshape({ targetShape: [21, 3, 1], name: 'layout.split' }).apply(layout) as SymbolicTensor;
  const xyCrop = tfl.layers
    .cropping2D({
      cropping: [
        [0, 0],
        [0, 1],
      ],
      name: 'layout.xy_crop',
    })
    .apply(asImage) as SymbolicTensor;
  const xy = tfl.layers.reshape({ targetShape: [21, 2], name: 'layout.xy' }).apply(xyCrop) as SymbolicTensor;
  const points = tfl.layers
    .rescaling({ scale: (s - 1) / (c.imageSize - 1), offset: 0, name: 'sample_points' })
    .apply(xy) as SymbolicTensor;
  const map = resizeBilinear({ height: s, width: s, name: 'img_feat_up' }).apply(img) as SymbolicTensor;
  const sampled = jointFeatureSampler({ name: 'sample' }).apply([map, points]) as SymbolicTensor;
  const nodes = tfl.layers.concatenate({ axis: -1, name: 'node_feat' }).apply([layout, sampled]) as SymbolicTensor;
  const pg = pgStage(nodes, tokens, c, 'pg');
  return tfl.model({ inputs: [image, layout], outputs: [pg.joints, ...pg.attention], name: `${c.name}_pg_only` });
}
