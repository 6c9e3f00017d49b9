/**
 * Ships a finished training run as one of this package's models: copies the run's model into
 * `models/<name>/` with its training log(s) (gzipped: `log*.jsonl.gz`), `metrics.json` and curves, draws
 * the learning curve from the log, measures the model through the estimator on held-out synthetic hands (a
 * seed no run trains on), and stores the model card (depth encoding, training, evaluation) in `model.json`.
 *
 *   pnpm --filter @phalanx/pretrained ship -- --model learnable-groups --run runs/learnable-groups/latest
 *   pnpm --filter @phalanx/pretrained ship -- --model ehpe --run runs/ehpe/W+T [--eval-count 256 --eval-seed 20250]
 *
 * Relative paths resolve against the directory pnpm was started from. Fails when the weights exceed 15 MB.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { fileSystem } from '@phalanx/layers';
import {
  CARD_METADATA_KEY,
  HAND_POSE_MODELS,
  loadHandPoseEstimator,
  readModelCard,
  type DepthEncoding,
  type HandPoseModelName,
  type ModelCard,
} from '../src';
import { curveToSvg, type CurveSeries } from './curve-svg';
import { evaluateOnSyntheticHands } from './evaluate';

const MAX_WEIGHT_BYTES = 15 * 1024 * 1024;
const argv = process.argv.slice(2);
const { values: flags } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    model: { type: 'string' },
    run: { type: 'string' },
    'eval-seed': { type: 'string', default: '20250' },
    'eval-count': { type: 'string', default: '128' },
    'eval-size': { type: 'string' },
    note: { type: 'string' },
  },
});

type Json = Record<string, unknown>;
const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

/** Training facts for the card, from the run's metrics.json (whatever the example wrote). */
function trainingFacts(run: string, metrics: Json): Json {
  const config = (metrics.config ?? {}) as Json;
  return {
    run: basename(run),
    steps: metrics.steps ?? {
      tw: config.stepsTw,
      pg: config.stepsPg,
      ...(config.stepsE2e ? { e2e: config.stepsE2e } : {}),
    },
    batchSize: config.batchSize,
    ...(config.batchSizeE2e !== undefined ? { batchSizeE2e: config.batchSizeE2e } : {}),
    seconds: metrics.trainSeconds ?? metrics.seconds,
    dataSeed: config.dataSeed,
    note: flags.note,
  };
}

/** The depth encoding: the defaults of `readModelCard`, with EHPE's depth range from the run's configuration. */
async function depthOf(name: HandPoseModelName, source: string, metrics: Json): Promise<DepthEncoding> {
  const model = await tfl.loadLayersModel(fileSystem(source));
  const depth = readModelCard(name, model).depth;
  model.dispose();
  const rangeMm = ((metrics.config ?? {}) as Json).depthRange;
  return depth.unit === 'bins' && typeof rangeMm === 'number' ? { ...depth, rangeMetres: rangeMm / 1000 } : depth;
}

/** Learning curves from the run's logs: held-out 2D EPE where the log has evaluations, else the loss. */
function curves(run: string): { series: CurveSeries[]; yLabel: string } {
  const logs = readdirSync(run).filter((f) => /^log.*\.jsonl$/.test(f));
  const events = logs.map((f) => ({
    file: f,
    lines: readFileSync(join(run, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Json),
  }));
  const evalsIn = (e: (typeof events)[number]) =>
    e.lines.filter((l) => l.event === 'eval' && (l.metrics as Json)?.epe2dPx !== undefined);
  const epe = (l: Json, offset: number): [number, number] => [
    offset + Number(l.step),
    Number((l.metrics as Json).epe2dPx),
  ];
  // EHPE's stage 3 counts its steps from 0 again: drawn on from where the other stages ended.
  const main = events.filter((e) => e.file !== 'log-e2e.jsonl').flatMap(evalsIn);
  const endToEnd = events.filter((e) => e.file === 'log-e2e.jsonl').flatMap(evalsIn);
  if (main.length + endToEnd.length >= 2) {
    const offset = Math.max(0, ...main.map((l) => Number(l.step)));
    return {
      yLabel: 'held-out 2D EPE (px, model input)',
      series: [
        ...(main.length > 0 ? [{ label: 'held-out 2D EPE', points: main.map((l) => epe(l, 0)) }] : []),
        ...(endToEnd.length > 0
          ? [{ label: 'stage 3 (end to end)', points: endToEnd.map((l) => epe(l, offset)) }]
          : []),
      ],
    };
  }
  return {
    yLabel: 'training loss (mean of 10 steps)',
    series: events.map((e) => {
      const steps = e.lines.filter((l) => l.event === 'step');
      const points: [number, number][] = [];
      for (let i = 0; i + 10 <= steps.length; i += 10) {
        const window = steps.slice(i, i + 10);
        points.push([Number(window[9].step), window.reduce((a, l) => a + Number(l.loss), 0) / 10]);
      }
      return { label: e.file.replace(/\.jsonl$/, ''), points };
    }),
  };
}

async function main(): Promise<void> {
  const name = flags.model as HandPoseModelName;
  if (!HAND_POSE_MODELS.includes(name)) throw new Error(`--model must be one of ${HAND_POSE_MODELS.join(', ')}`);
  if (flags.run === undefined) throw new Error('--run <run directory> is required');
  const run = resolve(process.env.INIT_CWD ?? process.cwd(), flags.run);
  const source = join(run, 'model');
  for (const f of ['model.json', 'weights.bin']) {
    if (!existsSync(join(source, f))) throw new Error(`${join(source, f)} is missing: is ${run} a finished run?`);
  }
  const bytes = statSync(join(source, 'weights.bin')).size;
  if (bytes > MAX_WEIGHT_BYTES) throw new Error(`weights.bin is ${(bytes / 2 ** 20).toFixed(1)} MB, more than 15 MB`);
  await tf.setBackend('wasm');
  // Everything is written to a staging folder that replaces models/<name>/ only when it is complete.
  const final = fileURLToPath(new URL(`../models/${name}`, import.meta.url));
  const target = `${final}.staging`;
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const metrics = existsSync(join(run, 'metrics.json')) ? readJson(join(run, 'metrics.json')) : {};
  const modelJson = readJson(join(source, 'model.json'));
  copyFileSync(join(source, 'weights.bin'), join(target, 'weights.bin'));
  for (const f of readdirSync(run).filter((f) => /^(metrics\.json|.*\.svg)$/.test(f))) {
    copyFileSync(join(run, f), join(target, f));
  }
  // The logs gzipped: one JSON line per step makes them 4× their compressed size (read with `zcat`).
  for (const f of readdirSync(run).filter((f) => /^log.*\.jsonl$/.test(f))) {
    writeFileSync(join(target, `${f}.gz`), gzipSync(readFileSync(join(run, f)), { level: 9 }));
  }
  const card: ModelCard = {
    model: name,
    depth: await depthOf(name, source, metrics),
    training: trainingFacts(run, metrics),
  };
  const write = (c: ModelCard) =>
    writeFileSync(
      join(target, 'model.json'),
      JSON.stringify({
        ...modelJson,
        // Keep what the model already carries (EHPE's resolved configuration) beside the card.
        userDefinedMetadata: { ...(modelJson.userDefinedMetadata ?? {}), [CARD_METADATA_KEY]: c },
      }),
    );
  write(card);

  const estimator = await loadHandPoseEstimator(name, { url: pathToFileURL(target).href });
  const evaluation = await evaluateOnSyntheticHands(estimator, {
    seed: Number(flags['eval-seed']),
    count: Number(flags['eval-count']),
    imageSize: Number(flags['eval-size'] ?? estimator.inputSize),
  });
  estimator.dispose();
  const shipped = { ...card, evaluation };
  write(shipped);
  writeFileSync(join(target, 'card.json'), `${JSON.stringify(shipped, null, 2)}\n`);
  const { series, yLabel } = curves(run);
  writeFileSync(
    join(target, 'training-curve.svg'),
    curveToSvg({
      title: `${name}: ${basename(run)}`,
      xLabel: 'step',
      yLabel,
      series,
      references:
        yLabel.startsWith('held-out') && evaluation.imageSize === estimator.inputSize
          ? [
              { label: 'hand centre', value: evaluation.handCentrePx },
              { label: 'mean pose', value: evaluation.meanPosePx },
            ]
          : [],
    }),
  );
  rmSync(final, { recursive: true, force: true });
  renameSync(target, final);
  console.log(
    `shipped ${run} as models/${name}/ (${(bytes / 2 ** 20).toFixed(2)} MB of weights); held-out ${evaluation.count} ` +
      `synthetic hands at ${evaluation.imageSize} px (seed ${evaluation.seed}): 2D EPE ${evaluation.epe2dPx.toFixed(2)} px, ` +
      `hand centre ${evaluation.handCentrePx.toFixed(2)} px (×${evaluation.ratioToHandCentre.toFixed(2)}), ` +
      `mean pose ${evaluation.meanPosePx.toFixed(2)} px`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
