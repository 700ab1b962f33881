/**
 * Fault: the target filesystem goes away while the daemon runs (the share is unmounted), leaving the bare
 * mountpoint directory on the local disk. The daemon compares the target root's device and inode with those
 * recorded at start before every batch: it must never write into the bare directory, go `degraded`, keep its
 * dirty set, and resume by itself when the SAME filesystem is back (a new, different filesystem there stays
 * refused). The test keeps the target's tmpfs alive through a bind mount elsewhere, unmounts the target, then
 * binds it back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { churn, populate } from '../helpers/churn.ts';
import { converge, countEntries, flush, sleep, statusUntil } from './helpers.ts';

const skip = rootSkipReason();
const SEED = Number(process.env['SEED'] ?? Date.now() % 100_000);

test('target unmounted mid-run: nothing written to the bare mountpoint, degraded, resumes when the same filesystem is back', { skip, timeout: 120_000 }, async (t) => {
  t.diagnostic(`SEED=${SEED} (set SEED to reproduce)`);
  using src = tmpfsDir('f-lost-src');
  using dst = tmpfsDir('f-lost-dst');
  using state = tmpfsDir('f-lost-state', '16m', '700');
  const keep = mkdtempSync(join(tmpdir(), 'livesync-f-lost-keep-'));
  populate(src.path, 1_000, 10);
  try {
    execFileSync('mount', ['--bind', dst.path, keep]);
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'lost']);
    await d.waitState('in-sync', 60_000);
    execFileSync('umount', ['-l', dst.path]);
    assert.deepEqual(readdirSync(dst.path), [], 'the bare mountpoint is empty');
    churn({ root: src.path, ops: 500, seed: SEED });
    writeFileSync(`${src.path}/written-while-away`, 'x');
    const degraded = await statusUntil(state.path, 'lost', (s) => s.state === 'degraded', 30_000);
    assert.equal(degraded.state, 'degraded');
    const realTarget = countEntries(keep);
    assert.match(degraded.stateReason ?? '', /not the filesystem recorded at start/);
    const f = await flush(state.path, 'lost', 5_000);
    assert.equal(f.code, 9, `flush refuses while degraded: ${f.stdout}${f.stderr}`);
    // several retry rounds pass; still nothing lands in the bare directory
    await sleep(3_000);
    churn({ root: src.path, ops: 200, seed: SEED + 1 });
    await sleep(1_000);
    assert.deepEqual(readdirSync(dst.path), [], 'nothing was written into the bare mountpoint');
    assert.equal((await statusUntil(state.path, 'lost', () => true)).state, 'degraded');
    assert.equal(countEntries(keep), realTarget, 'no batch ran against the real target meanwhile');
    // a different filesystem at the mountpoint is not the share: still refused
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dst.path]);
    await sleep(2_000);
    assert.deepEqual(readdirSync(dst.path), [], 'nothing written onto a different filesystem');
    assert.equal((await statusUntil(state.path, 'lost', () => true)).state, 'degraded');
    execFileSync('umount', [dst.path]);
    // the same filesystem comes back: the daemon resumes on its own
    execFileSync('mount', ['--bind', keep, dst.path]);
    const resumed = await statusUntil(state.path, 'lost', (s) => s.state === 'in-sync', 60_000);
    assert.equal(resumed.state, 'in-sync', `still ${resumed.state}: ${resumed.stateReason ?? ''}`);
    assert.deepEqual(await converge(src.path, dst.path, 30_000), [], `differences remain (SEED=${SEED})`);
    assert.equal(resumed.pid, d.child.pid, 'same daemon throughout');
    assert.equal(await d.stop(), 0);
  } finally {
    spawnSync('umount', ['-l', keep]);
    rmdirSync(keep);
  }
});
