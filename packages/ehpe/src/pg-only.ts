/**
 * The "PG-stage only" ablation of the paper's Table 3: the EHPE network without the TW-stage's
 * guidance. The PG-stage starts from a layout given as an input (e.g. the mean hand of the training
 * set) instead of the layout built from the TW-stage's predictions.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { resolvedResNetBackbone } from '@phalanx/blocks';
import { attachEhpeRecord, PG_OUTPUTS, resolveEhpeConfig, type EhpeConfig } from './config';
import { pgStageOnLayout } from './model';

/**
 * Builds EHPE without the TW-stage: backbone → `img_token_proj` → image tokens and joint features
 * sampled at a **given** layout → PG-stage (SPI ∥ FEM → fusion → `out_head`). Every layer has the name
 * it has in {@link createEhpe} (`backbone.*`, `img_token_proj.*`, `pg.*`), so weights move between the
 * two by name (e.g. a backbone trained in the TW-stage). With a constant layout (the mean hand), the
 * PG-stage has no joint guidance: the paper's "PG-stage only" row of Table 3.
 *
 * **Shapes**: inputs `image [B, S, S, 3]`, `layout [B, 21, 3]` (x, y in input pixels, z in depth bins,
 * like `init21`) → outputs `joints [B, 21, 3]`, `attention1 [B, K, 21, 21]`, `attention2 [B, K, 21, 21]`
 * ({@link PG_OUTPUTS}). Like {@link createEhpe}'s, the model keeps its resolved configuration.
 *
 * @example
 * const pgOnly = createPgOnly({ imageSize: 128, backbone: { depth: 18 }, heatmapSize: 32, nodeDim: 64 });
 * const B = 2;
 * const images = tf.zeros([B, 128, 128, 3]);
 * const meanLayout = tf.zeros([1, 21, 3]); // e.g. the training set's mean 2.5D pose
 * const [joints] = pgOnly.predict([images, tf.tile(meanLayout, [B, 1, 1])]) as tf.Tensor[];
 */
export function createPgOnly(config: EhpeConfig = {}): tfl.LayersModel {
  const c = resolveEhpeConfig(config);
  const image = tfl.input({ shape: [c.imageSize, c.imageSize, 3], name: 'image' });
  const layout = tfl.input({ shape: [21, 3], name: 'layout' });
  const features = resolvedResNetBackbone(image, c.backbone);
  const pg = pgStageOnLayout(features, layout, c, 'layout');
  const model = tfl.model({
    inputs: [image, layout],
    outputs: [pg.joints, ...pg.attention],
    name: `${c.name}_pg_only`,
  });
  attachEhpeRecord(model, { kind: 'pg-only', config: c, outputs: PG_OUTPUTS });
  return model;
}
