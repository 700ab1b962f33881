/**
 * Fault: the target fills up (ENOSPC). A 1 MiB tmpfs target receives more than it can hold: the daemon must go
 * `degraded` saying why, keep retrying (capped backoff) with a dirty set bounded by the number of distinct paths
 * (memory stays flat while changes keep coming), and recover by itself once space is freed (here the tmpfs is
 * remounted bigger, which keeps its device and root inode: the same filesystem).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { populate } from '../helpers/churn.ts';
import { converge, procKb, sleep, statusUntil } from './helpers.ts';

const skip = rootSkipReason();
/** Peak RSS allowed to the daemon while it retries against a full target (loose: a leak would blow it). */
const RSS_BUDGET_KB = 400 * 1024;

test('target full (ENOSPC): degraded, retried with bounded memory, recovers when space is freed', { skip, timeout: 120_000 }, async (t) => {
  using src = tmpfsDir('f-full-src');
  using dst = tmpfsDir('f-full-dst', '1m');
  using state = tmpfsDir('f-full-state', '16m', '700');
  populate(src.path, 100, 2);
  await using d = new Daemon([src.path, dst.path, '--state-dir', state.path, '--name', 'full']);
  await d.waitState('in-sync', 60_000);
  for (let i = 0; i < 8; i++) writeFileSync(`${src.path}/big${i}`, Buffer.alloc(256 * 1024, i + 1));
  const degraded = await statusUntil(state.path, 'full', (s) => s.state === 'degraded', 30_000);
  assert.equal(degraded.state, 'degraded', `state: ${degraded.state} (${degraded.stateReason})`);
  t.diagnostic(`degraded: ${degraded.stateReason}`);
  assert.match(String(degraded.stateReason) + JSON.stringify(degraded['lastError']), /No space left on device|ENOSPC|full/i);
  // changes keep coming while it cannot sync: the same 100 paths touched over and over (2,000 changes)
  const pid = d.child.pid!;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 100; i++) {
      const t0 = new Date(Date.now() - round * 1000);
      utimesSync(`${src.path}/d${i % 2}/file${Math.floor(i / 2)}`, t0, t0);
    }
    await sleep(50);
  }
  const still = await statusUntil(state.path, 'full', () => true);
  assert.equal(still.state, 'degraded');
  const hwm = procKb(pid, 'VmHWM');
  t.diagnostic(`daemon VmHWM while degraded: ${Math.round(hwm / 1024)} MiB`);
  assert.ok(hwm < RSS_BUDGET_KB, `peak RSS ${hwm} kB above the ${RSS_BUDGET_KB} kB budget`);
  execFileSync('mount', ['-o', 'remount,size=64m', dst.path]);
  const recovered = await statusUntil(state.path, 'full', (s) => s.state === 'in-sync', 60_000);
  assert.equal(recovered.state, 'in-sync');
  assert.deepEqual(await converge(src.path, dst.path, 30_000), []);
  assert.equal(recovered.pid, pid, 'same daemon throughout');
  assert.equal(await d.stop(), 0);
});
