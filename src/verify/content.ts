/**
 * Content comparison of regular-file pairs, with bounded concurrency on the main thread: the reads run on
 * libuv's thread pool (several in flight per file pair, both sides at once) and the main thread only compares
 * chunks. Tasks may be added while the walk is still running; `drain` waits for all of them.
 */
import { Buffer } from 'node:buffer';
import { compareFiles, sha256Of } from './content-io.ts';
import { fsPath, under } from './entry-io.ts';
import { CONTENT_CHUNK_BYTES } from './policy.ts';
import type { ContentTask, RawDifference } from './types.ts';

export class ContentChecker {
  #sourceRoot: string;
  #targetRoot: string;
  #queue: ContentTask[] = [];
  #free: Array<[Buffer, Buffer]> = [];
  #active = 0;
  #waiters: Array<() => void> = [];
  #onBytes: (bytes: number) => void;
  #signal: AbortSignal | undefined;
  readonly diffs: RawDifference[] = [];
  files = 0;
  bytesQueued = 0;
  bytesDone = 0;

  /** Roots are binary strings; `concurrency` file pairs are compared at once. An abort drops queued tasks. */
  constructor(sourceRoot: string, targetRoot: string, concurrency: number, onBytes: (bytes: number) => void, signal?: AbortSignal) {
    this.#sourceRoot = sourceRoot;
    this.#targetRoot = targetRoot;
    this.#onBytes = onBytes;
    this.#signal = signal;
    for (let i = 0; i < Math.max(1, concurrency); i++) {
      this.#free.push([Buffer.allocUnsafe(CONTENT_CHUNK_BYTES), Buffer.allocUnsafe(CONTENT_CHUNK_BYTES)]);
    }
  }

  add(task: ContentTask): void {
    this.files++;
    this.bytesQueued += task.size;
    this.#queue.push(task);
    this.#pump();
  }

  /** Resolves once every task added so far (and any added meanwhile) is done. */
  drain(): Promise<void> {
    if (this.#active === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #pump(): void {
    if (this.#signal?.aborted) this.#queue.length = 0;
    while (this.#free.length > 0 && this.#queue.length > 0) {
      const task = this.#queue.pop()!;
      const scratch = this.#free.pop()!;
      this.#active++;
      void this.#check(task, scratch).finally(() => {
        this.#active--;
        this.#free.push(scratch);
        this.#pump();
        if (this.#active === 0 && this.#queue.length === 0) for (const wake of this.#waiters.splice(0)) wake();
      });
    }
  }

  async #check(task: ContentTask, scratch: [Buffer, Buffer]): Promise<void> {
    const diff = await compareContent(this.#sourceRoot, this.#targetRoot, task, scratch, (n) => {
      this.bytesDone += n;
      this.#onBytes(n);
    });
    if (diff) this.diffs.push(diff);
  }
}

/** Compares one pair's bytes; a difference carries both sides' sha256 and the first differing byte. */
export async function compareContent(
  sourceRoot: string,
  targetRoot: string,
  task: ContentTask,
  scratch: [Buffer, Buffer],
  onBytes: (bytes: number) => void,
): Promise<RawDifference | undefined> {
  const source = fsPath(under(sourceRoot, task.rel));
  const target = fsPath(under(targetRoot, task.rel));
  const result = await compareFiles(source, target, scratch, onBytes);
  switch (result.state) {
    case 'same':
      return undefined;
    case 'error':
      return {
        rel: task.rel,
        kind: 'unreadable',
        source: result.side === 'source' ? result.errno : null,
        target: result.side === 'target' ? result.errno : null,
        detail: 'read',
        look: task.look,
      };
    case 'different': {
      const [a, b] = await Promise.all([sha256Of(source, scratch[0]), sha256Of(target, scratch[1])]);
      return { rel: task.rel, kind: 'content', source: a, target: b, detail: `first difference at byte ${result.offset}`, look: task.look };
    }
  }
}

