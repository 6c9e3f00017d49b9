/**
 * Every publishable package is packed with `pnpm pack` (which builds it), installed from the tarballs into
 * a fresh npm project outside the workspace together with tfjs from the registry, and used from plain
 * Node 20 through both `import` (ESM) and `require` (CJS).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const PACKAGES = [
  'errors',
  'pickle',
  'skeleton',
  'layers',
  'losses',
  'pose',
  'data',
  'wasm-training',
  'blocks',
  'learnable-groups',
  'ehpe',
  'train',
  'pretrained',
];
const TFJS = ['core', 'layers', 'backend-cpu', 'backend-wasm', 'data'].map((p) => `@tensorflow/tfjs-${p}@4.22.0`);

let work = '';
// Asynchronous, so that vitest's worker stays responsive while packing and installing take their time.
const run = promisify(execFile);

/** The script both module systems run; `load` is `import` or `require`. */
function checkScript(load: (name: string) => string): string {
  return `
const tf = ${load('@tensorflow/tfjs-core')};
${load('@tensorflow/tfjs-backend-cpu')};
const tfl = ${load('@tensorflow/tfjs-layers')};
const layers = ${load('@phalanx/layers')};
const losses = ${load('@phalanx/losses')};
const pose = ${load('@phalanx/pose')};
const data = ${load('@phalanx/data')};
const prefetch = ${load('@phalanx/data/prefetch')};
const wasmBackend = ${load('@tensorflow/tfjs-backend-wasm')};
const wasmTraining = ${load('@phalanx/wasm-training')};
const blocks = ${load('@phalanx/blocks')};
const learnableGroups = ${load('@phalanx/learnable-groups')};
const ehpe = ${load('@phalanx/ehpe')};
const train = ${load('@phalanx/train')};
const errors = ${load('@phalanx/errors')};
const skeleton = ${load('@phalanx/skeleton')};
const pretrained = ${load('@phalanx/pretrained')};
async function main() {
  await tf.setBackend('cpu');
  const report = {};
  // A small model from Phalanx layers: 2.5D soft-argmax on a conv head, saved and loaded from disk.
  const input = tfl.input({ shape: [8, 8, 3] });
  const heat = tfl.layers.conv2d({ filters: 2 * 4, kernelSize: 1 }).apply(input);
  const coords = layers.softArgmax25D({ mode: 'volumetric', numJoints: 2, depthBins: 4 }).apply(heat);
  const model = tfl.model({ inputs: input, outputs: coords });
  const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1);
  const y = model.predict(x);
  report.shape = y.shape;
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'phalanx-pack-'));
  await model.save(layers.fileSystem(dir));
  const loaded = await tfl.loadLayersModel(layers.fileSystem(dir));
  report.reloadedEqual = tf.max(tf.abs(tf.sub(loaded.predict(x), y))).dataSync()[0] === 0;
  // A loss and its gradient (gradients must be registered).
  const target = tf.zeros([2, 2, 3]);
  const g = tf.grad((p) => losses.xyzL1Loss(target, p))(tf.ones([2, 2, 3]));
  report.gradSum = tf.sum(g).dataSync()[0];
  report.metricKeys = Object.keys(pose).length > 5;
  report.dataKeys = Object.keys(data).length > 3;
  report.wasmTraining = typeof wasmTraining.registerWasmTrainingKernels;
  report.blocks = typeof blocks.hourglass;
  report.skeletonEdges = skeleton.SKELETON_EDGES.length;
  // One copy of the error classes: only @phalanx/errors exports them, and every package throws them.
  const thrown = (f) => { try { f(); } catch (e) { return e; } };
  report.sharedErrors =
    [layers, losses, pose, data, blocks, learnableGroups, ehpe, train, skeleton].every((m) => !('PhalanxConfigError' in m)) &&
    thrown(() => layers.softArgmax25D({ mode: 'volumetric', numJoints: 0, depthBins: 4 })) instanceof errors.PhalanxConfigError &&
    thrown(() => pose.jointsOfClass('THUMB')) instanceof errors.PhalanxConfigError &&
    thrown(() => data.toBatch([])) instanceof errors.PhalanxConfigError &&
    thrown(() => data.readImageHeader(new Uint8Array([1, 2, 3, 4]), 'x.png')) instanceof errors.PhalanxFileError;
  // The reference model at a tiny width, through the built packages.
  const lg = learnableGroups.createLearnableGroups({
    inputSize: 64, planes: [4, 4], hourglassFeatures: 8, stemChannels: [4, 8], neckChannels: 8,
  });
  const [uv, depth] = lg.predict(tf.zeros([1, 64, 64, 3]));
  report.lgShapes = [uv.shape, depth.shape];
  report.ehpe = typeof ehpe.createEhpe;
  report.trainer = typeof train.Trainer;
  // The shipped weights, found beside the installed package's dist/ (import.meta.url, shimmed in CJS).
  const estimator = await pretrained.loadHandPoseEstimator('learnable-groups');
  const [hand] = await estimator.estimateHands(tf.zeros([40, 30, 3], 'int32'));
  report.estimator = [hand.keypoints.length, hand.keypoints[8].name, hand.keypoints3D[0].z];
  estimator.dispose();
  // The threaded wasm backend and the prefetching data source from the installed files (the process must
  // still end by itself: the pool's threads and the data workers do not keep it alive).
  wasmTraining.enableWasmThreads();
  wasmBackend.setThreadsCount(2);
  await tf.setBackend('wasm');
  report.wasmThreads = wasmBackend.getThreadsCount();
  await tf.setBackend('cpu');
  report.prefetched = [];
  for await (const b of prefetch.prefetchBatches({ seed: 1, size: 16, count: 3, batchSize: 2 })) {
    report.prefetched.push(b.images.shape);
    data.disposeBatch(b);
  }
  console.log(JSON.stringify(report));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'phalanx-packaging-'));
  const tarballs = join(work, 'tarballs');
  for (const name of PACKAGES) {
    await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(ROOT, 'packages', name) });
  }
  const project = join(work, 'project');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files, ...TFJS], { cwd: project });
  // In ESM, require is not defined: give the script one.
  writeFileSync(
    join(project, 'check.mjs'),
    `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n` +
      checkScript((n) => `await import('${n}')`),
  );
  writeFileSync(
    join(project, 'check.cjs'),
    checkScript((n) => `require('${n}')`),
  );
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('packed tarballs in a fresh npm project', () => {
  for (const file of ['check.mjs', 'check.cjs']) {
    it(`work from ${file.endsWith('mjs') ? 'ESM import' : 'CJS require'}`, async () => {
      const { stdout: out } = await run('node', [file], { cwd: join(work, 'project'), encoding: 'utf8' });
      const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
      expect(report).toEqual({
        shape: [2, 2, 3],
        reloadedEqual: true,
        // d/dp mean_{b,j}(|Δx|+|Δy|+|Δz|) = 1/(B·J) per element: 12 elements / 4 = 3.
        gradSum: 3,
        metricKeys: true,
        dataKeys: true,
        wasmTraining: 'function',
        blocks: 'function',
        skeletonEdges: 20,
        sharedErrors: true,
        ehpe: 'function',
        trainer: 'function',
        estimator: [21, 'index_tip', 0],
        lgShapes: [
          [1, 21, 2],
          [1, 21],
        ],
        wasmThreads: 2,
        prefetched: [
          [2, 16, 16, 3],
          [1, 16, 16, 3],
        ],
      });
    });
  }
});
