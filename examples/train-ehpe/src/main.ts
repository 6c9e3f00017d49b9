/**
 * Trains EHPE (Ma et al. 2025, "A Segmented Architecture for Enhanced Hand Pose Estimation") on
 * synthetic hands in Node on the wasm backend — stage 1 the TW-stage, stage 2 the PG-stage with the
 * TW-stage frozen, and the "PG-stage only" ablation — with held-out evaluations on the way, then
 * evaluates PA-MPJPE, MPJPE and the per-joint-class errors of the paper's Fig. 1 for the TW-only,
 * PG-only and full models on the held-out set.
 *
 *   pnpm --filter @phalanx/example-train-ehpe start                       # the short demo run (≈ 4.5 min)
 *   pnpm --filter @phalanx/example-train-ehpe start -- --preset pretrained --out runs/ehpe-long --resume
 *   pnpm --filter @phalanx/example-train-ehpe start -- --variant W+T+D    # a segmented variant of Table 4
 *   pnpm --filter @phalanx/example-train-ehpe start -- --full             # the paper's sizes (ResNet-50, 256 px)
 *
 * Writes into `runs/ehpe/<variant>` (or `--out`) under the directory pnpm was started from:
 * `config.json`, `checkpoints/<stage>/`, `log-tw.jsonl`, `log-pg.jsonl`, `log-pg-only.jsonl`,
 * `metrics.json`, `curve.svg`, `class-errors.svg`, `model/`.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { enableLeanBackprop, setThreadedWasmBackend } from '@phalanx/wasm-training';
import { disposeBatch } from '@phalanx/data';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import {
  EHPE_LOSS_WEIGHTS,
  INIT21_DEFAULTS,
  RELEASE_L1_WEIGHT,
  TABLE4_VARIANTS,
  variantJoints,
  type EhpeConfig,
} from '@phalanx/ehpe';
import { fileSystem, makeFolder } from '@phalanx/layers';
import { checkCheckpointFile } from './checkpoint';
import { classRatioSvg, fig1Series } from './figures';
import { modelSize } from './model-size';
import { FlagError, intFlag as checkedIntFlag } from './int-flag';
import { JOB_FLAGS } from './job-flags';
import { dataWorkersFlag, threadsFlag } from './threads';
import {
  buildModel,
  classTable,
  evaluate,
  LR_E2E,
  MODEL_SIZES,
  stage3View,
  SMALL_BACKBONES,
  type JobConfig,
  type SmallBackboneStride,
} from './pipeline';
import { PRESETS, type Preset, type PresetName } from './presets';
import { readStageLog, runCurveSvg, stageSummary } from './report';
import { stopOnFirstSigint } from '@phalanx/train/data-parallel';
import { trainWithReplicas } from './replicas-main';
import type { ReplicaJob } from './replicas';
import { runStages, STAGES, TEST_SEED, type RunResult, type StageName } from './run';
// `pnpm start -- --flag` passes the `--` through; parseArgs would read everything after it as positionals.
const argv = process.argv.slice(2);
const { values: flags } = readFlags(() =>
  parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: JOB_FLAGS,
    allowPositionals: false,
  }),
);

/** Heatmap target scale of the default run (see the README, "Deviations"). */
const HEATMAP_DEFAULT: 'gaussian' | 'peak' = 'gaussian';

if (flags.help) {
  console.log(`Train EHPE (TW-stage, then PG-stage with the TW-stage frozen) on synthetic hands (wasm).
  --help              this text
  --preset NAME       'demo' (default: the short run) or 'pretrained' (the long run of the shipped model);
                      every flag below overrides the preset
  --out DIR           output folder (default runs/ehpe/<variant>)
  --resume            continue the run in --out: finished stages are restored from their last checkpoint,
                      the running one continues from its newest intact checkpoint (same flags required;
                      an empty --out starts afresh)
  --steps-tw N        stage-1 steps (demo 800, pretrained ${PRESETS.pretrained.stepsTw})
  --steps-pg N        stage-2 steps, also used for the PG-only ablation (demo 500, pretrained ${PRESETS.pretrained.stepsPg})
  --batch B           batch size (demo 8, pretrained ${PRESETS.pretrained.batch}; --full: 1 — the paper: 32)
  --input-size S      input size, a multiple of 32 (default 96; --full: 256); heatmaps S/4
  --backbone-stride R the small model's backbone: 8 (default, 2 stages), 4 (1 stage: 24 × 24 features at 96 px),
                      16 (3) or 32 (4 stages, torchvision's)
  --backbone-layers L residual blocks per backbone stage, comma-separated, one per stage of --backbone-stride
                      (default ${SMALL_BACKBONES[8].layers.join(',')}; stride 4: ${SMALL_BACKBONES[4].layers.join(',')}; 16: ${SMALL_BACKBONES[16].layers.join(',')}; 32: ${SMALL_BACKBONES[32].layers.join(',')})
  --backbone-widths W channels of each backbone stage, as --backbone-layers
                      (default ${SMALL_BACKBONES[8].widths.join(',')}; stride 4: ${SMALL_BACKBONES[4].widths.join(',')}; 16: ${SMALL_BACKBONES[16].widths.join(',')}; 32: ${SMALL_BACKBONES[32].widths.join(',')})
  --hourglass-channels N  the TW-stage's hourglass channels, even (default ${MODEL_SIZES.small.hourglassChannels})
  --hourglass-stacks N    the TW-stage's hourglass stacks (default ${MODEL_SIZES.small.hourglassStacks})
  --node-dim N        the PG-stage's node width, a multiple of its ${MODEL_SIZES.small.gatHeads} attention heads (default ${MODEL_SIZES.small.nodeDim})
  --fem-layers N      the PG-stage's FEM transformer layers (default ${MODEL_SIZES.small.femLayers})
                      (these six size the small model; not with --full)
  --variant V         the TW-stage's joints, Table 4 letters W, T, D, P, M joined by '+' (default W+T):
                      ${TABLE4_VARIANTS.map((v) => v.tw).join(', ')}
  --full              the paper's sizes: ResNet-50, 256 px, 64×64×8 volume, 2 hourglass stacks, width 512
  --lr-tw LR          stage-1 peak Adam learning rate (demo 2e-3, pretrained ${PRESETS.pretrained.lrTw}; paper 5e-3 on FreiHAND, release 1e-3)
  --lr-pg LR          stage-2 peak Adam learning rate (demo 2e-3, pretrained ${PRESETS.pretrained.lrPg}; paper 5e-4 on FreiHAND, release 1e-4)
  --steps-e2e N       stage 3 (not in the paper): N steps of the stage-2 loss through the whole network, nothing
                      frozen, after stage 2 and the PG-only ablation (demo 0: none; pretrained ${PRESETS.pretrained.stepsE2e})
  --lr-e2e LR         stage-3 peak Adam learning rate (default ${LR_E2E}; pretrained ${PRESETS.pretrained.lrE2e})
  --depth-weight-e2e W  stage 3: weight w_z of Δz² in the position loss, z in depth bins, x and y in input
                      pixels (demo 1, stage 2's; pretrained ${PRESETS.pretrained.depthWeightE2e}; see the README, "Weighing the depths")
  --batch-e2e B       stage-3 batch size (default --batch; pretrained ${(PRESETS.pretrained as Preset).batchE2e ?? PRESETS.pretrained.batch})
  --warmup-e2e N      stage-3 warm-up steps (default --warmup; pretrained ${(PRESETS.pretrained as Preset).warmupE2e ?? PRESETS.pretrained.warmup})
  --replicas-e2e N    stage-3 data-parallel replicas, as --replicas; N divides the stage-3 batch (default --replicas;
                      pretrained ${(PRESETS.pretrained as Preset).replicasE2e ?? 1}). With a count of its own, stages 1 and 2 train first, then stage 3
  --warmup N          linear learning-rate warm-up of every stage (demo 0, pretrained ${PRESETS.pretrained.warmup})
  --decay KIND        'constant' or 'cosine' (to 0 at each stage's last step) (demo constant, pretrained cosine)
  --restart-every N   warm restarts: a new warm-up and decay every N steps of a stage (default none)
  --restart-peak F    peak of restart cycle k as F^k × the peak (default 1)
  --dropout P         FEM dropout (the model's 0.1; pretrained 0)
  --seed N            seed of the weight initialisation and dropout masks (default 1)
  --data-seed N       seed of the synthetic training hands of every stage (default 1; the held-out seed is refused).
                      Resuming from another run's finished stages trains only the later stages on the new hands
  --test-size N       held-out samples (default 128; seed ${TEST_SEED}, never trained on)
  --eval-every N      held-out evaluation period in steps (demo 200, pretrained ${PRESETS.pretrained.evalEvery})
  --checkpoint-every N  checkpoint period in steps (demo 200, pretrained ${PRESETS.pretrained.checkpointEvery})
  --no-pg-only        skip the PG-only ablation
  --heatmap-scale S   heatmap targets: 'gaussian' (Eq. 1's density, peak 1/(2πσ²) ≈ 0.04) or 'peak' (peak 1)
                      (default ${HEATMAP_DEFAULT})
  --scoremap-weight W stage 1: add W × the cross-entropy of the volume's 2D distribution against the
                      normalised target heatmaps (not in the paper; demo 0, pretrained ${PRESETS.pretrained.scoremapWeight ?? 0})
  --depth-marginal-weight W  stage 1: add W × the cross-entropy of the volume's depth distribution against
                      the target depth over its two neighbouring bins (not in the paper; demo 0, pretrained
                      ${PRESETS.pretrained.depthMarginalWeight})
  --hand-crop         crop each image to the hand's keypoint box ×1.25 with augmentation (the release's input)
  --release-offsets   keep init21's lateral x offsets (10, 6, 0, −6, −10 px at 256 px; default: none)
  --pg-output O       the PG-stage's head: 'absolute' (the release's: it predicts the joints) or 'residual' (a
                      correction added to the initial layout; not in the release) (demo 'absolute', pretrained
                      '${PRESETS.pretrained.pgOutput}')
  --init FILE         start from PyTorch weights: a .pth/.pt checkpoint (read directly, no Python) or a
                      .safetensors file of the whole EHPE; the configuration must match (strict import)
  --threads N         threads of the wasm backend (default: the cores left by --data-workers, at least 1)
  --data-workers N    worker threads rendering the training data ahead of the trainer (default 1; 0: none;
                      with --replicas, per replica)
  --replicas N        data-parallel replicas in worker threads, each with a 1-thread wasm backend and the rows
                      j ≡ r (mod N) of every batch; gradients averaged each step; N divides the batch
                      (demo 1, pretrained ${(PRESETS.pretrained as Preset).replicas ?? 1}).
                      Each replica's batch norms see its shard, so N is part of the run (--resume checks it).
                      Works with --resume, --init and Ctrl-C as one process does

presets: ${Object.entries(PRESETS)
    .map(([k, p]) => `${k} = ${p.describe}`)
    .join('\n         ')}`);
  process.exit(0);
}

/** A bad flag: its message alone on one line of stderr (no stack trace), exit code 2 — a usage error. */
function usage(message: string): never {
  console.error(`error: ${message.replace(/\s*\n\s*/g, ' ')}`);
  process.exit(2);
}

/** Runs a flag reader that throws named errors, reporting them as {@link usage} does. */
function readFlags<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof PhalanxConfigError) usage(`${error.name}: ${error.message}`);
    if (error instanceof FlagError) usage(error.message);
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) usage((error as Error).message);
    throw error;
  }
}

function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  return readFlags(() => checkedIntFlag(name, value, fallback, min));
}

/** `--data-seed`: any integer ≥ 0 but the held-out set's, so that no run trains on the hands it is scored on. */
function dataSeedFlag(value: string | undefined): number {
  const seed = intFlag('data-seed', value, 1, 0);
  if (seed === TEST_SEED) usage(`--data-seed must not be ${TEST_SEED}, the held-out set's seed.`);
  return seed;
}

function numFlag(name: string, value: string | undefined, fallback: number, min = 0, open = true): number {
  if (value === undefined) return fallback;
  // An empty value is not a number (`Number('')` would read it as 0).
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < min || (open && n === min)) {
    usage(`--${name} must be a number ${open ? '>' : '≥'} ${min}, but received '${value}'.`);
  }
  return n;
}

const presetName = (flags.preset ?? 'demo') as PresetName;
// Own keys only: `in` would take 'toString' (an Object method) for a preset.
if (!Object.hasOwn(PRESETS, presetName)) {
  usage(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, but received '${presetName}'.`);
}
const preset: Preset = PRESETS[presetName];
const variant = (flags.variant ?? 'W+T').toUpperCase();
readFlags(() => variantJoints(variant)); // validates
const backboneStride = intFlag('backbone-stride', flags['backbone-stride'], 8);
if (!(backboneStride in SMALL_BACKBONES)) {
  usage(`--backbone-stride must be one of ${Object.keys(SMALL_BACKBONES).join(', ')}, but received ${backboneStride}.`);
}
if (flags.full && flags['backbone-stride'] !== undefined)
  usage('--backbone-stride applies to the small model, not --full.');
const base: EhpeConfig = readFlags(() => modelSize(flags.full, backboneStride as SmallBackboneStride, flags));
const inputSize = intFlag('input-size', flags['input-size'], flags.full ? (base.imageSize ?? 256) : preset.inputSize);
if (inputSize % 32 !== 0) usage(`--input-size must be a multiple of 32, but received ${inputSize}.`);
const offsets = flags['release-offsets']
  ? (INIT21_DEFAULTS.lateralOffsets.map((o) => (o * inputSize) / 256) as [number, number, number, number, number])
  : ([0, 0, 0, 0, 0] as [number, number, number, number, number]);
const pgOutput = flags['pg-output'] ?? preset.pgOutput ?? 'absolute';
if (pgOutput !== 'absolute' && pgOutput !== 'residual') {
  usage(`--pg-output must be 'absolute' or 'residual', but received '${pgOutput}'.`);
}
const heatmapScale = (flags['heatmap-scale'] ?? HEATMAP_DEFAULT) as 'gaussian' | 'peak';
if (heatmapScale !== 'gaussian' && heatmapScale !== 'peak') {
  usage(`--heatmap-scale must be 'gaussian' or 'peak', but received '${heatmapScale}'.`);
}
const decay = flags.decay ?? preset.decay;
if (decay !== 'constant' && decay !== 'cosine') {
  usage(`--decay must be 'constant' or 'cosine', but received '${decay}'.`);
}
/** The warm-restart settings of the schedule: only those given (a one-cycle run's config has neither key). */
function restarts(): { restartEvery?: number; restartPeak?: number } {
  const every =
    flags['restart-every'] === undefined ? preset.restartEvery : intFlag('restart-every', flags['restart-every'], 0, 2);
  const peak =
    flags['restart-peak'] === undefined ? preset.restartPeak : numFlag('restart-peak', flags['restart-peak'], 1);
  return {
    ...(every !== undefined ? { restartEvery: every } : {}),
    ...(peak !== undefined ? { restartPeak: peak } : {}),
  };
}
/** The stage-1 volume terms' weights, each only when > 0 (a run without one records no key). */
function volumeTerms(): { scoremapWeight?: number; depthMarginalWeight?: number } {
  const w = numFlag('scoremap-weight', flags['scoremap-weight'], preset.scoremapWeight ?? 0, 0, false);
  const flag = flags['depth-marginal-weight'];
  const z = numFlag('depth-marginal-weight', flag, preset.depthMarginalWeight ?? 0, 0, false);
  return { ...(w > 0 ? { scoremapWeight: w } : {}), ...(z > 0 ? { depthMarginalWeight: z } : {}) };
}
/**
 * Stage 3's steps and rate, only when it runs (a run without it records neither key); its batch size and
 * warm-up only when they differ from the other stages'.
 */
function endToEnd(
  batchSize: number,
  warmup: number,
): Pick<JobConfig, 'stepsE2e' | 'lrE2e' | 'depthWeightE2e' | 'batchSizeE2e' | 'warmupE2e'> {
  const steps = intFlag('steps-e2e', flags['steps-e2e'], preset.stepsE2e ?? 0, 0);
  if (steps === 0) {
    for (const f of ['lr-e2e', 'depth-weight-e2e', 'batch-e2e', 'warmup-e2e', 'replicas-e2e'] as const) {
      if (flags[f] !== undefined) usage(`--${f} needs --steps-e2e.`);
    }
    return {};
  }
  const depthWeight = numFlag('depth-weight-e2e', flags['depth-weight-e2e'], preset.depthWeightE2e ?? 1, 0, false);
  const batchE2e = intFlag(
    'batch-e2e',
    flags['batch-e2e'],
    flags.batch === undefined ? (preset.batchE2e ?? batchSize) : batchSize,
  );
  const warmupE2e = intFlag(
    'warmup-e2e',
    flags['warmup-e2e'],
    flags.warmup === undefined ? (preset.warmupE2e ?? warmup) : warmup,
    0,
  );
  return {
    stepsE2e: steps,
    lrE2e: numFlag('lr-e2e', flags['lr-e2e'], preset.lrE2e ?? LR_E2E),
    ...(depthWeight !== 1 ? { depthWeightE2e: depthWeight } : {}),
    ...(batchE2e !== batchSize ? { batchSizeE2e: batchE2e } : {}),
    ...(warmupE2e !== warmup ? { warmupE2e } : {}),
  };
}
const dropout = flags.dropout === undefined ? preset.dropout : numFlag('dropout', flags.dropout, 0, 0, false);
if (dropout !== undefined && dropout >= 1) usage(`--dropout must be < 1, but received ${dropout}.`);
const batchSize = intFlag('batch', flags.batch, flags.full ? 1 : preset.batch);
const warmup = intFlag('warmup', flags.warmup, preset.warmup, 0);
const config: JobConfig = {
  model: {
    ...base,
    imageSize: inputSize,
    heatmapSize: inputSize / 4,
    lateralOffsets: offsets,
    // Recorded only when it differs from the release's, so that earlier runs resume unchanged.
    ...(pgOutput === 'residual' ? { pgOutput } : {}),
    ...(dropout !== undefined ? { dropout } : {}),
  },
  variant,
  stepsTw: intFlag('steps-tw', flags['steps-tw'], preset.stepsTw),
  stepsPg: intFlag('steps-pg', flags['steps-pg'], preset.stepsPg),
  ...endToEnd(batchSize, warmup),
  batchSize,
  lrTw: numFlag('lr-tw', flags['lr-tw'], preset.lrTw),
  lrPg: numFlag('lr-pg', flags['lr-pg'], preset.lrPg),
  depthRange: 200,
  dataSeed: dataSeedFlag(flags['data-seed']),
  handCrop: flags['hand-crop'],
  tw: { heatmapNormalize: heatmapScale, ...volumeTerms() },
  schedule: { warmup, decay, ...restarts() },
  seed: intFlag('seed', flags.seed, 1, 0),
};
const testSize = intFlag('test-size', flags['test-size'], 128);
const evalEvery = intFlag('eval-every', flags['eval-every'], preset.evalEvery);
const checkpointEvery = intFlag('checkpoint-every', flags['checkpoint-every'], preset.checkpointEvery);
const dataWorkers = readFlags(() => dataWorkersFlag(flags['data-workers']));
const threadCount = readFlags(() => threadsFlag(flags.threads, dataWorkers));
const cwd = process.env.INIT_CWD ?? process.cwd();
const out = resolve(cwd, flags.out ?? join('runs', 'ehpe', variant));

const seconds = (t: number) => (performance.now() - t) / 1000;

/** The small model's backbone and hourglass, for the start of the run. */
function smallDescription(): string {
  const m = config.model;
  return (
    `small basic-block ResNet (stride ${backboneStride}, blocks [${m.backbone?.layers?.join(', ')}], ` +
    `widths [${m.backbone?.widths?.join(', ')}]), hourglass ${m.hourglassChannels} channels × ${m.hourglassStacks} stack(s)`
  );
}

function describeRun(params: number, threads: number, dataWorkers: number): void {
  const tw = variantJoints(variant);
  const sched = (steps: number, s = config.schedule!): string => {
    if (s.warmup === 0 && s.decay === 'constant') return '';
    const restarts = s.restartEvery !== undefined && s.restartEvery < steps;
    const restart = restarts ? `, restarted every ${s.restartEvery} steps at ${s.restartPeak ?? 1}^k × the peak` : '';
    return ` (${s.warmup}-step warm-up, ${s.decay}${restart})`;
  };
  console.log(
    `EHPE (${presetName} preset): input ${inputSize}, heatmaps ${inputSize / 4}, ` +
      `${flags.full ? 'ResNet-50' : smallDescription()}, ${(params / 1e6).toFixed(2)} M parameters, ` +
      `dropout ${config.model.dropout ?? 0.1}, seed ${config.seed}; backend ${tf.getBackend()} ` +
      `(${threads} threads), data rendered by ${dataWorkers || 'no'} worker thread(s)`,
  );
  console.log(`variant ${variant}: the TW-stage predicts joints [${tw.join(', ')}], the PG-stage all 21`);
  console.log(
    `stage 1: ${config.stepsTw} steps, Adam ${config.lrTw}${sched(config.stepsTw)}, ${EHPE_LOSS_WEIGHTS.heatmap}·heatmapMSE + ` +
      `${EHPE_LOSS_WEIGHTS.distance}·squaredDistance + ${RELEASE_L1_WEIGHT}·Σ|W|` +
      (config.tw?.scoremapWeight ? ` + ${config.tw.scoremapWeight}·volume scoremap cross-entropy` : '') +
      (config.tw?.depthMarginalWeight ? ` + ${config.tw.depthMarginalWeight}·volume depth cross-entropy` : '') +
      '; ' +
      `stage 2: ${config.stepsPg} steps, Adam ${config.lrPg}${sched(config.stepsPg)}, ${EHPE_LOSS_WEIGHTS.position}·squaredDistance + ` +
      `${EHPE_LOSS_WEIGHTS.edge}·edgeStability, backbone + TW-stage frozen` +
      (config.stepsE2e
        ? `; stage 3: ${config.stepsE2e} steps, Adam ${config.lrE2e}${sched(config.stepsE2e, stage3View(config).schedule)}, the same loss${
            config.depthWeightE2e !== undefined ? ` with Δz² weighed ${config.depthWeightE2e}` : ''
          }, nothing frozen`
        : '') +
      `; batch ${config.batchSize}` +
      (config.batchSizeE2e !== undefined ? ` (stage 3: ${config.batchSizeE2e})` : ''),
  );
  console.log(
    `held-out ${testSize} synthetic hands (seed ${TEST_SEED}), evaluated every ${evalEvery} steps; ` +
      `checkpoints every ${checkpointEvery} steps; output ${out}`,
  );
}

/** The final evaluation, figures, model and metrics.json of a finished run. */
async function finish(r: RunResult, t0: number): Promise<void> {
  const t = performance.now();
  const pgOnly = r.pgOnly ? { model: r.pgOnly, layout: r.layout } : undefined;
  const e = await evaluate(r.model, r.test, config, pgOnly, r.layout);
  const tj = e.twJoints;
  console.log(
    `\nTW-stage joints, held-out: 2D error ${tj.px.toFixed(2)} px (mean hand ${tj.meanHandPx!.toFixed(2)} px, ` +
      `hand centre ${e.handCentre.twPx.toFixed(2)} px), squared 2.5D distance ${tj.distance.toFixed(1)} ` +
      `(mean hand ${tj.meanHandDistance!.toFixed(1)}; heatmap px² + bins²)`,
  );
  console.log(`\nheld-out (${e.samples} hands; 3D with the ground-truth wrist depth; mm, and % of TIP):\n`);
  console.log(classTable(e));
  console.log(`\n[evaluation ${seconds(t).toFixed(1)} s]`);
  const logs = Object.fromEntries(STAGES.map((s) => [s, readStageLog(out, s)])) as Record<
    StageName,
    ReturnType<typeof readStageLog>
  >;
  const subtitle =
    `variant ${variant}, input ${inputSize} px, ${config.stepsTw} + ${config.stepsPg} steps, batch ${config.batchSize}` +
    `${config.batchSizeE2e !== undefined ? ` (stage 3: ${config.batchSizeE2e})` : ''}, ` +
    `${e.samples} held-out synthetic hands`;
  writeFileSync(
    join(out, 'class-errors.svg'),
    classRatioSvg(
      fig1Series([
        ['TW-only (init21 from the TW joints)', e.twOnly],
        ['PG-only (mean layout)', e.pgOnly],
        ['EHPE (TW → PG)', e.full],
      ]),
      'Per-joint-class error relative to TIP (EHPE Fig. 1)',
      `${subtitle}; PA-MPJPE full ${e.full.paMpjpe.toFixed(1)} mm`,
    ),
  );
  writeFileSync(join(out, 'curve.svg'), runCurveSvg(logs, subtitle));
  await r.model.save(fileSystem(join(out, 'model')));
  const stages = Object.fromEntries(
    STAGES.filter((s) => (s !== 'pg-only' || r.pgOnly) && (s !== 'e2e' || (config.stepsE2e ?? 0) > 0)).map((s) => [
      s,
      stageSummary(logs[s]),
    ]),
  );
  writeFileSync(
    join(out, 'metrics.json'),
    `${JSON.stringify(
      {
        preset: presetName,
        config,
        tipWristJoints: variantJoints(variant),
        heldOut: { count: e.samples, seed: TEST_SEED, inputSize },
        baselines: {
          meanPose: {
            twEpe2dPx: tj.meanHandPx,
            epe2dPx: e.meanHand?.epe2dPx,
            paMpjpeMm: e.meanHand?.paMpjpe,
            mpjpeMm: e.meanHand?.mpjpe,
          },
          handCentre: { twEpe2dPx: e.handCentre.twPx, epe2dPx: e.handCentre.px },
        },
        stages,
        trainSeconds: Object.values(stages).reduce((a, s) => a + (s.trainSeconds as number), 0),
        secondsThisSession: seconds(t0),
        heldOutFinal: e,
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `wrote ${out}/{metrics.json, curve.svg, class-errors.svg, log-<stage>.jsonl, checkpoints/, model/}; ` +
      `this session ${seconds(t0).toFixed(0)} s`,
  );
  console.log(
    `held-out 2D EPE ${e.full.epe2dPx.toFixed(2)} px at ${inputSize} px input (TW joints ${tj.px.toFixed(2)} px); ` +
      `baselines: mean pose ${e.meanHand!.epe2dPx.toFixed(2)} px, hand centre ${e.handCentre.px.toFixed(2)} px; ` +
      `PA-MPJPE ${e.full.paMpjpe.toFixed(1)} mm (mean hand ${e.meanHand!.paMpjpe.toFixed(1)} mm)`,
  );
}

/**
 * `--replicas N`: N divides the batch size (each replica trains B/N rows of every batch); default the
 * preset's, else 1.
 */
function replicasOf(batchSize: number): number {
  const n = intFlag('replicas', flags.replicas, preset.replicas ?? 1);
  if (batchSize % n !== 0) usage(`--replicas must divide the batch size ${batchSize}, but received ${n}.`);
  return n;
}

/**
 * `--replicas-e2e N`: stage 3's replicas, dividing its batch size; default `--replicas` when that is given,
 * else the preset's, else `replicas`. Without stage 3, `replicas`.
 */
function replicasE2eOf(replicas: number): number {
  if ((config.stepsE2e ?? 0) === 0) return replicas;
  const fallback = flags.replicas === undefined ? (preset.replicasE2e ?? replicas) : replicas;
  const n = intFlag('replicas-e2e', flags['replicas-e2e'], fallback);
  const batch = stage3View(config).batchSize;
  if (batch % n !== 0) usage(`--replicas-e2e must divide stage 3's batch size ${batch}, but received ${n}.`);
  return n;
}

/** Prints the replica split of a phase of the run. */
function describeReplicas(replicas: number, batch: number, which: string): void {
  console.log(
    `training ${which} on ${replicas} data-parallel replicas (worker threads, 1 wasm thread each), ` +
      `${batch / replicas} samples of each batch of ${batch} per replica`,
  );
}

/**
 * Trains the run's stages on `replicas` data-parallel replicas until they finish or the first Ctrl-C stops
 * them all after the same step (replica 0 writes the interrupt checkpoint; a second Ctrl-C ends the
 * process at once: Node's default once the listener is gone). Resolves to the stopped stage, or null.
 */
async function trainReplicasUntilDone(job: ReplicaJob, replicas: number): Promise<StageName | null> {
  const stop = stopOnFirstSigint();
  try {
    return (await trainWithReplicas(job, replicas, { signal: stop.signal })).interruptedIn;
  } finally {
    stop.release();
  }
}

/** Ends the process with code 130 when a stage was stopped (Ctrl-C), saying how to continue. */
function exitIfInterrupted(stage: StageName | null): void {
  if (stage === null) return;
  console.log(`interrupted in stage ${stage}; continue with the same command and --resume.`);
  process.exit(130);
}

/**
 * The run's first phase: every stage on `replicas` > 1 replicas, or, when stage 3 has a replica count of its
 * own (`split`), the stages before it (on replicas or in this process). Does nothing for a run of one process
 * throughout. Resolves to whether it trained (the run folder is then open) and described the run.
 */
async function trainBeforeLastPhase(
  job: ReplicaJob,
  replicas: number,
  split: boolean,
  describe: (params: number) => void,
): Promise<{ trained: boolean; described: boolean }> {
  const phase = { ...job, ...(split ? { stopBefore: 'e2e' as const } : {}) };
  if (replicas > 1) {
    const model = await buildModel(config);
    describe(model.countParams());
    model.dispose();
    describeReplicas(replicas, config.batchSize, split ? 'the stages before stage 3' : 'every stage');
    exitIfInterrupted(await trainReplicasUntilDone(phase, replicas));
    return { trained: true, described: true };
  }
  if (!split) return { trained: false, described: false };
  const r = await runStages({ ...phase, progress: {}, log: (text) => console.log(text), onStart: describe });
  r.model.dispose();
  r.pgOnly?.dispose();
  r.layout.dispose();
  r.test.forEach(disposeBatch);
  exitIfInterrupted(r.interruptedIn);
  return { trained: true, described: true };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const replicas = replicasOf(config.batchSize);
  const replicasE2e = replicasE2eOf(replicas);
  // Stage 3 on a replica count of its own: the stages before it train first, then stage 3.
  const split = replicasE2e !== replicas;
  // Before anything runs or is written: an --init file that cannot be read or is not a checkpoint is a named
  // error, and so is a folder that cannot be made (a file, under /proc) — not a hang.
  if (flags.init !== undefined) checkCheckpointFile(resolve(cwd, flags.init));
  await makeFolder(out, 'output folder (--out)');
  // One wasm thread per core left by the data workers: on a quiet 2-core machine 1 and 2 threads run the demo
  // alike (4 min 14 s, 4 min 12 s), beside another job 1 thread is 1.8× faster (286 against 508 ms a step).
  const threads = await setThreadedWasmBackend(threadCount);
  // The same gradients with less memory held, and no gradient of the image: stage 1 ran at 2.6–2.9 steps/s
  // without it and 3.6–5.1 with it (--threads 1, 100 steps, alternating, beside another job).
  enableLeanBackprop();
  const job: ReplicaJob = {
    config,
    out,
    preset: presetName,
    resume: flags.resume,
    pgOnly: !flags['no-pg-only'],
    testSize,
    evalEvery,
    checkpointEvery,
    dataWorkers,
    replicas,
    ...(split ? { replicasE2e } : {}),
    init: flags.init === undefined ? undefined : { path: resolve(cwd, flags.init), name: flags.init },
  };
  const describe = (params: number) => describeRun(params, threads, dataWorkers);
  const first = await trainBeforeLastPhase(job, replicas, split, describe);
  if (split && replicasE2e > 1) {
    describeReplicas(replicasE2e, stage3View(config).batchSize, 'stage 3');
    exitIfInterrupted(await trainReplicasUntilDone({ ...job, resume: true }, replicasE2e));
  }
  // One process trains what is left here (every stage, or stage 3 on one process); stages trained above are
  // finished and restored from their last checkpoint.
  const r = await runStages({
    ...job,
    resume: job.resume || first.trained,
    progress: {},
    log: (text) => console.log(text),
    onStart: (params) => (first.described ? undefined : describe(params)),
  });
  exitIfInterrupted(r.interruptedIn);
  await finish(r, t0);
  r.test.forEach(disposeBatch);
  r.layout.dispose();
}

main().catch((error: unknown) => {
  // A refused resume or a bad flag is a named error: its message says it all.
  // By name too: a replica's error reaches this thread as an Error named after its class.
  const named =
    error instanceof PhalanxConfigError ||
    error instanceof PhalanxFileError ||
    (error instanceof Error && /^Phalanx\w*Error$/.test(error.name));
  console.error(named ? `${error.name}: ${error.message}` : error);
  process.exit(1);
});
