import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateProgress, type ProgressInput } from '../../src/sync/seed-progress.ts';

const base: ProgressInput = {
  elapsedMs: 10_000,
  start: { inodesUsed: 100, countsInodes: true, bytesUsed: 1_000_000 },
  now: { inodesUsed: 5_100, countsInodes: true, bytesUsed: 51_000_000 },
  expected: 10_000,
  chunksDone: 0,
  chunksTotal: 0,
  finishedFiles: 0,
  finishedBytes: 0,
};

test('files and bytes are the growth of the target filesystem; percent of the expected entries; ETA from it', () => {
  assert.deepEqual(estimateProgress(base), { files: 5_000, bytes: 50_000_000, rate: 5_000_000, percent: 50, etaS: 10 });
});

test('without an expected count the finished lists give the percentage; with neither it is unknown', () => {
  assert.equal(estimateProgress({ ...base, expected: null, chunksDone: 2, chunksTotal: 8 }).percent, 25);
  const p = estimateProgress({ ...base, expected: null });
  assert.equal(p.percent, null);
  assert.equal(p.etaS, null);
});

test('never 100 % while running, never below what finished runs reported, never negative', () => {
  assert.equal(estimateProgress({ ...base, expected: 10 }).percent, 99);
  const shrunk = estimateProgress({ ...base, now: { inodesUsed: 50, countsInodes: true, bytesUsed: 10 }, finishedFiles: 7, finishedBytes: 70 });
  assert.equal(shrunk.files, 7);
  assert.equal(shrunk.bytes, 70);
  const noInodes = estimateProgress({ ...base, now: { ...base.now!, countsInodes: false }, finishedFiles: 3 });
  assert.equal(noInodes.files, 3, 'a filesystem without inode counts: the finished runs only');
  assert.equal(noInodes.percent, null);
  assert.equal(estimateProgress({ ...base, start: null, now: null }).files, 0);
});
