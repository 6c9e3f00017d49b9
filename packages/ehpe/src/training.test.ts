import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@phalanx/wasm-training';
import { describe, expect, it } from 'vitest';
import { expectClose, forEachBackend } from '@phalanx/testing';
import { disposeBatch, renderSyntheticHand, toBatch } from '@phalanx/data';
import { hopNeighborhood, type DynamicEdgeGAT } from '@phalanx/layers';
import { adjacency } from '@phalanx/pose';
import { SKELETON_EDGES } from '@phalanx/skeleton';
import { Trainer } from '@phalanx/train';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  createEhpe,
  createPgOnly,
  depthToBins,
  ehpeModelInfo,
  ehpeOutputIndex,
  ehpeRecordOf,
  joints25dToXyz,
  pgStageLoss,
  pgStageRecipe,
  pgStageTargets,
  RELEASE_L1_WEIGHT,
  resolveEhpeConfig,
  spiEdgeSets,
  twStageLoss,
  twStageModel,
  twStageRecipe,
  twStageTargets,
  variantJoints,
} from './index';
import { TINY_EHPE } from './tiny.fixture';

const TINY = TINY_EHPE;

/** Two hand-made hands: uv in a 64-pixel image, xyz in mm (relative depths within and beyond ±100 mm). */
function handMade() {
  const uv = Array.from({ length: 2 }, (_, b) => Array.from({ length: 21 }, (_, j) => [3 * j + b, 60 - 2 * j - b]));
  const xyz = Array.from({ length: 2 }, (_, b) =>
    Array.from({ length: 21 }, (_, j) => [j - 10, 2 * j - 20, 500 + b * 40 + (j - 10) * 11 * (b + 1)]),
  );
  return { uv, xyz, batch: { uv: tf.tensor3d(uv), xyz: tf.tensor3d(xyz) } };
}

const bins = (z: number, root: number, D: number, R: number) =>
  (Math.min(Math.max(z - root, -R / 2), R / 2) / R + 0.5) * (D - 1);

async function weightValues(weights: tfl.LayerVariable[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const w of weights) out.set(w.originalName, (await w.read().data()) as Float32Array);
  return out;
}

describe('segmented variants (Table 4)', () => {
  it('maps the letters to joint classes', () => {
    expect(variantJoints('W+T')).toEqual([0, 4, 8, 12, 16, 20]);
    expect(variantJoints('W+T+D')).toEqual([0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20]);
    expect(variantJoints('t')).toEqual([4, 8, 12, 16, 20]);
    expect(variantJoints('W+D+P+M')).toEqual([0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19]);
    expect(() => variantJoints('W+X')).toThrow(
      "variantJoints: variant must be distinct letters W, M, P, D, T joined by '+' (e.g. 'W+T'), but received 'W+X'.",
    );
    expect(() => variantJoints('W+W')).toThrow(/variantJoints: variant must be distinct letters/);
  });
});

forEachBackend(() => {
  describe('targets', () => {
    it('depth bins, TW coords and heatmaps, PG joints match an independent computation', async () => {
      const { uv, xyz, batch } = handMade();
      const joints = [0, 4, 8, 12, 16, 20];
      const t = twStageTargets(batch, { inputSize: 64, heatmapSize: 16, depthBins: 8, sigma: 1.5 });
      expect(t.heatmaps.shape).toEqual([2, 16, 16, 6]);
      const expectedCoords = uv.map((hand, b) =>
        joints.map((j) => [(hand[j][0] * 15) / 63, (hand[j][1] * 15) / 63, bins(xyz[b][j][2], xyz[b][0][2], 8, 200)]),
      );
      expectClose(t.coords25d, tf.tensor3d(expectedCoords), { rtol: 1e-5, atol: 1e-5 }, 'coords25d');
      // Heatmap of hand 1, joint 8 (channel 2), at a few pixels: 1/(2πσ²)·exp(−d²/2σ²).
      const maps = (await t.heatmaps.array()) as number[][][][];
      const [cx, cy] = expectedCoords[1][2];
      for (const [y, x] of [
        [Math.round(cy), Math.round(cx)],
        [3, 5],
        [15, 0],
      ]) {
        const e = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.5 ** 2)) / (2 * Math.PI * 1.5 * 1.5);
        expect(maps[1][y][x][2]).toBeCloseTo(e, 6);
      }
      const pg = pgStageTargets(batch, { depthBins: 4, depthRange: 100 });
      expectClose(
        pg,
        tf.tensor3d(uv.map((hand, b) => hand.map((p, j) => [p[0], p[1], bins(xyz[b][j][2], xyz[b][0][2], 4, 100)]))),
        { rtol: 1e-5, atol: 1e-5 },
        'pg targets',
      );
      const variant = twStageTargets(batch, {
        tipWristJoints: [3, 7],
        inputSize: 64,
        heatmapSize: 16,
        depthBins: 8,
        rootJoint: 9,
      });
      expectClose(
        variant.coords25d,
        tf.tensor3d(
          uv.map((hand, b) =>
            [3, 7].map((j) => [
              (hand[j][0] * 15) / 63,
              (hand[j][1] * 15) / 63,
              bins(xyz[b][j][2], xyz[b][9][2], 8, 200),
            ]),
          ),
        ),
        { rtol: 1e-5, atol: 1e-5 },
        'variant coords',
      );
      tf.dispose([batch.uv, batch.xyz, t.heatmaps, t.coords25d, pg, variant.heatmaps, variant.coords25d]);
    });

    it("heatmapNormalize 'peak' gives the same Gaussians with peak 1 (2πσ² times the density)", () => {
      const { batch } = handMade();
      const o = { inputSize: 64, heatmapSize: 16, depthBins: 8, sigma: 1.5 };
      const density = twStageTargets(batch, o);
      const peak = twStageTargets(batch, { ...o, heatmapNormalize: 'peak' });
      expectClose(peak.heatmaps, tf.mul(density.heatmaps, 2 * Math.PI * 1.5 * 1.5), { rtol: 1e-5, atol: 1e-6 }, 'peak');
      expectClose(peak.coords25d, density.coords25d, { rtol: 0, atol: 0 }, 'coords unchanged');
      expect(() => twStageTargets(batch, { ...o, heatmapNormalize: 'max' as 'peak' })).toThrow(/normalize/);
      tf.dispose([batch.uv, batch.xyz, density.heatmaps, density.coords25d, peak.heatmaps, peak.coords25d]);
    });

    it('joints25dToXyz inverts pgStageTargets within the depth range (ground-truth root depth)', () => {
      const b = toBatch([renderSyntheticHand(7, { size: 64 }), renderSyntheticHand(8, { size: 64 })]);
      const target = pgStageTargets(b, { depthBins: 8, depthRange: 400 });
      const back = joints25dToXyz(target, b.xyz, b.K, { depthBins: 8, depthRange: 400 });
      expectClose(back, b.xyz, { rtol: 1e-4, atol: 1e-2 }, 'xyz');
      const tw = twStageTargets(b, { inputSize: 64, heatmapSize: 16, depthBins: 8, depthRange: 400 });
      const twBack = joints25dToXyz(tw.coords25d, b.xyz, b.K, { depthBins: 8, depthRange: 400, xyScale: 63 / 15 });
      expectClose(twBack, tf.gather(b.xyz, [0, 4, 8, 12, 16, 20], 1), { rtol: 1e-4, atol: 1e-2 }, 'tw xyz');
      expect(() => depthToBins(b.xyz, { depthBins: 1 })).toThrow(
        'depthToBins: depthBins must be an integer ≥ 2, but received 1.',
      );
      // Arguments of the wrong kind: named errors, not a TypeError or tfjs' slice error; nothing leaks.
      const before = tf.memory().numTensors;
      const flat = tf.reshape(b.xyz, [-1, 3]);
      const cases: [() => unknown, string][] = [
        [() => depthToBins(b.xyz, null as never), 'depthToBins: options must be an options object, but received null.'],
        [() => depthToBins(b.xyz, [] as never), 'depthToBins: options must be an options object, but received [].'],
        [
          () => depthToBins(b.xyz, { bins: 8 } as never),
          'depthToBins: options.bins must be an option (one of depthBins, depthRange, rootJoint)',
        ],
        [() => depthToBins(flat), 'depthToBins: xyz must be a tensor [B, J, 3], but received [42, 3].'],
        [() => depthToBins(null as never), 'depthToBins: xyz must be a tensor [B, J, 3], but received null.'],
        [
          () => depthToBins(b.xyz, { rootJoint: 21 }),
          'depthToBins: rootJoint must be a joint of xyz (an integer < 21), but received 21.',
        ],
        // A misspelt option of the other target functions is not their default either.
        [
          () => twStageTargets(b, { inputSize: 64, heatmapSize: 16, sigm: 1 } as never),
          'twStageTargets: options.sigm must be an option (one of depthBins, depthRange, rootJoint, tipWristJoints,',
        ],
        [
          () => twStageTargets(b, [] as never),
          'twStageTargets: options must be {inputSize, heatmapSize, …}, but received [].',
        ],
        [
          () => pgStageTargets(b, { depthBin: 4 } as never),
          'pgStageTargets: options.depthBin must be an option (one of depthBins, depthRange, rootJoint)',
        ],
        [
          () => joints25dToXyz(target, b.xyz, b.K, { depthBins: 8, scale: 2 } as never),
          'joints25dToXyz: options.scale must be an option (one of depthBins, depthRange, rootJoint, xyScale)',
        ],
      ];
      for (const [f, message] of cases) expect(f, message).toThrow(message);
      flat.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([target, back, tw.heatmaps, tw.coords25d, twBack]);
      disposeBatch(b);
    });
  });
});

forEachBackend(() => {
  describe('losses', () => {
    it('twStageLoss = 3·MSE + 1e-2·distance + λ_R·Σ|W| (squared and Euclidean distance)', async () => {
      const hT = [
        [
          [
            [0.1, 0.2],
            [0.3, 0.0],
          ],
          [
            [0.5, 0.1],
            [0.0, 0.2],
          ],
        ],
      ];
      const hP = [
        [
          [
            [0.0, 0.4],
            [0.3, 0.1],
          ],
          [
            [0.2, 0.1],
            [0.1, 0.0],
          ],
        ],
      ];
      const cT = [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ];
      const cP = [
        [
          [1.5, 2, 2],
          [4, 3, 6],
        ],
      ];
      const w = [tf.tensor1d([1, -2]), tf.tensor2d([[-3, 0.5]])];
      const diffs = hT.flat(3).map((v, i) => v - hP.flat(3)[i]);
      const mse = diffs.reduce((s, d) => s + d * d, 0) / diffs.length;
      const sq = cT[0].map((p, j) => p.reduce((s, v, c) => s + (v - cP[0][j][c]) ** 2, 0));
      const target = { heatmaps: tf.tensor4d(hT), coords25d: tf.tensor3d(cT) };
      const pred = { heatmaps: tf.tensor4d(hP), coords25d: tf.tensor3d(cP) };
      const a = twStageLoss(target, pred, { weights: w, l1Weight: 0.1 });
      const expectedSquared = 3 * mse + 1e-2 * ((sq[0] + sq[1]) / 2) + 0.1 * 6.5;
      expect((await a.total.data())[0]).toBeCloseTo(expectedSquared, 6);
      expect((await a.parts.l1.data())[0]).toBeCloseTo(6.5, 6);
      const b = twStageLoss(target, pred, { weights: w, distance: 'euclidean', heatmapWeight: 1, distanceWeight: 2 });
      const expectedEuclid = mse + 2 * ((Math.sqrt(sq[0]) + Math.sqrt(sq[1])) / 2) + RELEASE_L1_WEIGHT * 6.5;
      expect((await b.total.data())[0]).toBeCloseTo(expectedEuclid, 6);
      expect(() => twStageLoss(target, pred, { distance: 'l1' as 'squared' })).toThrow(
        "twStageLoss: distance must be 'squared' or 'euclidean', but received 'l1'.",
      );
      tf.dispose([...w, target.heatmaps, target.coords25d, pred.heatmaps, pred.coords25d, a.total, b.total]);
      tf.dispose([...Object.values(a.parts), ...Object.values(b.parts)]);
    });

    it('pgStageLoss = 2e-2·squared distance + 2e-1·(α − 1)² on the 1-hop / 2-hop edges, averaged over layers', async () => {
      // Independent edge sets from the bone list: 1-hop = bones, 2-hop = bones ∪ pairs sharing a joint.
      const one = Array.from({ length: 21 }, () => new Array(21).fill(0));
      for (const [a, b] of SKELETON_EDGES) one[a][b] = one[b][a] = 1;
      const two = one.map((row, i) =>
        row.map((v, j) => (i !== j && (v || one[i].some((x, k) => x && one[k][j])) ? 1 : 0)),
      );
      const alpha = (l: number) =>
        Array.from({ length: 2 }, (_, b) =>
          Array.from({ length: 2 }, (_, k) =>
            Array.from({ length: 21 }, (_, i) =>
              Array.from({ length: 21 }, (_, j) => ((i * 7 + j * 3 + b + k + l) % 10) / 10),
            ),
          ),
        );
      const edgeTerm = (a: number[][][][], adj: number[][]) => {
        let s = 0;
        for (const hb of a)
          for (const hk of hb) hk.forEach((r, i) => r.forEach((v, j) => (s += adj[i][j] ? (v - 1) ** 2 : 0)));
        return s / 4; // mean over B = 2 and K = 2
      };
      const tgt = Array.from({ length: 2 }, (_, b) => Array.from({ length: 21 }, (_, j) => [j, b, 1]));
      const prd = Array.from({ length: 2 }, (_, b) => Array.from({ length: 21 }, (_, j) => [j + 0.5, -b, 1 + (j % 3)]));
      const sq = tgt.flatMap((h, b) => h.map((p, j) => p.reduce((s, v, c) => s + (v - prd[b][j][c]) ** 2, 0)));
      const position = sq.reduce((s, v) => s + v, 0) / sq.length;
      const edge = (edgeTerm(alpha(0), one) + edgeTerm(alpha(1), two)) / 2;
      const att = [tf.tensor4d(alpha(0)), tf.tensor4d(alpha(1))];
      const [t, p] = [tf.tensor3d(tgt), tf.tensor3d(prd)];
      const loss = pgStageLoss(t, p, att, { edgeReduction: 'sum' });
      expect((await loss.parts.edge.data())[0]).toBeCloseTo(edge, 4);
      expect((await loss.total.data())[0]).toBeCloseTo(2e-2 * position + 2e-1 * edge, 4);
      const mean = pgStageLoss(t, p, att, { position: 'euclidean' }); // default reduction: mean
      const pairs1 = one.flat().filter(Boolean).length;
      const pairs2 = two.flat().filter(Boolean).length;
      const euclid = sq.reduce((s, v) => s + Math.sqrt(v), 0) / sq.length;
      const edgeMean = (edgeTerm(alpha(0), one) / pairs1 + edgeTerm(alpha(1), two) / pairs2) / 2;
      expect((await mean.total.data())[0]).toBeCloseTo(2e-2 * euclid + 2e-1 * edgeMean, 5);
      expect(() => pgStageLoss(t, p, att, { adjacency: [one] })).toThrow(
        'pgStageLoss: adjacency must be 2 edge sets (one per attention map), but received 1.',
      );
      tf.dispose([...att, t, p, loss.total, mean.total, ...Object.values(loss.parts), ...Object.values(mean.parts)]);
    });

    it('the edge loss reads the edges the SPI graph layers attend over (one skeleton)', () => {
      const model = createEhpe(TINY);
      const sets = spiEdgeSets();
      for (const l of [0, 1]) {
        const gat = model.getLayer(`pg.spi.gat.${l}`) as DynamicEdgeGAT;
        const support = hopNeighborhood(gat.adjacency, gat.hops).map((row, i) => row.map((v, j) => (i === j ? 0 : v)));
        expect(sets[l]).toEqual(support);
        expect(sets[l]).toEqual(adjacency({ hops: l + 1 })); // the breadth-first count of @phalanx/pose agrees
      }
      model.dispose();
    });
  });
});

forEachBackend(() => {
  describe('the position loss with the depths weighed', () => {
    it('depthWeight w_z weighs Δz² by w_z in both distances; 1 is the default; a bad weight is a named error', async () => {
      const tgt = Array.from({ length: 3 }, (_, b) =>
        Array.from({ length: 21 }, (_, j) => [j % 5, b - j, (j * b) % 4]),
      );
      const prd = Array.from({ length: 3 }, (_, b) => Array.from({ length: 21 }, (_, j) => [j / 3, b, 2 - (j % 3)]));
      const att = [0, 1].map(() => tf.fill([3, 2, 21, 21], 1 / 21));
      const [t, p] = [tf.tensor3d(tgt), tf.tensor3d(prd)];
      const perJoint = (wZ: number) =>
        tgt.flatMap((h, b) =>
          h.map(([x, y, z], j) => (x - prd[b][j][0]) ** 2 + (y - prd[b][j][1]) ** 2 + wZ * (z - prd[b][j][2]) ** 2),
        );
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      for (const wZ of [0, 1, 4, 16]) {
        const squared = pgStageLoss(t, p, att, { depthWeight: wZ });
        const euclidean = pgStageLoss(t, p, att, { depthWeight: wZ, position: 'euclidean' });
        expect((await squared.parts.position.data())[0]).toBeCloseTo(mean(perJoint(wZ)), 3);
        expect((await euclidean.parts.position.data())[0]).toBeCloseTo(mean(perJoint(wZ).map(Math.sqrt)), 4);
        tf.dispose([
          squared.total,
          euclidean.total,
          ...Object.values(squared.parts),
          ...Object.values(euclidean.parts),
        ]);
      }
      const byDefault = pgStageLoss(t, p, att);
      expect((await byDefault.parts.position.data())[0]).toBeCloseTo(mean(perJoint(1)), 3);
      tf.dispose([byDefault.total, ...Object.values(byDefault.parts)]);
      for (const bad of [-1, Number.NaN, Infinity]) {
        expect(() => pgStageLoss(t, p, att, { depthWeight: bad })).toThrow(PhalanxConfigError);
      }
      // Inside tf.tidy, as a Trainer calls it: only the returned total is left.
      const before = tf.memory().numTensors;
      tf.dispose(tf.tidy(() => pgStageLoss(t, p, att, { depthWeight: 9 }).total));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...att, t, p]);
    });
  });

  describe('recipes', () => {
    it('a model keeps its resolved configuration and named outputs, through save and load; recipes read them', async () => {
      const model = createEhpe(TINY);
      const record = ehpeRecordOf(model)!;
      expect(record.kind).toBe('ehpe');
      expect(record.outputs).toEqual(['twHeatmaps', 'twCoords', 'joints', 'attention1', 'attention2']);
      expect(record.config).toEqual(resolveEhpeConfig(TINY));
      expect(ehpeOutputIndex(model, 'joints')).toBe(2);
      let saved: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          saved = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      expect(ehpeRecordOf(reloaded)).toEqual(record);
      expect(ehpeModelInfo(reloaded)).toEqual(ehpeModelInfo(model));
      // A model saved before models carried their configuration is still read, from its layers.
      const older = await tfl.loadLayersModel(tf.io.fromMemory({ ...saved!, userDefinedMetadata: undefined }));
      expect(ehpeRecordOf(older)).toBeNull();
      expect(ehpeModelInfo(older)).toEqual(ehpeModelInfo(model));
      expect(ehpeOutputIndex(older, 'attention2')).toBe(4);
      older.dispose();
      expect(ehpeRecordOf(createPgOnly(TINY))?.outputs).toEqual(['joints', 'attention1', 'attention2']);
      // A model that is not one of createEhpe's carries no record, whatever its layers.
      expect(() => ehpeModelInfo(twStageModel(model))).toThrow(
        /ehpeModelInfo: model must be a model built by createEhpe/,
      );
      // Options are validated without running anything: no tensor is made for a rejected option.
      const count = tf.memory().numTensors;
      expect(() => twStageRecipe(model, { heatmapNormalize: 'max' as 'peak' })).toThrow(
        "twStageTargets: heatmapNormalize must be 'gaussian' or 'peak' (how to normalize the Gaussians), but received 'max'.",
      );
      expect(tf.memory().numTensors).toBe(count);
      model.dispose();
      reloaded.dispose();
    });

    it('stage 2 leaves backbone and TW-stage (weights and BN statistics) bitwise unchanged', async () => {
      const model = createEhpe(TINY);
      expect(ehpeModelInfo(model)).toEqual({
        imageSize: 64,
        heatmapSize: 16,
        depthBins: 4,
        tipWristJoints: [0, 4, 8, 12, 16, 20],
      });
      const tw = twStageModel(model);
      expect(tw.trainableWeights.every((w) => /^(backbone|tw)\./.test(w.originalName))).toBe(true);
      const batch = toBatch([renderSyntheticHand(1, { size: 64 }), renderSyntheticHand(2, { size: 64 })]);
      const stage1 = new Trainer({ ...twStageRecipe(model, { lr: 1e-3 }), progress: false });
      for (let i = 0; i < 2; i++) expect(Number.isFinite((await stage1.trainStep(batch)).loss)).toBe(true);

      const frozen = model.weights.filter((w) => /^(backbone|tw)\./.test(w.originalName));
      const rest = model.weights.filter((w) => !/^(backbone|tw)\./.test(w.originalName));
      expect(frozen.some((w) => /moving_mean$/.test(w.originalName))).toBe(true);
      const before = await weightValues(frozen);
      const restBefore = await weightValues(rest);
      const stage2 = new Trainer({ ...pgStageRecipe(model, { lr: 1e-3 }), progress: false });
      const group = stage2.describeGroups()[0];
      const twSide = group.variables.filter((n) => /^(backbone|tw)\./.test(n));
      expect(twSide.length).toBeGreaterThan(0);
      expect(group.frozen).toEqual(twSide); // frozen: no gradient, no update
      for (let i = 0; i < 3; i++) expect(Number.isFinite((await stage2.trainStep(batch)).loss)).toBe(true);
      const after = await weightValues(frozen);
      for (const [name, v] of before)
        expect(Buffer.from(after.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
      const restAfter = await weightValues(rest);
      const changed = [...restBefore].filter(([n, v]) => restAfter.get(n)!.some((x, i) => x !== v[i])).map(([n]) => n);
      expect(changed).toContain('pg.out_head/kernel');
      // The PG side's own BN keeps learning. Its mean can stay exactly 0 when the tiny, randomly initialised
      // frozen backbone happens to output all zeros for these two images; its variance then still moves 1 → 0.9.
      expect(changed.filter((n) => /^img_token_proj\.1\/moving_(mean|variance)$/.test(n))).not.toEqual([]);
      disposeBatch(batch);
      model.dispose();
    });

    it('a PG-only model takes a createEhpe backbone by name and trains on a constant layout', async () => {
      const model = createEhpe(TINY);
      const pgOnly = createPgOnly(TINY);
      const byName = new Map(model.weights.map((w) => [w.originalName, w]));
      const shared = pgOnly.weights.filter((w) => byName.has(w.originalName));
      expect(shared.length).toBe(pgOnly.weights.length); // every PG-only weight exists in the full model
      pgOnly.setWeights(pgOnly.weights.map((w) => byName.get(w.originalName)!.read()));
      const batch = toBatch([renderSyntheticHand(3, { size: 64 }), renderSyntheticHand(4, { size: 64 })]);
      const layout = tf.tidy(() => tf.mean(pgStageTargets(batch, { depthBins: 4 }), 0));
      const full = model.predict(batch.images) as tf.Tensor[];
      const backboneOut = pgOnly.getLayer('img_token_proj.2').output;
      expect(backboneOut).toBeDefined();
      const trainer = new Trainer({ ...pgStageRecipe(pgOnly, { layout, depthBins: 4, lr: 1e-3 }), progress: false });
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) losses.push((await trainer.trainStep(batch)).loss);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(() => pgStageRecipe(pgOnly)).toThrow(
        'pgStageRecipe: layout must be a tensor [21, 3] for a PG-only model, but received undefined.',
      );
      expect(() => twStageRecipe(pgOnly)).toThrow(/ehpeModelInfo: model must be a model built by createEhpe/);
      tf.dispose([layout, ...full]);
      disposeBatch(batch);
      model.dispose();
      pgOnly.dispose();
    });
  });
});

describe('overfitting a fixed batch on wasm', () => {
  forEachBackend(() => {
    it('a tiny EHPE: the TW-stage loss and then the PG-stage loss fall by ≥ 80%', async () => {
      const model = createEhpe(TINY);
      const batch = toBatch([0, 1].map((i) => renderSyntheticHand(100 + i, { size: 64 })));
      const run = async (trainer: Trainer<typeof batch>, maxSteps: number) => {
        const losses: number[] = [];
        for (let i = 0; i < maxSteps; i++) {
          losses.push((await trainer.trainStep(batch)).loss);
          if (i >= 5 && Math.min(...losses.slice(-3)) < 0.2 * losses[0]) break;
        }
        return { first: losses[0], last: Math.min(...losses.slice(-3)), steps: losses.length };
      };
      const tw = await run(new Trainer({ ...twStageRecipe(model, { lr: 3e-3 }), progress: false }), 60);
      console.log(`tiny TW-stage: loss ${tw.first.toFixed(4)} → ${tw.last.toFixed(4)} in ${tw.steps} steps`);
      expect(tw.last).toBeLessThan(0.2 * tw.first);
      const pg = await run(new Trainer({ ...pgStageRecipe(model, { lr: 3e-3 }), progress: false }), 60);
      console.log(`tiny PG-stage: loss ${pg.first.toFixed(4)} → ${pg.last.toFixed(4)} in ${pg.steps} steps`);
      expect(pg.last).toBeLessThan(0.2 * pg.first);
      disposeBatch(batch);
      model.dispose();
    });
  }, ['wasm']);
});
