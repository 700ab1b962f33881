/**
 * Fault: one path cannot be written on the target, then can again. As root, chmod 000 stops nothing, so the
 * TARGET copy of a file is made immutable (`chattr +i`, supported by tmpfs): rsync's rename over it fails and
 * rsync exits 23 (partial transfer). The daemon must list exactly that path in `failedPaths` with rsync's
 * error, keep syncing every other path, retry it with backoff, and sync it once `chattr -i` lifts the block
 * (a `path-recovered` log line, 0 differences), all in the same process. After 3 failed attempts the job is
 * `degraded` (flush refuses, exit 9, naming the path) until the path lands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { populate } from '../helpers/churn.ts';
import { converge, flush, statusUntil, until } from './helpers.ts';

const skip = rootSkipReason();

test('a path that fails (immutable on the target) is reported, retried, and synced once it recovers', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('f-fail-src');
  using dst = tmpfsDir('f-fail-dst');
  using state = tmpfsDir('f-fail-state', '16m', '700');
  populate(src.path, 200, 4);
  const blocked = `${dst.path}/d1/file3`;
  try {
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'fail']);
    await d.waitState('in-sync', 60_000);
    execFileSync('chattr', ['+i', blocked]);
    writeFileSync(`${src.path}/d1/file3`, 'new content that cannot land\n');
    const failing = await statusUntil(state.path, 'fail', (s) => s.failedPathCount >= 1, 30_000);
    assert.deepEqual(failing.failedPaths.map((f) => f.path), ['d1/file3'], 'exactly the blocked path is failing');
    assert.match(failing.failedPaths[0]!.error, /Operation not permitted/, 'with rsync\'s error');
    assert.ok(failing.failedPaths[0]!.attempts >= 1);
    assert.ok(d.records.some((r) => r.event === 'path-failed' && r['path'] === 'd1/file3'), 'a path-failed log line');
    // one bad path never blocks the others
    writeFileSync(`${src.path}/d1/other`, 'lands anyway\n');
    writeFileSync(`${src.path}/d0/file1`, 'rewritten\n');
    assert.ok(await until(() => existsSync(`${dst.path}/d1/other`) && readFileSync(`${dst.path}/d0/file1`, 'utf8') === 'rewritten\n', 30_000), 'other paths keep syncing');
    // it is retried with backoff: attempts grow while the block stays
    const retried = await statusUntil(state.path, 'fail', (s) => (s.failedPaths[0]?.attempts ?? 0) >= 2, 30_000);
    assert.ok((retried.failedPaths[0]?.attempts ?? 0) >= 2, `retried: ${JSON.stringify(retried.failedPaths)}`);
    // a persistent failure (3 attempts) makes the job degraded, and flush refuses with the reason (exit 9)
    const degraded = await statusUntil(state.path, 'fail', (s) => s.state === 'degraded', 30_000);
    assert.equal(degraded.state, 'degraded', `state after ${JSON.stringify(degraded.failedPaths)}`);
    assert.match(String(degraded['stateReason']), /^1 path failing after 3\+ attempts \(d1\/file3: /);
    const f = await flush(state.path, 'fail', 10_000);
    assert.equal(f.code, 9, f.stderr);
    assert.match(f.stderr, /degraded: 1 path failing after 3\+ attempts \(d1\/file3: /);
    execFileSync('chattr', ['-i', blocked]);
    const healed = await statusUntil(state.path, 'fail', (s) => s.failedPathCount === 0, 60_000);
    assert.equal(healed.failedPathCount, 0, `still failing: ${JSON.stringify(healed.failedPaths)}`);
    await d.waitFor((r) => r.event === 'path-recovered' && r['path'] === 'd1/file3', 10_000, 'path-recovered');
    assert.equal(readFileSync(blocked, 'utf8'), 'new content that cannot land\n');
    assert.deepEqual(await converge(src.path, dst.path, 30_000), []);
    assert.equal((await statusUntil(state.path, 'fail', (s) => s.state === 'in-sync', 30_000)).state, 'in-sync');
    assert.equal(await d.stop(), 0);
  } finally {
    execFileSync('chattr', ['-i', blocked], { stdio: 'ignore' });
  }
});

test('files that cannot be created in a blocked target directory are failed paths too (rsync names only its temp files)', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('f-faildir-src');
  using dst = tmpfsDir('f-faildir-dst');
  using state = tmpfsDir('f-faildir-state', '16m', '700');
  populate(src.path, 200, 4);
  const blockedDir = `${dst.path}/d2`;
  try {
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'faildir']);
    await d.waitState('in-sync', 60_000);
    execFileSync('chattr', ['+i', blockedDir]);
    // rsync reports these as `mkstemp "DST/d2/.new.XXXXXX" failed`: the temp name, not the file's own
    writeFileSync(`${src.path}/d2/new`, 'new file\n');
    writeFileSync(`${src.path}/d2/file0`, 'rewritten\n');
    const failing = await statusUntil(state.path, 'faildir', (s) => s.failedPaths.some((f) => f.path === 'd2/new') && s.failedPaths.some((f) => f.path === 'd2/file0'), 30_000);
    const paths = failing.failedPaths.map((f) => f.path).sort();
    assert.ok(paths.includes('d2/new') && paths.includes('d2/file0'), `failing: ${JSON.stringify(failing.failedPaths)}`);
    execFileSync('chattr', ['-i', blockedDir]);
    const healed = await statusUntil(state.path, 'faildir', (s) => s.failedPathCount === 0, 60_000);
    assert.equal(healed.failedPathCount, 0, `still failing: ${JSON.stringify(healed.failedPaths)}`);
    assert.deepEqual(await converge(src.path, dst.path, 30_000), []);
    assert.equal(await d.stop(), 0);
  } finally {
    execFileSync('chattr', ['-i', blockedDir], { stdio: 'ignore' });
  }
});
