/**
 * The parallel tree walk: a pool of worker threads (walk-worker.ts) fed with batches of directory pairs.
 * The main thread only dispatches: it keeps the queue of directories still to walk (LIFO, so the walk stays
 * depth-first and the queue small), keeps up to BATCHES_PER_WORKER batches of at most WALK_BATCH_DIRS
 * directories queued at each worker (so a worker never waits for the main thread between two batches), and
 * hands every result to the caller as it arrives (differences, content tasks, hard-link records, counts).
 *
 * Contract: resolves once every directory reachable on both sides was walked (the workers are told to end,
 * and end in the background); rejects on a worker failure (a bug: InternalError) or abort, once every worker
 * has exited. Not reusable.
 *
 * A worker takes tens of ms to start (a thread, a Node environment, the walk's modules): `prestartWalkers`
 * starts them ahead (the daemon does while it sets up its watches), and the next walk takes them over.
 * They hold no configuration until a walk sends it, and do not keep the process alive while waiting.
 */
import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors/errors.ts';
import { WALK_BATCH_DIRS } from './policy.ts';
import type { RelPath } from '../util/bpath.ts';
import type { PrefetchedDir, PrefetchJob } from './prefetch-walk.ts';
import type { DirResult, DirTask, WalkConfig } from './walk-dir.ts';

export type ToWorker =
  | { type: 'config'; config: WalkConfig }
  | { type: 'walk'; tasks: DirTask[] }
  | { type: 'prefetch'; job: PrefetchJob }
  | { type: 'stop-prefetch' };
export type FromWorker = { type: 'done'; result: DirResult } | { type: 'failed'; message: string } | { type: 'prefetched'; scans: PrefetchedDir[]; done: boolean };

const WORKER_URL = new URL('./walk-worker.ts', import.meta.url);
/** Batches queued at one worker at most: one being walked, one waiting. */
const BATCHES_PER_WORKER = 2;

/** Workers started ahead, waiting for the next walk, with the listener that drops one if it dies meanwhile. */
const standby = new Map<Worker, () => void>();

/** Workers started ahead and not taken over within this time are ended (the walk they were for did not come). */
const STANDBY_MS = 60_000;

/** Starts walk workers now, up to `count` waiting in all, for the next walkTrees to take over. */
export function prestartWalkers(count: number): void {
  while (standby.size < count) {
    const worker = new Worker(WORKER_URL);
    worker.unref();
    // a waiting worker that fails is simply not used: the walk starts a fresh one
    const drop = (): void => void standby.delete(worker);
    worker.once('error', drop).once('exit', drop);
    standby.set(worker, drop);
    const expire = (): void => {
      if (!standby.has(worker)) return;
      drop();
      void worker.terminate();
    };
    setTimeout(expire, STANDBY_MS).unref();
  }
}

/** A worker out of the waiting ones, or a new one (not configured; not keeping the process alive). */
export function borrowWorker(): Worker {
  for (const [waiting, drop] of standby) {
    standby.delete(waiting);
    waiting.off('error', drop).off('exit', drop);
    return waiting;
  }
  const worker = new Worker(WORKER_URL);
  worker.unref();
  return worker;
}

/** A borrowed worker waits for the next walk again (first in line). */
export function returnWorker(worker: Worker): void {
  const drop = (): void => void standby.delete(worker);
  worker.once('error', drop).once('exit', drop);
  const rest = [...standby];
  standby.clear();
  standby.set(worker, drop);
  for (const [w, d] of rest) standby.set(w, d);
}

/** A worker for a walk: one started ahead when there is one, else a new one. Configured either way. */
function takeWorker(config: WalkConfig): Worker {
  const worker = borrowWorker();
  worker.ref();
  worker.postMessage({ type: 'config', config } satisfies ToWorker);
  return worker;
}

/**
 * `targetScans`: target directories already read (prefetch.ts), by path; each goes out with its task (and
 * leaves the map), the others are read by the workers.
 */
export function walkTrees(
  config: WalkConfig,
  root: DirTask,
  jobs: number,
  onResult: (result: DirResult) => void,
  signal?: AbortSignal,
  targetScans?: Map<RelPath, Uint8Array>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const queue: DirTask[] = [root];
    const workers = Array.from({ length: Math.max(1, jobs) }, () => takeWorker(config));
    const queued = new Map(workers.map((w) => [w, 0]));
    let busy = 0;
    let finished = false;

    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      const ended = Promise.all(workers.map((w) => w.terminate()));
      // a finished walk does not wait for its idle threads to wind down (ms to tens of ms); a failed one does
      if (error === undefined) resolve();
      else void ended.then(() => reject(error));
    };
    const onAbort = (): void => finish(signal?.reason ?? new Error('aborted'));

    const dispatch = (): void => {
      while (queue.length > 0) {
        let worker = workers[0]!;
        for (const w of workers) if (queued.get(w)! < queued.get(worker)!) worker = w;
        if (queued.get(worker)! >= BATCHES_PER_WORKER) break;
        const n = Math.min(WALK_BATCH_DIRS, Math.max(1, Math.ceil(queue.length / (workers.length * BATCHES_PER_WORKER))));
        const tasks = queue.splice(queue.length - n, n);
        if (targetScans !== undefined && targetScans.size > 0) for (const t of tasks) attachScan(t, targetScans);
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
        if (message.type !== 'done') return; // a read-ahead's last word (prefetch.ts waits for it; never here)
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

function attachScan(task: DirTask, scans: Map<RelPath, Uint8Array>): void {
  const scan = task.target === null ? undefined : scans.get(task.rel);
  if (scan === undefined) return;
  scans.delete(task.rel);
  task.targetScan = scan;
}
