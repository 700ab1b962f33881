/**
 * Fault: the daemon is killed with SIGKILL during churn (no handler runs: the lock file, the socket and the job
 * record stay behind, a batch may be half-applied). `livesync start` with the same name must take the stale
 * lock over, reconcile source and target with a full pass (trusting neither), reach in-sync, 0 differences.
 * The state dir keeps the pending/failed paths written periodically, so they survive the crash too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { churn, populate } from '../helpers/churn.ts';
import { converge, sleep, status } from './helpers.ts';

const skip = rootSkipReason();
const SEED = Number(process.env['SEED'] ?? Date.now() % 100_000);

test('kill -9 during churn, restart with the same name: stale lock taken over, in-sync, 0 differences', { skip, timeout: 120_000 }, async (t) => {
  t.diagnostic(`SEED=${SEED} (set SEED to reproduce)`);
  using src = tmpfsDir('f-k9-src');
  using dst = tmpfsDir('f-k9-dst');
  using state = tmpfsDir('f-k9-state', '16m', '700');
  populate(src.path, 5_000, 50);
  const args = [src.path, dst.path, '--state-dir', state.path, '--name', 'k9'];
  {
    await using first = new Daemon(args);
    await first.waitState('in-sync', 60_000);
    // churn in slices, so batches are in flight when the kill lands
    for (let i = 0; i < 10; i++) {
      churn({ root: src.path, ops: 200, seed: SEED + i, special: true });
      await sleep(20);
    }
    await first.stop('SIGKILL');
    assert.equal(first.child.signalCode, 'SIGKILL');
  }
  assert.ok(existsSync(`${state.path}/k9.lock`), 'the dead daemon left its lock behind');
  // more changes while nothing runs: only a reconciling pass can find them
  churn({ root: src.path, ops: 500, seed: SEED + 100, special: true });
  await using second = new Daemon(args);
  await second.waitState('in-sync', 60_000);
  const s = await status(state.path, 'k9');
  assert.equal(s.pid, second.child.pid, 'the new daemon answers on the socket');
  const lock = JSON.parse(readFileSync(`${state.path}/k9.lock`, 'utf8')) as { pid: number };
  assert.equal(lock.pid, second.child.pid, 'the stale lock was taken over');
  churn({ root: src.path, ops: 500, seed: SEED + 200, special: true });
  assert.deepEqual(await converge(src.path, dst.path, 60_000), [], `differences remain (SEED=${SEED})`);
  assert.equal(await second.stop(), 0);
  assert.ok(existsSync(`${state.path}/k9.pending`), 'pending state written on stop');
});
