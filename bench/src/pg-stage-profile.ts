/**
 * EHPE PG-stage inference on wasm (width 512, 64 tokens, as in bench/src/ehpe.ts): median ms/image at
 * B = 1 and 8 over `--runs` runs, and the kernels taking the most time in one profiled call.
 *
 * Run: `npx tsx --tsconfig packages/ehpe/tsconfig.json bench/src/pg-stage-profile.ts [--runs 15]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createPgStage } from '../../packages/ehpe/src/index';
import { useBackend } from './harness';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--runs');
  const runs = i >= 0 ? Number(args[i + 1]) : 15;
  await useBackend('wasm');
  const model = createPgStage({}, 64);
  for (const b of [1, 8]) {
    const xs = [tf.randomNormal([b, 21, 515]), tf.randomNormal([b, 64, 512])];
    const run = async () => {
      const out = model.predict(xs) as tf.Tensor[];
      await Promise.all(out.map((o) => o.data()));
      tf.dispose(out);
    };
    await run();
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await run();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, c) => a - c);
    const info = await tf.profile(run);
    const byName = new Map<string, { n: number; ms: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byName.set(k.name, e);
    }
    const top = [...byName.entries()].sort((x, y) => y[1].ms - x[1].ms).slice(0, 6);
    console.log(
      `B=${b}: median ${(ms[ms.length >> 1] / b).toFixed(1)} ms/image (min ${(ms[0] / b).toFixed(1)}), ` +
        `Tile kernels: ${byName.get('Tile')?.n ?? 0} (${(byName.get('Tile')?.ms ?? 0).toFixed(1)} ms); top: ` +
        top.map(([n, e]) => `${n}×${e.n} ${e.ms.toFixed(1)} ms`).join(', '),
    );
    tf.dispose(xs);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
