/**
 * Walk worker thread: walks the batches of directories the pool (walk-pool.ts) sends and posts back one
 * DirResult per batch. Blocking fs calls are the fast path here, and each worker has its own thread, so
 * the pool's size is the walk's parallelism. Holds no state between batches besides its configuration.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PathFilter } from './filter.ts';
import { DirWalker, emptyResult, type WalkConfig } from './walk-dir.ts';
import type { FromWorker, ToWorker } from './walk-pool.ts';
import { loadScanAddon } from './scan-native.ts';

const port = parentPort;
if (port === null) throw new Error('walk-worker.ts runs only as a worker thread');

const config = workerData as WalkConfig;
const post = (message: FromWorker): void => port.postMessage(message);
const addon = loadScanAddon();
const walker = new DirWalker(config, new PathFilter(config.exclude));

port.on('message', (message: ToWorker) => {
  if (!addon.ok) {
    post({ type: 'failed', message: `cannot load ${addon.path}: ${addon.message}` });
    return;
  }
  const out = emptyResult();
  try {
    for (const task of message.tasks) walker.walk(task, out);
    post({ type: 'done', result: out });
  } catch (err) {
    post({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
