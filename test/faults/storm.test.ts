/**
 * Memory under an event storm: 1,000,000 inotify events over 100,000 distinct paths (ten rounds of utimes on
 * every file) while the daemon mirrors. The dirty set is keyed by path, so what the daemon holds is bounded by
 * the number of distinct paths, not by the number of events: its peak RSS (VmHWM) must stay within the stated
 * budget, and the copy must converge. The kernel queue is raised for the daemon's inotify instance (read at
 * inotify_init, restored right after) so the events are really delivered, not collapsed into one overflow.
 * Timing is not asserted (bench/faults.ts measures it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { differences } from '../helpers/oracle.ts';
import { flush, overrideSysctl, procKb, status } from './helpers.ts';
import { makeTree, storm, STORM_RSS_BUDGET_MB } from './storm.ts';

const skip = rootSkipReason();

test('1M events over 100k paths: peak RSS within the budget, converges', { skip, timeout: 170_000 }, async (t) => {
  using src = tmpfsDir('f-storm-src', '2g');
  using dst = tmpfsDir('f-storm-dst', '2g');
  using state = tmpfsDir('f-storm-state', '16m', '700');
  const files = makeTree(src.path, 100_000);
  const big = overrideSysctl('fs.inotify.max_queued_events', 2_000_000);
  try {
    await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'storm']);
    try {
      await d.waitFor((r) => r.event === 'watch-ready', 60_000, 'watch-ready');
    } finally {
      big.restore();
    }
    await d.waitState('in-sync', 120_000);
    const pid = d.child.pid!;
    const before = procKb(pid, 'VmHWM');
    const events = storm(files, 10, utimesSync);
    const f = await flush(state.path, 'storm', 120_000);
    assert.equal(f.code, 0, `flush after the storm: ${f.stdout}${f.stderr}`);
    const hwm = procKb(pid, 'VmHWM');
    const s = await status(state.path, 'storm');
    t.diagnostic(`${events} events over ${files.length} paths: VmHWM ${Math.round(before / 1024)} MiB before, ${Math.round(hwm / 1024)} MiB after (budget ${STORM_RSS_BUDGET_MB} MiB); overflows ${s.overflows}, changes ${s.changes}`);
    assert.ok(hwm / 1024 < STORM_RSS_BUDGET_MB, `peak RSS ${Math.round(hwm / 1024)} MiB above the ${STORM_RSS_BUDGET_MB} MiB budget`);
    assert.equal(s.pid, pid, 'same daemon');
    assert.deepEqual(differences(src.path, dst.path), [], 'converged');
    assert.equal(await d.stop(), 0);
  } finally {
    big.restore();
  }
});
