/**
 * Trees that change while verify runs (a live mirror): a differing path is looked at once more, and reported
 * in flight (not as a difference) when the source moved on meanwhile, when the copy caught up, or when the
 * caller's isInFlight says so. A path that still differs with a still source stays a difference.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { VerifyProgress } from '../../src/verify/types.ts';
import { copyTree, kinds, verify, workspace } from './helpers.ts';

/** Calls `action` once, when verify enters its re-check phase (before the re-check delay). */
function atRecheck(action: () => void): (p: VerifyProgress) => void {
  let done = false;
  return (p) => {
    if (p.phase === 'recheck' && !done) {
      done = true;
      action();
    }
  };
}

function staleCopy(prefix: string): ReturnType<typeof workspace> {
  const ws = workspace(prefix);
  writeFileSync(join(ws.src, 'hot'), 'v1\n');
  writeFileSync(join(ws.src, 'cold'), 'still\n');
  copyTree(ws.src, ws.dst);
  appendFileSync(join(ws.src, 'hot'), 'v2\n'); // the mirror has not copied this yet
  return ws;
}

test('the source changes between the two looks: in flight (changed), not a difference', async () => {
  using ws = staleCopy('changed');
  const report = await verify(ws.src, ws.dst, { recheckDelayMs: 50, onProgress: atRecheck(() => appendFileSync(join(ws.src, 'hot'), 'v3\n')) });
  assert.deepEqual(kinds(report), []);
  assert.equal(report.identical, true);
  assert.deepEqual(report.inFlight, [{ path: 'hot', kinds: ['size', 'mtime'], reason: 'changed' }]);
});

test('the copy catches up during the re-check delay: in flight (settled)', async () => {
  using ws = staleCopy('settled');
  const report = await verify(ws.src, ws.dst, { recheckDelayMs: 50, onProgress: atRecheck(() => copyTree(ws.src, ws.dst)) });
  assert.deepEqual(kinds(report), []);
  assert.deepEqual(report.inFlight.map((f) => [f.path, f.reason]), [['hot', 'settled']]);
});

test("the caller's isInFlight (the mirror's queue) marks a path in flight without a second look", async () => {
  using ws = staleCopy('dirty');
  const report = await verify(ws.src, ws.dst, { recheckDelayMs: false, isInFlight: (rel) => rel === 'hot' });
  assert.deepEqual(kinds(report), []);
  assert.deepEqual(report.inFlight.map((f) => [f.path, f.reason]), [['hot', 'dirty']]);
});

test('a still source with a stale copy is a difference, re-check or not', async () => {
  using ws = staleCopy('still');
  for (const recheckDelayMs of [20, false] as const) {
    const report = await verify(ws.src, ws.dst, { recheckDelayMs });
    assert.deepEqual(kinds(report), ['size hot', 'mtime hot']);
    assert.deepEqual(report.inFlight, []);
  }
});

test('a real writer process appending during verify: reported in flight, not as a difference', async () => {
  using ws = staleCopy('writer');
  const log = join(ws.src, 'hot');
  const writer = spawn(process.execPath, ['-e', `const fs = require('fs'); setInterval(() => fs.appendFileSync(process.argv[1], Date.now() + '\\n'), 5);`, log], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => writer.once('exit', resolve));
  try {
    const size0 = statSync(log).size;
    while (statSync(log).size === size0) await sleep(5); // the writer is running
    const report = await verify(ws.src, ws.dst, { recheckDelayMs: 1000, checksum: true });
    assert.deepEqual(kinds(report), []);
    assert.deepEqual(report.inFlight.map((f) => [f.path, f.reason]), [['hot', 'changed']]);
  } finally {
    writer.kill('SIGTERM');
    await exited;
  }
});

test('an aborted verify rejects with the abort reason and leaves no worker behind', async () => {
  using ws = staleCopy('abort');
  const controller = new AbortController();
  controller.abort(new Error('operator gave up'));
  await assert.rejects(verify(ws.src, ws.dst, { signal: controller.signal }), /operator gave up/);
});
