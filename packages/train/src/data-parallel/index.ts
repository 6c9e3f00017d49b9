/**
 * `@phalanx/train/data-parallel` — data-parallel training in Node worker threads, like PyTorch's DDP on
 * one machine: N replicas, each a worker thread with its own tfjs backend and an identical copy of the
 * model, each computing the gradients of its shard of every global batch; the gradients are averaged
 * across replicas each step and every replica applies the same mean with its own optimizer, so the
 * weights stay identical.
 *
 * Node only (`node:worker_threads`).
 *
 * @packageDocumentation
 */
import { Worker } from 'node:worker_threads';
import { checkInteger, checkOptions, PhalanxConfigError } from '@phalanx/errors';
import type { GradientReducer } from '../step';
export {
  averageMovingStatistics,
  checkReplicasInStep,
  ReplicaSync,
  trainableWeightsDigest,
  type ReplicaSyncOptions,
} from './replica-sync';
export { stopOnFirstSigint, type SigintStop } from './stop-on-sigint';
import {
  meanInFloat64,
  meanInReplicaOrder,
  type AverageMessage,
  type GradientsMessage,
  type GroupMessage,
  type ReplicaMessage,
  type ReplicaWorkerData,
} from './protocol';

const NAME = 'runDataParallel';

/** What each replica's training function receives. */
export interface ReplicaContext<D> {
  /** This replica's index r, 0 ≤ r < `replicas`. Replica 0 is the primary (it saves and evaluates). */
  readonly replica: number;
  /** The number of replicas N. */
  readonly replicas: number;
  /** `DataParallelOptions.data`, structured-cloned into this worker. */
  readonly data: D;
  /**
   * Pass as `TrainerConfig.reduceGradients`: each step it sends this replica's gradients to the main
   * thread and resolves to the mean over all replicas `ḡ = (1/N) Σ_r g_r` (float32, summed in replica
   * order) — weighted by the replicas' samples, `Σ_r n_r·g_r / Σ_r n_r`, when their shards differ in
   * size, so that uneven shards still give the gradient of the whole batch. Every replica must take the
   * same number of steps. It also reports the mean loss and loss parts to the trainer, whose finiteness
   * check (`onNonFinite`) judges them: a step whose loss, loss part or gradient is not finite in any
   * replica is skipped — or stops the run with `PhalanxNonFiniteError` — in every replica alike.
   */
  readonly reduceGradients: GradientReducer;
  /** The mean of the replicas' losses at the last reduced step, weighted as the gradients (NaN before the first). */
  readonly meanLoss: number;
  /**
   * True once the run's `signal` was seen aborted at a gradient exchange: set in every replica by the
   * same exchange, so all replicas stop after the same step (`ReplicaSync` calls `Trainer.stop()`
   * then; a hand-written loop checks it after each step).
   */
  readonly stopRequested: boolean;
  /**
   * The element-wise mean over the replicas of a vector every replica passes at the same point of its
   * run (same length): `(1/N) Σ_r v_r`, summed in replica order in float64, rounded to float32 once.
   * A collective call, like the gradient exchange: every replica must make it, the same number of times.
   */
  averageAcrossReplicas(values: Float32Array): Promise<Float32Array>;
  /** This replica's shard of a global batch: the items i ≡ r (mod N). */
  shard<T>(items: readonly T[]): T[];
}

/** The default export of a replica module: trains, resolves to a structured-cloneable value. */
export type ReplicaMain<D, R> = (context: ReplicaContext<D>) => Promise<R>;

/** Options of {@link runDataParallel}. */
export interface DataParallelOptions<D> {
  /**
   * The replica module (a path or file URL): an ES module whose default export is a
   * {@link ReplicaMain}. Inside the Phalanx workspace it may be TypeScript (the worker registers tsx);
   * with the built package it must be JavaScript Node can import.
   */
  module: string | URL;
  /** Replicas (worker threads), integer ≥ 1. */
  replicas: number;
  /** Data handed to every replica (structured-cloned). */
  data?: D;
  /**
   * Stops the run cleanly: once aborted, the next gradient exchange tells every replica to stop after
   * that step (`ReplicaContext.stopRequested`; with `ReplicaSync` in its callbacks, `fit` stops, and
   * replica 0 writes its interrupt checkpoint and returns `{ interrupted: true }`). The decision is
   * taken at the exchange, so all replicas stop after the same step and none waits for a reduce that
   * never comes. E.g. an `AbortController` aborted on SIGINT. Default: none.
   */
  signal?: AbortSignal;
}

/** The keys of {@link DataParallelOptions}: any other key is a named error. */
const DATA_PARALLEL_KEYS = { module: true, replicas: true, data: true, signal: true } satisfies Record<
  keyof DataParallelOptions<unknown>,
  true
>;

/**
 * Runs `options.replicas` copies of a training function in worker threads, averaging their gradients
 * each step, and resolves to their results in replica order.
 *
 * Each replica must start from the same weights — tfjs initialisers are unseeded by default, so build the
 * model once, send its weights in `data` and set them in every replica (or seed every initialiser) — and
 * builds a `Trainer` with
 * `reduceGradients: context.reduceGradients` and `callbacks: [new ReplicaSync(context, …)]`, and trains
 * on its shard `context.shard(globalBatch)`: with a loss that is a mean over samples, the mean gradient
 * (weighted by the shards' samples when they differ in size) is the gradient of the whole global batch,
 * so N replicas on shards of a batch of B follow one trainer on batches of B (up to float32 rounding),
 * on N cores. Replica 0 evaluates, logs and
 * writes the checkpoints.
 *
 * Resume: every replica restores the same checkpoint (`fit({ resume: dir })`; replica 0 also with its
 * `checkpointDir`) — weights, optimizer state, step, data position, selector noise — so the replicas
 * stay identical and continue as an uninterrupted run would.
 *
 * Batch normalisation: each replica normalises with the statistics of its own shard and keeps its own
 * moving statistics; `ReplicaSync` averages them over the replicas (see `averageMovingStatistics`)
 * before replica 0 evaluates or checkpoints and at the end, so the saved model reflects every shard.
 *
 * If a replica throws, the run rejects with an error of the same name, its message prefixed with the
 * replica (`replica 1: …`) and every worker is terminated. A replica that ends while others still wait
 * for an exchange rejects the run too (the replicas must take the same number of steps). Nothing is
 * left running when the promise settles.
 *
 * @example
 * // replica.ts: export default async function (context: ReplicaContext<{ steps: number }>) {
 * //   const trainer = new Trainer({ model: buildModel(), loss, reduceGradients: context.reduceGradients,
 * //     callbacks: [new ReplicaSync(context)], progress: context.replica === 0 ? {} : false });
 * //   const result = await trainer.fit({ data: shardedData, steps: context.data.steps, handleSigint: false });
 * //   return context.replica === 0 ? result.interrupted : null; }
 * const stop = new AbortController();
 * process.once('SIGINT', () => stop.abort());
 * const [interrupted] = await runDataParallel<{ steps: number }, boolean | null>({
 *   module: new URL('./replica.ts', import.meta.url),
 *   replicas: 2,
 *   data: { steps: 10 },
 *   signal: stop.signal,
 * });
 * if (interrupted) process.exitCode = 130;
 */
export async function runDataParallel<D, R>(options: DataParallelOptions<D>): Promise<R[]> {
  checkOptions(NAME, 'options', options, DATA_PARALLEL_KEYS, 'an object {module, replicas, data?, signal?}');
  const replicas = checkInteger(NAME, 'replicas', options.replicas, 1);
  const module = moduleUrl(options.module);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new PhalanxConfigError(NAME, 'signal', 'an AbortSignal', options.signal);
  }
  return new ReplicaGroup<R>(module, replicas, options.data, options.signal).run();
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) {
    throw new PhalanxConfigError(NAME, 'module', 'a path or file URL', module);
  }
  if (/^[a-z]+:/i.test(module)) return module;
  return new URL(module, `file://${process.cwd()}/`).href;
}

/** The worker entry beside this module (the tsx bootstrap when running from the TypeScript sources). */
function workerEntry(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './replica-worker.dev.mjs' : './data-parallel-worker.js', here);
}

/** One collective operation of a run: a gradient exchange of a step, or an `averageAcrossReplicas` round. */
interface Exchange {
  /** How errors name it. */
  label: string;
  /** Each replica's message, once it arrived. */
  arrived: (GradientsMessage | AverageMessage | undefined)[];
}

/** The workers of one run: starts them, relays the exchanges, settles once. */
class ReplicaGroup<R> {
  private readonly workers: Worker[] = [];
  private readonly results = new Map<number, R>();
  private readonly pending = new Map<string, Exchange>();
  private settled = false;
  private resolve!: (results: R[]) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly module: string,
    private readonly replicas: number,
    private readonly data: unknown,
    private readonly signal: AbortSignal | undefined,
  ) {}

  run(): Promise<R[]> {
    const done = new Promise<R[]>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    for (let r = 0; r < this.replicas; r++) {
      const setup: ReplicaWorkerData = { module: this.module, replica: r, replicas: this.replicas, data: this.data };
      const worker = new Worker(workerEntry(), { workerData: setup });
      worker.on('message', (m: ReplicaMessage) => this.onMessage(r, m));
      worker.on('error', (e) => this.fail(r, e.name, e.message, e.stack));
      worker.on('exit', (code) => {
        if (!this.results.has(r)) this.fail(r, 'Error', `worker exited with code ${code} before finishing`);
      });
      this.workers.push(worker);
    }
    return done;
  }

  private onMessage(r: number, message: ReplicaMessage): void {
    if (this.settled) return;
    if (message.kind === 'failed') this.fail(r, message.name, message.message, message.stack);
    else if (message.kind === 'done') this.finish(r, message.result as R);
    else if (message.kind === 'gradients')
      this.collect(r, `g${message.step}`, `a gradient exchange at step ${message.step + 1}`, message);
    else this.collect(r, `a${message.round}`, `averageAcrossReplicas call ${message.round + 1}`, message);
  }

  /** Records a replica's part of an exchange; when every replica's is in, answers them all. */
  private collect(r: number, key: string, label: string, message: GradientsMessage | AverageMessage): void {
    const exchange = this.pending.get(key) ?? { label, arrived: Array.from({ length: this.replicas }) };
    exchange.arrived[r] = message;
    this.pending.set(key, exchange);
    if (this.results.size > 0) return this.stalled();
    if (exchange.arrived.some((m) => m === undefined)) return;
    this.pending.delete(key);
    if (message.kind === 'gradients') this.reduce(exchange.arrived as GradientsMessage[]);
    else this.average(exchange.arrived as AverageMessage[]);
  }

  /**
   * Sends every replica the mean gradients, loss and loss parts, and the stop decision of this step. The
   * finiteness decision is taken here too: a mean is not finite when any replica's value is not (NaN and
   * ±Infinity carry through the sums), so every replica's trainer judges the same mean loss, parts and
   * gradient norm, and all of them apply, skip or stop at the step together.
   */
  private reduce(all: GradientsMessage[]): void {
    const names = [...all[0].names, '', ...all[0].parts].join('\n');
    const other = all.findIndex(
      (m) => [...m.names, '', ...m.parts].join('\n') !== names || m.values.length !== all[0].values.length,
    );
    if (other >= 0) {
      const what = 'its gradients or loss parts differ in names or sizes';
      return this.fail(other, 'PhalanxConfigError', `${NAME}: ${what} from replica 0's`);
    }
    const mean = meanInReplicaOrder(
      all.map((m) => m.values),
      all.map((m) => m.samples),
    );
    const stop = this.signal?.aborted === true;
    this.broadcast(mean, (values) => ({ kind: 'reduced', step: all[0].step, values, stop }));
  }

  private average(all: AverageMessage[]): void {
    const other = all.findIndex((m) => m.values.length !== all[0].values.length);
    if (other >= 0) {
      const sizes = `${all[other].values.length} values, replica 0 ${all[0].values.length}`;
      return this.fail(other, 'PhalanxShapeError', `${NAME}: averageAcrossReplicas got ${sizes}`);
    }
    const mean = meanInFloat64(all.map((m) => m.values));
    this.broadcast(mean, (values) => ({ kind: 'averaged', round: all[0].round, values }));
  }

  /** Posts `values` to every worker (a copy each, the last one moved). */
  private broadcast(values: Float32Array, message: (values: Float32Array) => GroupMessage): void {
    this.workers.forEach((w, k) => {
      const own = k === this.replicas - 1 ? values : values.slice();
      w.postMessage(message(own), [own.buffer as ArrayBuffer]);
    });
  }

  private finish(r: number, result: R): void {
    this.results.set(r, result);
    if (this.pending.size > 0) return this.stalled();
    if (this.results.size < this.replicas) return;
    this.settle(() => this.resolve(Array.from({ length: this.replicas }, (_, k) => this.results.get(k) as R)));
  }

  /** A replica finished while others wait for an exchange that can no longer complete. */
  private stalled(): void {
    const { label, arrived } = [...this.pending.values()][0];
    const waiting = arrived.flatMap((m, k) => (m ? [k] : []));
    const finished = [...this.results.keys()];
    this.fail(
      waiting[0],
      'PhalanxConfigError',
      `${NAME}: waits for ${label}, but replica ${finished.join(', ')} ` +
        'finished: every replica must take the same number of steps',
    );
  }

  private fail(r: number, name: string, message: string, stack?: string): void {
    const error = new Error(`replica ${r}: ${message}`);
    error.name = name;
    if (stack !== undefined) error.stack = `${name}: replica ${r}: ${message}\n(in the worker) ${stack}`;
    this.settle(() => this.reject(error));
  }

  /** Settles once: terminates every worker first, so nothing keeps the process alive. */
  private settle(how: () => void): void {
    if (this.settled) return;
    this.settled = true;
    void Promise.all(this.workers.map((w) => w.terminate())).then(how, how);
  }
}
