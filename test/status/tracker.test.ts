/**
 * StatusTracker: scripted event sequences (with their times) -> the snapshot a client would see. Table-driven;
 * no engine, no timers: the same sequence always gives the same snapshot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, type EventBody } from '../../src/events/event.ts';
import type { StatusSnapshot } from '../../src/status/snapshot.ts';
import { FAILED_LIST_MAX, StatusTracker } from '../../src/status/tracker.ts';

type Script = Array<[atMs: number, body: EventBody]>;

function play(script: Script, options: { at: number; historyS?: number }): StatusSnapshot {
  let now = 0;
  const bus = new EventBus(() => now);
  using tracker = new StatusTracker(bus, { now: () => now });
  for (const [at, body] of script) {
    now = at;
    bus.emit(body);
  }
  now = options.at;
  return tracker.snapshot(options.historyS === undefined ? {} : { historyS: options.historyS });
}

const job: EventBody = { type: 'job', name: 'srv-app', source: '/srv/app', target: '/mnt/share', stateDir: '/run/livesync', watcher: 'inotify', pid: 4242, version: '0.1.0' };
const queue = (pendingPaths: number, oldestChangeAt: number | null, inFlightPaths = 0): EventBody => ({ type: 'queue', pendingPaths, inFlightPaths, oldestChangeAt });
const batch = (files: number, bytes: number, lagMs = 0): EventBody => ({ type: 'batch-done', id: 1, paths: files, files, bytes, durationMs: 40, lagMs });

interface Case {
  name: string;
  script: Script;
  at: number;
  historyS?: number;
  expect: Partial<StatusSnapshot>;
}

const CASES: Case[] = [
  {
    name: 'before any event: starting, no lag',
    script: [],
    at: 5000,
    expect: { state: 'starting', lagMs: 0, pendingPaths: 0, name: '', pid: null, seed: null, heartbeatLagMs: null, lastSyncAt: null },
  },
  {
    name: 'the job event names the job and its start',
    script: [[1000, job]],
    at: 2000,
    expect: { name: 'srv-app', source: '/srv/app', target: '/mnt/share', pid: 4242, version: '0.1.0', watcher: 'inotify', startedAt: 1000 },
  },
  {
    name: 'lag is the age of the oldest unsynced change, growing between events',
    script: [[1000, job], [1200, queue(7, 1100, 3)]],
    at: 3600,
    expect: { lagMs: 2500, oldestChangeAt: 1100, pendingPaths: 7, inFlightPaths: 3 },
  },
  {
    name: 'lag drops to 0 once nothing is pending',
    script: [[1000, queue(2, 900)], [1500, queue(0, null)]],
    at: 9000,
    expect: { lagMs: 0, oldestChangeAt: null, pendingPaths: 0 },
  },
  {
    name: 'state and reason',
    script: [[1000, { type: 'state', state: 'seeding' }], [2000, { type: 'state', state: 'halted', reason: 'source root vanished' }]],
    at: 3000,
    expect: { state: 'halted', stateReason: 'source root vanished', stateSince: 2000 },
  },
  {
    name: 'batches add up; the last one is kept',
    script: [[1000, batch(3, 300, 20)], [2000, batch(2, 50, 10)], [2100, { type: 'batch-failed', id: 3, exitCode: 23, outcome: 'retry', message: 'rsync exit 23', retryInMs: 500 }]],
    at: 2500,
    expect: {
      syncedFiles: 5, syncedBytes: 350, syncedPaths: 5, batches: 2, batchFailures: 1, lastSyncAt: 2000,
      lastBatch: { files: 2, bytes: 50, paths: 2, durationMs: 40, lagMs: 10, at: 2000 },
      lastError: { event: 'batch-failed', message: 'rsync exit 23', at: 2100 },
    },
  },
  {
    name: 'a failing path is listed once with its latest error until it recovers',
    script: [
      [1000, { type: 'path-failed', path: 'a/secret', message: 'Permission denied (13)', attempts: 1 }],
      [2000, { type: 'path-failed', path: 'a/secret', message: 'Permission denied (13)', attempts: 2 }],
      [2500, { type: 'path-failed', path: 'b/\xff', message: 'No such file', attempts: 1 }],
      [3000, { type: 'path-recovered', path: 'b/\xff' }],
    ],
    at: 4000,
    expect: { failedPathCount: 1, failedPaths: [{ path: 'a/secret', error: 'Permission denied (13)', attempts: 2, since: 1000, lastAt: 2000 }] },
  },
  {
    name: 'a path with invalid UTF-8 is shown with \\x escapes',
    script: [[1000, { type: 'path-failed', path: 'dir/caf\xe9', message: 'EIO', attempts: 3 }]],
    at: 1000,
    expect: { failedPaths: [{ path: 'dir/caf\\xe9', error: 'EIO', attempts: 3, since: 1000, lastAt: 1000 }] },
  },
  {
    name: 'watches: the initial count, unwatched dirs counted once, then the watcher\'s own counts',
    script: [
      [1000, { type: 'watch-failed', path: 'x', errno: 'ENOSPC', message: 'no watches left' }],
      [1001, { type: 'watch-failed', path: 'y', errno: 'ENOSPC', message: 'no watches left' }],
      [1002, { type: 'watch-failed', path: 'x', errno: 'ENOSPC', message: 'no watches left' }],
      [1100, { type: 'watch-ready', watchedDirs: 990, durationMs: 100, watcher: 'inotify' }],
    ],
    at: 1200,
    expect: { watchedDirs: 990, unwatchedDirs: 2, unwatched: [{ path: 'y', errno: 'ENOSPC' }, { path: 'x', errno: 'ENOSPC' }] },
  },
  {
    name: 'the watches event is authoritative',
    script: [[1000, { type: 'watch-failed', path: 'x', errno: 'ENOSPC', message: '' }], [2000, { type: 'watches', watchedDirs: 1200, unwatchedDirs: 0 }]],
    at: 2000,
    expect: { watchedDirs: 1200, unwatchedDirs: 0 },
  },
  {
    name: 'overflows: the cumulative total, never going back',
    script: [[1000, { type: 'overflow', total: 1 }], [2000, { type: 'overflow', total: 3 }], [3000, { type: 'overflow', total: 2 }]],
    at: 3000,
    expect: { overflows: 3 },
  },
  {
    name: 'during the seed: its progress',
    script: [[1000, { type: 'seed-start', workers: 4 }], [2000, { type: 'seed-progress', progress: { files: 10, bytes: 5000, rate: 2500, etaS: 30, percent: 12 } }]],
    at: 2500,
    expect: { seed: { files: 10, bytes: 5000, rate: 2500, etaS: 30, percent: 12, workers: 4, startedAt: 1000 }, lastSeed: null },
  },
  {
    name: 'after the seed: no seed, its totals in lastSeed',
    script: [[1000, { type: 'seed-start', workers: 1 }], [9000, { type: 'seed-done', files: 100, bytes: 1e6, durationMs: 8000 }]],
    at: 9500,
    expect: { seed: null, lastSeed: { files: 100, bytes: 1e6, durationMs: 8000, at: 9000 } },
  },
  {
    name: 'heartbeat lag and changes absorbed',
    script: [[1000, { type: 'heartbeat', lagMs: 85 }], [1100, { type: 'changes', count: 40 }], [1200, { type: 'changes', count: 2 }]],
    at: 1300,
    expect: { heartbeatLagMs: 85, heartbeatAt: 1000, changes: 42 },
  },
  {
    name: 'errors are kept as the last error',
    script: [[1000, { type: 'error', code: 'E_SEED', message: 'seed failed' }]],
    at: 1000,
    expect: { lastError: { event: 'error', message: 'seed failed', at: 1000 } },
  },
  {
    name: 'throughput: per second over the whole seconds seen (up to a minute)',
    script: Array.from({ length: 10 }, (_, i): [number, EventBody] => [i * 1000 + 500, batch(10, 1000)]),
    at: 10_200,
    expect: { throughput: { windowS: 10, changesPerS: 0, filesPerS: 10, bytesPerS: 1000 } },
  },
  {
    name: 'lag history: the highest lag of each second, filled in between events',
    script: [[0, queue(1, 0)]],
    at: 5200,
    historyS: 10,
    expect: { lagHistory: { startAt: -4000, intervalMs: 1000, samplesMs: [null, null, null, null, 999, 1999, 2999, 3999, 4999, 5200] } },
  },
  {
    name: 'lag history keeps a peak that ended within a second',
    script: [[0, queue(1, 0)], [1500, queue(0, null)]],
    at: 3000,
    historyS: 4,
    expect: { lagHistory: { startAt: 0, intervalMs: 1000, samplesMs: [999, 1500, 0, 0] } },
  },
];

for (const c of CASES) {
  test(`tracker: ${c.name}`, () => {
    const snapshot = play(c.script, c.historyS === undefined ? { at: c.at } : { at: c.at, historyS: c.historyS });
    for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(snapshot[key as keyof StatusSnapshot], value, key);
    assert.equal(snapshot.schema, 1);
    assert.equal(snapshot.at, c.at);
    if (c.historyS === undefined) assert.equal(snapshot.lagHistory, undefined);
  });
}

test('tracker: the failed path list is capped, the count is not', () => {
  const script: Script = Array.from({ length: FAILED_LIST_MAX + 5 }, (_, i) => [i, { type: 'path-failed', path: `f${i}`, message: 'x', attempts: 1 }]);
  const snapshot = play(script, { at: 1000 });
  assert.equal(snapshot.failedPathCount, FAILED_LIST_MAX + 5);
  assert.equal(snapshot.failedPaths.length, FAILED_LIST_MAX);
  assert.equal(snapshot.failedPaths[0]?.path, 'f0');
});

test('tracker: a clock stepping back does not rewind the snapshot', () => {
  const snapshot = play([[5000, queue(1, 4000)], [3000, queue(2, 4000)]], { at: 2000 });
  assert.equal(snapshot.at, 5000);
  assert.equal(snapshot.lagMs, 1000);
  assert.equal(snapshot.pendingPaths, 2);
});

test('tracker: a long idle gap costs at most the history length', () => {
  const snapshot = play([[0, queue(1, 0)]], { at: 30 * 86_400_000, historyS: 3 });
  assert.deepEqual(snapshot.lagHistory?.samplesMs, [30 * 86_400_000 - 1001, 30 * 86_400_000 - 1, 30 * 86_400_000]);
});

test('tracker: snapshots are copies, and dispose unsubscribes', () => {
  let now = 1000;
  const bus = new EventBus(() => now);
  const tracker = new StatusTracker(bus, { now: () => now });
  bus.emit(batch(1, 1));
  const first = tracker.snapshot();
  first.lastBatch!.files = 99;
  assert.equal(tracker.snapshot().lastBatch?.files, 1);
  tracker[Symbol.dispose]();
  now = 2000;
  bus.emit(batch(1, 1));
  assert.equal(tracker.snapshot().syncedFiles, 1);
});
