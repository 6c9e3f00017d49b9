/**
 * `pnpm bench -- threads`: the wasm backend on 1 thread and on N threads (N = every core, or
 * `BENCH_THREADS`), with PyTorch on 1 and N threads beside them, in one run.
 *
 * Each wasm configuration runs in its own child process (`--child --threads t`, a fresh backend), and the
 * children alternate 1, N, 1, N, … (`BENCH_REPS` rounds, default 3) so that both see the same load; each
 * figure is the median over rounds of a child's median. PyTorch runs once in every round, after the two
 * children, and its figures are medians over the rounds too. PyTorch (Debian's python3-torch) runs
 * bench/scripts/torch-threads.py (conv, matMul) and, when present, bench/scripts/torch-layers.py (the
 * layers), and bench/scripts/torch-lg-inference.py when the official Learnable Groups code has been exported to
 * `LG_OFFICIAL` (default /tmp/lg-official; see that script), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
 * in that command only. CPU time (user +
 * system of every thread) is recorded beside wall time: on a shared machine it is the load-independent
 * figure for one thread. Backward passes run with `enableLeanBackprop()`, as the examples train. Writes
 * bench/results/threads.{json,md}.
 *
 * Run: `pnpm bench -- threads`, or `npx tsx bench/src/threads.ts` from the repo root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import '@tensorflow/tfjs-layers';
import {
  defaultWasmThreadsCount,
  enableLeanBackprop,
  setThreadedWasmBackend,
} from '../../packages/wasm-training/src/index';
import { machineInfo, markdownTable, time, writeResults } from './harness';
import { LG_INFERENCE, threadCases } from './threads-cases';

interface Row {
  case: string;
  /** Median wall time of one run, ms. */
  ms: number;
  /** Median CPU time of one run (every thread of the process), ms. */
  cpuMs: number;
  /** Extra figures of a case (e.g. samples/s). */
  extra?: Record<string, number>;
}

/** Median wall and CPU ms of `runs` runs after `warmup`. */
/** Median wall and CPU time of `runs` runs after one warm-up run (the harness's timer, a fixed count). */
async function measure(run: () => Promise<void>, runs: number): Promise<{ ms: number; cpuMs: number }> {
  const t = await time(run, { warmup: 1, minRuns: runs, maxRuns: runs, minTimeMs: 0 });
  return { ms: t.medianMs, cpuMs: t.medianCpuMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Child: every case on a wasm backend with `threads` threads; prints one JSON line. */
async function child(threads: number): Promise<void> {
  const actual = await setThreadedWasmBackend(threads);
  // Backward passes as the examples train: the same gradients, fewer buffers and kernels (no effect on inference).
  enableLeanBackprop();
  const rows: Row[] = [];
  for (const c of threadCases()) {
    const prepared = await c.prepare();
    const timing = await measure(prepared.run, c.runs ?? 3);
    rows.push({ case: c.name, ...timing, ...(prepared.extra ? { extra: prepared.extra() } : {}) });
    await prepared.dispose();
  }
  console.log(JSON.stringify({ threads: actual, rows }));
}

/** Node options of the children: this process's own (its TypeScript loader and any flags), else tsx. */
function childExecArgv(): string[] {
  return process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', 'tsx'];
}

function runChild(threads: number): { threads: number; rows: Row[] } {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...childExecArgv(), script, '--child', String(threads)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)), // bench/: its tsconfig maps the @phalanx packages
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`threads bench child (${threads} threads) failed:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

interface TorchRow {
  case: string;
  threads: number;
  ms: number;
  cpuMs: number;
}

/**
 * The rows of the JSON line a PyTorch script of bench/scripts/ prints last, run with `args` by the first Python
 * that has torch; `null` when the script or such a Python is missing.
 */
function runTorchScript(script: string, args: string[]): Record<string, number | string>[] | null {
  const path = fileURLToPath(new URL(`../scripts/${script}`, import.meta.url));
  if (!existsSync(path)) return null;
  const env = { ...process.env };
  // Debian's OpenBLAS runs its generic (slow) kernels with these set: unset for this command only.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, [path, ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
    if (r.status !== 0) continue;
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { rows: Record<string, number | string>[] };
    return out.rows;
  }
  return null;
}

/** Runs a PyTorch script of the conv/matMul or layer comparison; `[]` when there is no Python with torch. */
function runTorch(script: string, threads: string, extraArgs: string[] = []): TorchRow[] {
  const rows = runTorchScript(script, ['--threads', threads, ...extraArgs]) ?? [];
  return rows.map((row) =>
    'layer' in row
      ? {
          case: `${row.layer} fwd+bwd`,
          threads: Number(row.threads),
          ms: Number(row.forward_backward_ms),
          cpuMs: Number(row.forward_backward_cpu_ms ?? NaN),
        }
      : { case: String(row.case), threads: Number(row.threads), ms: Number(row.ms), cpuMs: Number(row.cpu_ms) },
  );
}

/** Where the official Learnable Groups code was exported for the PyTorch inference anchor (`LG_OFFICIAL`). */
const LG_OFFICIAL = process.env.LG_OFFICIAL ?? '/tmp/lg-official';

/**
 * PyTorch's time for the official network at 256 px (bench/scripts/torch-lg-inference.py), reported for each
 * of the `cases` (our inference rows); `[]` without the exported official code or a Python with torch.
 */
function runTorchInference(threads: string, cases: string[]): TorchRow[] {
  if (!existsSync(join(LG_OFFICIAL, 'nets'))) return [];
  const rows = runTorchScript('torch-lg-inference.py', [LG_OFFICIAL, threads]) ?? [];
  return rows.flatMap((row) =>
    cases.map((name) => ({
      case: name,
      threads: Number(row.threads),
      ms: Number(row.inference_ms),
      cpuMs: Number(row.inference_cpu_ms),
    })),
  );
}

/** Each PyTorch row (case, threads) as the median of its rounds' times. */
function medianTorchRows(rounds: TorchRow[][]): TorchRow[] {
  return (rounds[0] ?? []).map((first) => {
    const same = rounds.flatMap((rows) => rows.filter((r) => r.case === first.case && r.threads === first.threads));
    return { ...first, ms: median(same.map((r) => r.ms)), cpuMs: median(same.map((r) => r.cpuMs)) };
  });
}

/** The median over rounds of each extra figure of a case. */
function extrasOf(rounds: { rows: Row[] }[], name: string): Record<string, number> | undefined {
  const extras = rounds.map((r) => r.rows.find((row) => row.case === name)?.extra).filter((e) => e !== undefined);
  if (extras.length === 0) return undefined;
  return Object.fromEntries(Object.keys(extras[0]).map((k) => [k, median(extras.map((e) => e[k]))]));
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

async function parent(): Promise<void> {
  const n = Number(process.env.BENCH_THREADS ?? defaultWasmThreadsCount());
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const loadBefore = loadavg()[0];
  const wasm = new Map<number, { threads: number; rows: Row[] }[]>([
    [1, []],
    [n, []],
  ]);
  // PyTorch runs inside every round too, after the two wasm children, so that both see the same load (its
  // time moved by 1.6× over one day's runs when it ran once at the end); each figure is the median over rounds.
  const torchRounds: TorchRow[][] = [];
  for (let r = 0; r < reps; r++) {
    for (const t of [1, n]) {
      const result = runChild(t);
      wasm.get(t)!.push(result);
      console.log(
        `round ${r + 1}/${reps}, ${result.threads} thread(s): ${result.rows.map((x) => `${x.case} ${x.ms.toFixed(0)} ms`).join(', ')}`,
      );
    }
    const inferenceCases = wasm
      .get(1)![0]
      .rows.map((row) => row.case)
      .filter((name) => name.startsWith(LG_INFERENCE));
    // The children carry this process's title (Node's --title) so that tools watching processes see them as the bench.
    torchRounds.push([
      ...runTorch('torch-threads.py', `1,${n}`, ['--tag', process.title]),
      ...runTorch('torch-layers.py', `1,${n}`),
      ...runTorchInference(`1,${n}`, inferenceCases),
    ]);
  }
  const torch = medianTorchRows(torchRounds);
  const loadAfter = loadavg()[0];

  const of = (t: number, name: string, pick: (row: Row) => number | undefined) =>
    median(
      wasm
        .get(t)!
        .map((res) => res.rows.find((row) => row.case === name))
        .filter((row): row is Row => row !== undefined)
        .map(pick)
        .filter((x): x is number => x !== undefined),
    );
  const torchOf = (name: string, t: number, key: 'ms' | 'cpuMs') =>
    torch.find((row) => row.case === name && row.threads === t)?.[key];
  const names = wasm.get(1)![0].rows.map((row) => row.case);
  const summary = names.map((name) => {
    const w1 = of(1, name, (row) => row.ms);
    const wn = of(n, name, (row) => row.ms);
    const t1 = torchOf(name, 1, 'ms');
    const tn = torchOf(name, n, 'ms');
    const bestTorch = Math.min(t1 ?? Infinity, tn ?? Infinity);
    return {
      case: name,
      wasm1Ms: w1,
      wasm1CpuMs: of(1, name, (row) => row.cpuMs),
      wasmNMs: wn,
      speedup: w1 / wn,
      torch1Ms: t1,
      torch1CpuMs: torchOf(name, 1, 'cpuMs'),
      torchNMs: tn,
      overBestTorch: Number.isFinite(bestTorch) ? Math.min(w1, wn) / bestTorch : undefined,
      extra1: extrasOf(wasm.get(1)!, name),
      extraN: extrasOf(wasm.get(n)!, name),
    };
  });
  const table = markdownTable(
    [
      'work',
      'wasm 1 thread (ms)',
      'wasm 1 thread CPU (ms)',
      `wasm ${n} threads (ms)`,
      `speed-up 1 → ${n}`,
      'PyTorch 1 thread (ms)',
      'PyTorch 1 thread CPU (ms)',
      `PyTorch ${n} threads (ms)`,
      'faster wasm ÷ faster PyTorch',
    ],
    summary.map((s) => [
      s.case,
      fmt(s.wasm1Ms),
      fmt(s.wasm1CpuMs),
      fmt(s.wasmNMs),
      `${fmt(s.speedup, 2)}×`,
      fmt(s.torch1Ms),
      fmt(s.torch1CpuMs),
      fmt(s.torchNMs),
      s.overBestTorch === undefined ? '–' : `${fmt(s.overBestTorch, 2)}×`,
    ]),
  );
  const extraLine = (e: Record<string, number> | undefined) =>
    Object.entries(e ?? {})
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
  const extras = summary
    .filter((s) => s.extra1 || s.extraN)
    .map((s) => `- ${s.case} — 1 thread: ${extraLine(s.extra1)}; ${n} threads: ${extraLine(s.extraN)}`)
    .join('\n');
  // The issue's bound for this row is against PyTorch's N-thread time.
  const inference = summary
    .filter((s) => s.case.startsWith(LG_INFERENCE) && s.torchNMs !== undefined)
    .map(
      (s) =>
        `- ${s.case}: faster wasm ÷ PyTorch ${n} threads = ${fmt(Math.min(s.wasm1Ms, s.wasmNMs) / s.torchNMs!, 2)}×`,
    )
    .join('\n');
  const md =
    `# wasm threads\n\nMedians of ${reps} alternating rounds per configuration; load average ${loadBefore.toFixed(1)} ` +
    `before, ${loadAfter.toFixed(1)} after (${availableParallelism()} logical cores, Node ${process.version}). ` +
    `Backward passes run with \`enableLeanBackprop()\`, as the examples train.\n\n${table}\n\n${extras}\n${inference ? `\n${inference}\n` : ''}`;
  writeResults(
    'threads',
    {
      machine: { ...machineInfo(), loadBefore, loadAfter },
      threads: n,
      reps,
      summary,
      wasm: Object.fromEntries(wasm),
      torch,
      torchRounds,
    },
    md,
  );
  console.log(`\n${md}`);
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') await child(Number(argv[1]));
else await parent();
