/**
 * Trains EHPE (Ma et al. 2025, "A Segmented Architecture for Enhanced Hand Pose Estimation") on
 * synthetic hands in Node on the wasm backend — stage 1 the TW-stage, stage 2 the PG-stage with the
 * TW-stage frozen, and the "PG-stage only" ablation — then evaluates PA-MPJPE, MPJPE and the per-joint-
 * class errors of the paper's Fig. 1 for the TW-only, PG-only and full models on a held-out set.
 *
 *   pnpm --filter @phalanx/example-train-ehpe start                       # the short default run (< 10 min)
 *   pnpm --filter @phalanx/example-train-ehpe start -- --variant W+T+D    # a segmented variant of Table 4
 *   pnpm --filter @phalanx/example-train-ehpe start -- --full             # the paper's sizes (ResNet-50, 256 px)
 *
 * Writes into `runs/ehpe/<variant>` (or `--out`) under the directory pnpm was started from:
 * `metrics.json`, `class-errors.svg`, `log-tw.jsonl`, `log-pg.jsonl`, `log-pg-only.jsonl`, `model/`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { setThreadedWasmBackend } from '@phalanx/wasm-training';
import { disposeBatch } from '@phalanx/data';
import {
  EHPE_LOSS_WEIGHTS,
  INIT21_DEFAULTS,
  RELEASE_L1_WEIGHT,
  TABLE4_VARIANTS,
  variantJoints,
  type EhpeConfig,
} from '@phalanx/ehpe';
import { fileSystem } from '@phalanx/layers';
import { initFromCheckpoint } from './checkpoint';
import { classRatioSvg, fig1Series } from './figures';
import { dataWorkersFlag, threadsFlag, trainingSource } from './threads';
import {
  buildModel,
  buildPgOnly,
  classTable,
  evaluate,
  heldOutSet,
  meanLayout,
  MODEL_SIZES,
  pgOnlyTrainer,
  stage1Trainer,
  stage2Trainer,
  type JobConfig,
} from './pipeline';

// `pnpm start -- --flag` passes the `--` through; parseArgs would read everything after it as positionals.
const argv = process.argv.slice(2);
const { values: flags } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    'steps-tw': { type: 'string' },
    'steps-pg': { type: 'string' },
    batch: { type: 'string' },
    'input-size': { type: 'string' },
    variant: { type: 'string', default: 'W+T' },
    full: { type: 'boolean', default: false },
    'lr-tw': { type: 'string' },
    'lr-pg': { type: 'string' },
    'test-size': { type: 'string' },
    'no-pg-only': { type: 'boolean', default: false },
    'release-offsets': { type: 'boolean', default: false },
    'heatmap-scale': { type: 'string' },
    'hand-crop': { type: 'boolean', default: false },
    out: { type: 'string' },
    init: { type: 'string' },
    threads: { type: 'string' },
    'data-workers': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

/** Heatmap target scale of the default run (see the README, "Deviations"). */
const HEATMAP_DEFAULT: 'gaussian' | 'peak' = 'gaussian';

if (flags.help) {
  console.log(`Train EHPE (TW-stage, then PG-stage with the TW-stage frozen) on synthetic hands (wasm).
  --steps-tw N        stage-1 steps (default 800)
  --steps-pg N        stage-2 steps, also used for the PG-only ablation (default 500)
  --batch B           batch size (default 8; --full: 1 — the paper: 32)
  --input-size S      input size, a multiple of 32 (default 96; --full: 256); heatmaps S/4
  --variant V         the TW-stage's joints, Table 4 letters W, T, D, P, M joined by '+' (default W+T):
                      ${TABLE4_VARIANTS.map((v) => v.tw).join(', ')}
  --full              the paper's sizes: ResNet-50, 256 px, 64×64×8 volume, 2 hourglass stacks, width 512
  --lr-tw LR          stage-1 Adam learning rate (default 2e-3; paper 5e-3 on FreiHAND, release 1e-3)
  --lr-pg LR          stage-2 Adam learning rate (default 2e-3; paper 5e-4 on FreiHAND, release 1e-4)
  --test-size N       held-out samples (default 128)
  --no-pg-only        skip the PG-only ablation
  --heatmap-scale S   heatmap targets: 'gaussian' (Eq. 1's density, peak 1/(2πσ²) ≈ 0.04) or 'peak' (peak 1)
                      (default ${HEATMAP_DEFAULT})
  --hand-crop         crop each image to the hand's keypoint box ×1.25 with augmentation (the release's input)
  --release-offsets   keep init21's lateral x offsets (10, 6, 0, −6, −10 px at 256 px; default: none)
  --out DIR           output folder (default runs/ehpe/<variant>)
  --init FILE         start from PyTorch weights: a .pth/.pt checkpoint (read directly, no Python) or a
                      .safetensors file of the whole EHPE; the configuration must match (strict import)
  --threads N         threads of the wasm backend (default: every core)
  --data-workers N    worker threads rendering the training data ahead of the trainer (default 1; 0: none)`);
  process.exit(0);
}

function intFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be an integer ≥ 1, but received '${value}'.`);
  return n;
}

function numFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a number > 0, but received '${value}'.`);
  return n;
}

const variant = (flags.variant ?? 'W+T').toUpperCase();
variantJoints(variant); // validates
const base: EhpeConfig = flags.full ? MODEL_SIZES.full : MODEL_SIZES.small;
const inputSize = intFlag('input-size', flags['input-size'], base.imageSize ?? 256);
if (inputSize % 32 !== 0) throw new Error(`--input-size must be a multiple of 32, but received ${inputSize}.`);
const offsets = flags['release-offsets']
  ? (INIT21_DEFAULTS.lateralOffsets.map((o) => (o * inputSize) / 256) as [number, number, number, number, number])
  : ([0, 0, 0, 0, 0] as [number, number, number, number, number]);
const heatmapScale = (flags['heatmap-scale'] ?? HEATMAP_DEFAULT) as 'gaussian' | 'peak';
if (heatmapScale !== 'gaussian' && heatmapScale !== 'peak') {
  throw new Error(`--heatmap-scale must be 'gaussian' or 'peak', but received '${heatmapScale}'.`);
}
const config: JobConfig = {
  model: { ...base, imageSize: inputSize, heatmapSize: inputSize / 4, lateralOffsets: offsets },
  variant,
  stepsTw: intFlag('steps-tw', flags['steps-tw'], 800),
  stepsPg: intFlag('steps-pg', flags['steps-pg'], 500),
  batchSize: intFlag('batch', flags.batch, flags.full ? 1 : 8),
  lrTw: numFlag('lr-tw', flags['lr-tw'], 2e-3),
  lrPg: numFlag('lr-pg', flags['lr-pg'], 2e-3),
  depthRange: 200,
  dataSeed: 1,
  handCrop: flags['hand-crop'],
  tw: { heatmapNormalize: heatmapScale },
};
const testSize = intFlag('test-size', flags['test-size'], 128);
const out = resolve(process.env.INIT_CWD ?? process.cwd(), flags.out ?? join('runs', 'ehpe', variant));

const seconds = (t: number) => (performance.now() - t) / 1000;

async function main(): Promise<void> {
  const t0 = performance.now();
  const threads = await setThreadedWasmBackend(threadsFlag(flags.threads));
  const dataWorkers = dataWorkersFlag(flags['data-workers']);
  mkdirSync(out, { recursive: true });

  const model = buildModel(config);
  if (flags.init !== undefined) {
    const loaded = initFromCheckpoint(model, resolve(process.env.INIT_CWD ?? process.cwd(), flags.init));
    console.log(`initialised from ${flags.init}: ${loaded} tensors`);
  }
  const tw = variantJoints(variant);
  console.log(
    `EHPE: input ${inputSize}, heatmaps ${inputSize / 4}, ${flags.full ? 'ResNet-50' : 'tiny basic-block ResNet'}, ` +
      `${(model.countParams() / 1e6).toFixed(2)} M parameters; backend ${tf.getBackend()} ` +
      `(${threads} threads), data rendered by ${dataWorkers || 'no'} worker thread(s)`,
  );
  console.log(`variant ${variant}: the TW-stage predicts joints [${tw.join(', ')}], the PG-stage all 21`);
  console.log(
    `stage 1: ${config.stepsTw} steps, Adam ${config.lrTw}, ${EHPE_LOSS_WEIGHTS.heatmap}·heatmapMSE + ` +
      `${EHPE_LOSS_WEIGHTS.distance}·squaredDistance + ${RELEASE_L1_WEIGHT}·Σ|W|; ` +
      `stage 2: ${config.stepsPg} steps, Adam ${config.lrPg}, ${EHPE_LOSS_WEIGHTS.position}·squaredDistance + ` +
      `${EHPE_LOSS_WEIGHTS.edge}·edgeStability, backbone + TW-stage frozen; batch ${config.batchSize}`,
  );
  console.log(`held-out ${testSize} synthetic hands (other seed); output ${out}`);

  const test = await heldOutSet(inputSize, testSize, Math.min(16, testSize), undefined, config.handCrop ?? false);
  const layout = await meanLayout(config);

  // Stage 1: TW-stage.
  let t = performance.now();
  const r1 = await stage1Trainer(model, config).fit({
    data: trainingSource(config, dataWorkers),
    steps: config.stepsTw,
    logFile: join(out, 'log-tw.jsonl'),
  });
  const stage1Seconds = seconds(t);
  if (r1.interrupted) process.exit(130);
  console.log(
    `stage 1 done in ${stage1Seconds.toFixed(0)} s: loss ${r1.losses[0].toFixed(3)} → ${r1.losses.at(-1)!.toFixed(3)}`,
  );

  // Stage 2: PG-stage, TW-stage frozen. (The PG-only ablation copies the stage-1 backbone first.)
  const pgOnly = flags['no-pg-only'] ? null : buildPgOnly(config, model);
  t = performance.now();
  const r2 = await stage2Trainer(model, config).fit({
    data: trainingSource(config, dataWorkers),
    steps: config.stepsPg,
    logFile: join(out, 'log-pg.jsonl'),
  });
  const stage2Seconds = seconds(t);
  if (r2.interrupted) process.exit(130);
  console.log(
    `stage 2 done in ${stage2Seconds.toFixed(0)} s: loss ${r2.losses[0].toFixed(3)} → ${r2.losses.at(-1)!.toFixed(3)}`,
  );

  let pgOnlySeconds = 0;
  if (pgOnly) {
    t = performance.now();
    const r3 = await pgOnlyTrainer(pgOnly, layout, config).fit({
      data: trainingSource(config, dataWorkers),
      steps: config.stepsPg,
      logFile: join(out, 'log-pg-only.jsonl'),
    });
    pgOnlySeconds = seconds(t);
    if (r3.interrupted) process.exit(130);
    console.log(
      `PG-only done in ${pgOnlySeconds.toFixed(0)} s: loss ${r3.losses[0].toFixed(3)} → ${r3.losses.at(-1)!.toFixed(3)}`,
    );
  }

  t = performance.now();
  const e = await evaluate(model, test, config, pgOnly ? { model: pgOnly, layout } : undefined, layout);
  const tj = e.twJoints;
  console.log(
    `\nTW-stage joints, held-out: 2D error ${tj.px.toFixed(2)} px (mean hand ${tj.meanHandPx!.toFixed(2)} px), ` +
      `squared 2.5D distance ${tj.distance.toFixed(1)} (mean hand ${tj.meanHandDistance!.toFixed(1)}; heatmap px² + bins²)`,
  );
  console.log(`\nheld-out (${e.samples} hands; 3D with the ground-truth wrist depth; mm, and % of TIP):\n`);
  console.log(classTable(e));
  console.log(`\n[evaluation ${seconds(t).toFixed(1)} s]`);

  writeFileSync(
    join(out, 'class-errors.svg'),
    classRatioSvg(
      fig1Series([
        ['TW-only (init21 from the TW joints)', e.twOnly],
        ['PG-only (mean layout)', e.pgOnly],
        ['EHPE (TW → PG)', e.full],
      ]),
      'Per-joint-class error relative to TIP (EHPE Fig. 1)',
      `variant ${variant}, input ${inputSize} px, ${config.stepsTw} + ${config.stepsPg} steps, batch ${config.batchSize}, ` +
        `${e.samples} held-out synthetic hands; PA-MPJPE full ${e.full.paMpjpe.toFixed(1)} mm`,
    ),
  );
  await model.save(fileSystem(join(out, 'model')));
  writeFileSync(
    join(out, 'metrics.json'),
    `${JSON.stringify(
      {
        config,
        tipWristJoints: tw,
        seconds: { stage1: stage1Seconds, stage2: stage2Seconds, pgOnly: pgOnlySeconds, total: seconds(t0) },
        losses: { stage1: [r1.losses[0], r1.losses.at(-1)], stage2: [r2.losses[0], r2.losses.at(-1)] },
        heldOut: e,
      },
      null,
      2,
    )}\n`,
  );
  test.forEach(disposeBatch);
  layout.dispose();
  console.log(
    `wrote ${out}/{metrics.json, class-errors.svg, log-tw.jsonl, log-pg.jsonl${pgOnly ? ', log-pg-only.jsonl' : ''}, model/}; ` +
      `total ${seconds(t0).toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
