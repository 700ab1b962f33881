/**
 * Reading one tree ahead of a comparison, on one waiting walk worker (walk-pool.ts, prefetch-walk.ts), while
 * the caller is busy with something else: the daemon reads the target tree while it starts up, and the
 * restart comparison then only reads the source side of the directories read ahead (walkTrees targetScans).
 *
 * Why only the target, and why that is sound: nothing watches the target, so reading it a moment earlier
 * misses nothing a later read would not miss too; livesync itself writes it only once the comparison is
 * done. The source must be read after its watches are in place, as always.
 *
 * Lifecycle: `stop()` ends the read-ahead after its current chunk, hands over the directories read (by path)
 * and puts the worker back in line for the walk. Not stopped within UNCLAIMED_MS, it stops by itself and
 * forgets what it read (the comparison it was for did not come).
 */
import { realpathSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type { RelPath } from '../util/bpath.ts';
import { binaryRoot, readEntry, type XattrRead } from './entry-io.ts';
import type { PrefetchJob } from './prefetch-walk.ts';
import { loadScanAddon } from './scan-native.ts';
import { borrowWorker, returnWorker, type FromWorker, type ToWorker } from './walk-pool.ts';
import { deviceOf } from './walk-dir.ts';

export type { PrefetchJob } from './prefetch-walk.ts';

/** A read-ahead not claimed within this time is dropped. */
const UNCLAIMED_MS = 60_000;

export class TreePrefetch {
  readonly job: PrefetchJob;
  #scans = new Map<RelPath, Uint8Array>();
  #worker: Worker;
  #done: Promise<void>;
  #stopped = false;
  #failed = false;

  constructor(job: PrefetchJob) {
    this.job = job;
    this.#worker = borrowWorker();
    this.#done = new Promise((resolve) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type !== 'prefetched') return;
        for (const d of message.scans) this.#scans.set(d.rel, d.scan);
        if (message.done) end();
      };
      const end = (): void => {
        this.#worker.off('message', onMessage).off('error', failed).off('exit', failed);
        resolve();
      };
      const failed = (): void => {
        this.#failed = true; // what was read before stays good; the worker is not used again
        end();
      };
      this.#worker.on('message', onMessage).once('error', failed).once('exit', failed);
    });
    this.#worker.postMessage({ type: 'prefetch', job } satisfies ToWorker);
    setTimeout(() => void this.stop().then((scans) => scans.clear()), UNCLAIMED_MS).unref();
  }

  /** Ends the read-ahead (after its current chunk) and hands over the directories read, by path. Once. */
  async stop(): Promise<Map<RelPath, Uint8Array>> {
    if (this.#stopped) return new Map();
    this.#stopped = true;
    this.#worker.postMessage({ type: 'stop-prefetch' } satisfies ToWorker);
    await this.#done;
    if (!this.#failed) returnWorker(this.#worker);
    const scans = this.#scans;
    this.#scans = new Map();
    return scans;
  }
}

/**
 * Starts reading the tree at `given` (resolved as verifyTrees resolves its roots) ahead, with `xattrs` as the
 * later comparison will ask, up to `maxBytes` of records; null when the root cannot be read (the comparison
 * will say why).
 */
export function prefetchTree(given: string, o: { xattrs: XattrRead; exclude: readonly string[]; maxBytes: number }): TreePrefetch | null {
  let root: string;
  try {
    root = binaryRoot(realpathSync(given));
  } catch {
    return null;
  }
  if (!loadScanAddon().ok) return null;
  const read = readEntry(root, false);
  if (read.state !== 'present' || read.info.kind !== 'dir') return null;
  return new TreePrefetch({ root, xattrs: o.xattrs, exclude: [...o.exclude], device: Number(deviceOf(read.info)), maxBytes: o.maxBytes });
}
