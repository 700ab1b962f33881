/**
 * The parallel tree walk: a pool of worker threads (walk-worker.ts) fed with batches of directory pairs.
 * The main thread only dispatches: it keeps the queue of directories still to walk (LIFO, so the walk stays
 * depth-first and the queue small), keeps up to BATCHES_PER_WORKER batches of at most WALK_BATCH_DIRS
 * directories queued at each worker (so a worker never waits for the main thread between two batches), and
 * hands every result to the caller as it arrives (differences, content tasks, hard-link records, counts).
 *
 * Contract: resolves once every directory reachable on both sides was walked and every worker has exited;
 * rejects on a worker failure (a bug: InternalError) or abort. Not reusable.
 */
import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors/errors.ts';
import { WALK_BATCH_DIRS } from './policy.ts';
import type { DirResult, DirTask, WalkConfig } from './walk-dir.ts';

export type ToWorker = { type: 'walk'; tasks: DirTask[] };
export type FromWorker = { type: 'done'; result: DirResult } | { type: 'failed'; message: string };

const WORKER_URL = new URL('./walk-worker.ts', import.meta.url);
/** Batches queued at one worker at most: one being walked, one waiting. */
const BATCHES_PER_WORKER = 2;

export function walkTrees(
  config: WalkConfig,
  root: DirTask,
  jobs: number,
  onResult: (result: DirResult) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const queue: DirTask[] = [root];
    const workers = Array.from({ length: Math.max(1, jobs) }, () => new Worker(WORKER_URL, { workerData: config }));
    const queued = new Map(workers.map((w) => [w, 0]));
    let busy = 0;
    let finished = false;

    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      void Promise.all(workers.map((w) => w.terminate())).then(() => (error === undefined ? resolve() : reject(error)));
    };
    const onAbort = (): void => finish(signal?.reason ?? new Error('aborted'));

    const dispatch = (): void => {
      while (queue.length > 0) {
        let worker = workers[0]!;
        for (const w of workers) if (queued.get(w)! < queued.get(worker)!) worker = w;
        if (queued.get(worker)! >= BATCHES_PER_WORKER) break;
        const n = Math.min(WALK_BATCH_DIRS, Math.max(1, Math.ceil(queue.length / (workers.length * BATCHES_PER_WORKER))));
        const tasks = queue.splice(queue.length - n, n);
        queued.set(worker, queued.get(worker)! + 1);
        busy++;
        worker.postMessage({ type: 'walk', tasks } satisfies ToWorker);
      }
      if (busy === 0 && queue.length === 0) finish();
    };

    for (const worker of workers) {
      worker.on('message', (message: FromWorker) => {
        if (finished) return;
        if (message.type === 'failed') {
          finish(new InternalError(`verify walk worker failed: ${message.message}`));
          return;
        }
        busy--;
        queued.set(worker, queued.get(worker)! - 1);
        for (const dir of message.result.subdirs) queue.push(dir);
        try {
          onResult(message.result);
        } catch (err) {
          finish(err);
          return;
        }
        dispatch();
      });
      worker.on('error', (err) => finish(err));
      worker.on('exit', (code) => finish(new InternalError(`verify walk worker exited early (code ${code})`)));
    }
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    dispatch();
  });
}
