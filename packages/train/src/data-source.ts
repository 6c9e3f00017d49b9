/**
 * Batches for `fit`: an (async) iterable, or a function that opens one at a data position, with the
 * resume rules — a function is reopened at the position to continue from, a plain iterable skips the
 * batches a resumed run already consumed.
 */
import { PhalanxConfigError } from '@phalanx/errors';

/** Where the data stands: what a data function is opened with. */
export interface DataPosition {
  /** Steps completed. */
  step: number;
  /** Batches taken from the data so far (micro-batches count one each). */
  batchesSeen: number;
}

/** A data source: an (async) iterable of batches, or a function that opens one at a given position. */
export type DataSource<B> =
  AsyncIterable<B> | Iterable<B> | ((position: DataPosition) => AsyncIterable<B> | Iterable<B>);

/**
 * Reads batches from a {@link DataSource}. A function source is opened at the current position at the
 * start and again whenever the iterable it returned ends (a new epoch) — unless a fresh iterable is
 * empty, which ends the data. A plain iterable is read once.
 *
 * @example
 * const source = ({ batchesSeen }: DataPosition) => [batchesSeen, batchesSeen + 1, batchesSeen + 2];
 * const stream = new BatchStream(source, () => ({ step: 0, batchesSeen: 0 }));
 * const batches = await stream.take(4); // up to 4 batches; fewer when the data ends
 * await stream.close();
 */
export class BatchStream<B> {
  private iterator: AsyncIterator<B> | Iterator<B> | null = null;
  private fresh = true;

  constructor(
    /** The source. */
    readonly source: DataSource<B>,
    /** The current position (read when a function source is opened). */
    private readonly position: () => DataPosition,
  ) {}

  private open(): AsyncIterator<B> | Iterator<B> {
    const src = this.source;
    const iterable = typeof src === 'function' ? src(this.position()) : src;
    const asAsync = (iterable as AsyncIterable<B>)[Symbol.asyncIterator];
    this.fresh = true;
    return asAsync ? asAsync.call(iterable) : (iterable as Iterable<B>)[Symbol.iterator]();
  }

  /**
   * For a plain iterable: reads and frees (with `dispose`) the first `count` batches, those a resumed run
   * consumed before. A function source starts at the right position by itself; nothing is skipped.
   */
  async skip(count: number, dispose: (batch: B) => void): Promise<void> {
    if (typeof this.source === 'function') return;
    this.iterator ??= this.open();
    for (let i = 0; i < count; i++) {
      const r = await this.iterator.next();
      if (r.done) break;
      dispose(r.value);
    }
  }

  /** The next batch, or `null` when the data has ended. */
  async next(): Promise<B | null> {
    this.iterator ??= this.open();
    let r = await this.iterator.next();
    if (r.done) {
      if (typeof this.source !== 'function' || this.fresh) return null;
      await this.close();
      this.iterator = this.open();
      r = await this.iterator.next();
      if (r.done) return null;
    }
    this.fresh = false;
    // null means "the data ended" to the loop: a null batch from the source must not end training silently.
    if (r.value == null) {
      throw new PhalanxConfigError('Trainer.fit', 'data', 'to yield batches, not null or undefined', r.value);
    }
    return r.value;
  }

  /** Up to `count` next batches (fewer when the data ends). */
  async take(count: number): Promise<B[]> {
    const out: B[] = [];
    while (out.length < count) {
      const b = await this.next();
      if (b === null) break;
      out.push(b);
    }
    return out;
  }

  /** Closes the current iterator (`return()`), e.g. to stop a generator. */
  async close(): Promise<void> {
    const it = this.iterator;
    this.iterator = null;
    const ret = (it as AsyncIterator<B> | null)?.return;
    if (it && ret) await ret.call(it);
  }
}
