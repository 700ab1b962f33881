/**
 * If livesync dies while processes are frozen, they run again: `livesync repoint` is paused inside the
 * freeze (LIVESYNC_TEST_PAUSE_IN_FREEZE_MS), killed with SIGKILL, and every writer must be untraced and
 * writing again within 2 s (the product's promise), on the old tree, without a gap.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI } from '../helpers/daemon.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { APPEND, PYTHON, Procs, WRITER, alive, ensureNative, gap, readInts, tracerOf, until } from './procs.ts';

const skip = rootSkipReason();
const RESUME_WITHIN_MS = 2000;

test('kill -9 of livesync during the freeze resumes every frozen process within 2 s', { skip }, async () => {
  ensureNative();
  using a = tmpfsDir('kill9-a', '32m');
  using b = tmpfsDir('kill9-b', '32m');
  await using procs = new Procs();
  mkdirSync(join(a.path, 'w'));
  const writers = [procs.start(join(a.path, 'w'), APPEND, ['app.log']), procs.start(join(a.path, 'w'), PYTHON, [WRITER, 'relative', 'rel.log'])];
  await until('writers started', () => readInts(join(a.path, 'w/app.log')).length > 10 && readInts(join(a.path, 'w/rel.log')).length > 10);

  const env = { ...process.env, LIVESYNC_TEST_PAUSE_IN_FREEZE_MS: '60000' };
  const paused = procs.start(a.path, CLI, ['repoint', a.path, b.path, '--skip-blockers'], { env, stderr: 'pipe' });
  let stderr = '';
  paused.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await until('livesync paused inside the freeze', () => stderr.includes('pausing'), 20_000);
  const tracers = writers.map((w) => tracerOf(w.pid!));
  assert.ok(tracers.every((t) => t > 0), `writers are frozen (tracers ${tracers.join(',')})`);
  const before = readInts(join(a.path, 'w/rel.log')).length;

  const killedAt = Date.now();
  paused.kill('SIGKILL');
  await until('every writer is released', () => writers.every((w) => tracerOf(w.pid!) === 0), RESUME_WITHIN_MS);
  await until('writers write again', () => readInts(join(a.path, 'w/rel.log')).length > before + 5, RESUME_WITHIN_MS * 2);
  assert.ok(Date.now() - killedAt < RESUME_WITHIN_MS * 2);
  await until('the helper exited', () => tracers.every((t) => !alive(t)), RESUME_WITHIN_MS);

  await procs.stopAll();
  for (const f of ['w/app.log', 'w/rel.log']) assert.equal(gap(readInts(join(a.path, f))), undefined, `${f} on A`);
  assert.deepEqual(readInts(join(b.path, 'w/rel.log')), [], 'nothing was moved to B');
});
