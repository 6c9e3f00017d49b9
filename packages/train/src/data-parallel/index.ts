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
import { checkInteger, PhalanxConfigError } from '@phalanx/errors';
import type { GradientReducer } from '../step';
import { meanInReplicaOrder, type GradientsMessage, type ReplicaMessage, type ReplicaWorkerData } from './protocol';

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
   * order). Every replica must take the same number of steps.
   */
  readonly reduceGradients: GradientReducer;
  /** The mean of the replicas' losses at the last reduced step (NaN before the first). */
  readonly meanLoss: number;
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
}

/**
 * Runs `options.replicas` copies of a training function in worker threads, averaging their gradients
 * each step, and resolves to their results in replica order.
 *
 * Each replica builds the same model (same seeds) and a `Trainer` with
 * `reduceGradients: context.reduceGradients`, and trains on its shard `context.shard(globalBatch)`: with
 * a loss that is a mean over samples and equal shards, the mean gradient is the gradient of the whole
 * global batch, so N replicas with shards of B/N follow one trainer on batches of B (up to float32
 * rounding), on N cores.
 *
 * Batch normalisation is the exception: each replica normalises with the statistics of its own shard
 * and keeps its own moving statistics. Replica 0's model is the one to save and evaluate (its moving
 * statistics are those of its shards).
 *
 * If a replica throws, the run rejects with an error of the same name, its message prefixed with the
 * replica (`replica 1: …`) and every worker is terminated. A replica that ends while others still wait
 * for a gradient exchange rejects the run too (the replicas must take the same number of steps).
 * Nothing is left running when the promise settles.
 *
 * @example
 * // replica.ts: export default async function ({ reduceGradients, shard, replica }: ReplicaContext<{ steps: number }>) {
 * //   const trainer = new Trainer({ model: buildModel(), loss, reduceGradients, progress: replica === 0 ? {} : false });
 * //   ... trainer.trainStep(shardOf(globalBatch)) ...; return replica === 0 ? await save(trainer) : null; }
 * const results = await runDataParallel({ module: new URL('./replica.ts', import.meta.url), replicas: 2, data: { steps: 10 } });
 */
export async function runDataParallel<D, R>(options: DataParallelOptions<D>): Promise<R[]> {
  if (options === null || typeof options !== 'object') {
    throw new PhalanxConfigError(NAME, 'options', 'an object', options);
  }
  const replicas = checkInteger(NAME, 'replicas', options.replicas, 1);
  const module = moduleUrl(options.module);
  return new ReplicaGroup<R>(module, replicas, options.data).run();
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

/** The workers of one run: starts them, relays the gradient exchange, settles once. */
class ReplicaGroup<R> {
  private readonly workers: Worker[] = [];
  private readonly results = new Map<number, R>();
  private readonly pending = new Map<number, (GradientsMessage | undefined)[]>();
  private settled = false;
  private resolve!: (results: R[]) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly module: string,
    private readonly replicas: number,
    private readonly data: unknown,
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
    else this.collect(r, message);
  }

  private collect(r: number, message: GradientsMessage): void {
    const arrived =
      this.pending.get(message.step) ?? Array.from<GradientsMessage | undefined>({ length: this.replicas });
    arrived[r] = message;
    this.pending.set(message.step, arrived);
    if (this.results.size > 0) return this.stalled();
    if (arrived.some((m) => m === undefined)) return;
    this.pending.delete(message.step);
    const all = arrived as GradientsMessage[];
    const names = all[0].names.join('\n');
    const other = all.findIndex((m) => m.names.join('\n') !== names || m.values.length !== all[0].values.length);
    if (other >= 0) {
      return this.fail(other, 'PhalanxConfigError', `${NAME}: its gradients differ in names or sizes from replica 0's`);
    }
    const mean = meanInReplicaOrder(all.map((m) => m.values));
    this.workers.forEach((w, k) => {
      const values = k === this.replicas - 1 ? mean : mean.slice();
      w.postMessage({ kind: 'reduced', step: message.step, values }, [values.buffer as ArrayBuffer]);
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
    const [step, arrived] = [...this.pending.entries()][0];
    const waiting = arrived.flatMap((m, k) => (m ? [k] : []));
    const finished = [...this.results.keys()];
    this.fail(
      waiting[0],
      'PhalanxConfigError',
      `${NAME}: waits for a gradient exchange at step ${step + 1}, but replica ${finished.join(', ')} ` +
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
