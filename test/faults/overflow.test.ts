/**
 * Fault: the kernel's inotify queue overflows (IN_Q_OVERFLOW) during churn. Forced by lowering the global
 * fs.inotify.max_queued_events to 64 while the daemon creates its inotify instance (the value is read at
 * inotify_init), restored right after. The daemon must count it (`overflows` in `status --json`), rescan, and
 * converge to an identical copy without a restart (same pid).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { churn, populate } from '../helpers/churn.ts';
import { converge, overrideSysctl, status, statusUntil } from './helpers.ts';

const skip = rootSkipReason();
const SEED = Number(process.env['SEED'] ?? Date.now() % 100_000);

test('queue overflow during churn: counted, rescanned, 0 differences, same daemon pid', { skip, timeout: 120_000 }, async (t) => {
  t.diagnostic(`SEED=${SEED} (set SEED to reproduce)`);
  using src = tmpfsDir('f-ovf-src');
  using dst = tmpfsDir('f-ovf-dst');
  using state = tmpfsDir('f-ovf-state', '16m', '700');
  populate(src.path, 2_000, 20);
  const low = overrideSysctl('fs.inotify.max_queued_events', 64);
  try {
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'ovf']);
    try {
      await d.waitFor((r) => r.event === 'watch-ready', 30_000, 'watch-ready');
    } finally {
      low.restore(); // the instance has its small queue now; nobody else should get one
    }
    await d.waitState('in-sync', 60_000);
    const pid = (await status(state.path, 'ovf')).pid;
    assert.equal(pid, d.child.pid);
    // synchronous churn: thousands of events while the 64-event queue can hold only a few
    const counts = churn({ root: src.path, ops: 3_000, seed: SEED });
    t.diagnostic(`churn: ${JSON.stringify(counts)}`);
    const s = await statusUntil(state.path, 'ovf', (x) => x.overflows >= 1, 30_000);
    assert.ok(s.overflows >= 1, `overflows in status: ${s.overflows}`);
    assert.ok(d.records.some((r) => r.event === 'overflow'), 'an overflow log line (warn)');
    // events arriving while the rescan pass runs are not lost
    churn({ root: src.path, ops: 500, seed: SEED + 2 });
    const diffs = await converge(src.path, dst.path, 60_000);
    assert.deepEqual(diffs, [], `differences remain (SEED=${SEED})`);
    // the daemon kept running: same pid, still healthy, and it still mirrors after the rescan
    const after = await statusUntil(state.path, 'ovf', (x) => x.state === 'in-sync', 30_000);
    assert.equal(after.pid, pid, 'same daemon pid');
    assert.equal(after.state, 'in-sync');
    churn({ root: src.path, ops: 300, seed: SEED + 1 });
    assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'changes after the overflow are mirrored');
    assert.equal(d.child.exitCode, null, 'daemon still running');
    assert.equal(await d.stop(), 0);
  } finally {
    low.restore();
  }
});
