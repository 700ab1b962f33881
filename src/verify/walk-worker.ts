/**
 * Walk worker thread: takes its configuration (the first message), then walks the batches of directories
 * the pool (walk-pool.ts) sends and posts back one DirResult per batch. Blocking fs calls are the fast path
 * here, and each worker has its own thread, so the pool's size is the walk's parallelism. Holds no state
 * between batches besides its configuration. Before a walk, a waiting worker may read one tree ahead
 * (prefetch-walk.ts) until told to stop.
 */
import { parentPort } from 'node:worker_threads';
import { PathFilter } from './filter.ts';
import { startPrefetch } from './prefetch-walk.ts';
import { DirWalker, emptyResult } from './walk-dir.ts';
import type { FromWorker, ToWorker } from './walk-pool.ts';
import { loadScanAddon } from './scan-native.ts';

const port = parentPort;
if (port === null) throw new Error('walk-worker.ts runs only as a worker thread');

const post = (message: FromWorker): void => port.postMessage(message);
const addon = loadScanAddon();
let walker: DirWalker | null = null;
let prefetch: { stop: () => void } | null = null;

port.on('message', (message: ToWorker) => {
  if (message.type === 'prefetch') {
    // without the addon there is nothing to read ahead: done at once (the walk reports the addon)
    if (!addon.ok) post({ type: 'prefetched', scans: [], done: true });
    else prefetch = startPrefetch(message.job, (scans, done) => post({ type: 'prefetched', scans, done }));
    return;
  }
  if (message.type === 'stop-prefetch') {
    prefetch?.stop();
    prefetch = null;
    return;
  }
  if (message.type === 'config') {
    walker = new DirWalker(message.config, new PathFilter(message.config.exclude));
    return;
  }
  if (walker === null) {
    post({ type: 'failed', message: 'walk batch before the configuration' });
    return;
  }
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
