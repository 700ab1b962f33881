/**
 * Kernel limits, forced by lowering global sysctls (root only, inside the private namespace of `npm test`):
 * a queue overflow is reported and recovered without a restart, and ENOSPC leaves a visible unwatched list
 * that heals by itself once the limit allows. Every sysctl is saved and restored in `finally`, and held low
 * only for the few milliseconds it takes to create the watcher.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootSkipReason } from '../helpers/ns.ts';
import { InotifyWatcher } from '../../src/watch/inotify-watcher.ts';
import { inotifyUsage } from '../../src/sys/sysctl.ts';
import { Recorder, covered, ownWatchCount, tempTree, waitFor, withSysctl } from './watch-helpers.ts';

const skip = rootSkipReason();

test('queue overflow: reported, subtree "" emitted, watches re-added, watching goes on', { skip }, async () => {
  using tree = tempTree('w-overflow');
  mkdirSync(join(tree.path, 'old'));
  const watcher = new InotifyWatcher({ root: tree.path, isExcluded: () => false, excludesMatchPaths: false });
  const rec = new Recorder(watcher);
  try {
    // max_queued_events is read when the inotify instance is created: lower it only around start()
    await withSysctl('fs.inotify.max_queued_events', 64, async (restore) => {
      await watcher.start();
      restore();
    });
    const pid = process.pid;
    // synchronous burst: the loop cannot read meanwhile, so the 64-event queue overflows
    for (let i = 0; i < 500; i++) writeFileSync(join(tree.path, `f${i}`), 'x');
    mkdirSync(join(tree.path, 'born-during-overflow', 'inner'), { recursive: true });
    await watcher.settle();
    assert.equal(watcher.stats().overflows, 1);
    assert.ok(rec.problems.some((p) => p.kind === 'overflow'));
    assert.ok(rec.take().some((c) => c.kind === 'subtree' && c.path === '' && c.reason === 'overflow'));
    assert.equal(process.pid, pid);
    // the rescan attached the directory whose IN_CREATE was lost
    writeFileSync(join(tree.path, 'born-during-overflow', 'inner', 'after'), 'x');
    writeFileSync(join(tree.path, 'old', 'after'), 'x');
    await watcher.settle();
    const after = rec.take();
    assert.ok(covered(after, 'born-during-overflow/inner/after'));
    assert.ok(covered(after, 'old/after'));
    assert.equal(watcher.stats().watchedDirs, 4);
    assert.equal(ownWatchCount(), 4);
  } finally {
    await watcher.close();
  }
});

test('ENOSPC: failed dirs are listed as unwatched, emitted as subtrees, and retried until watched', { skip }, async () => {
  using tree = tempTree('w-enospc');
  const dirs = 30;
  for (let i = 0; i < dirs; i++) mkdirSync(join(tree.path, `d${String(i).padStart(2, '0')}`));
  const watcher = new InotifyWatcher({ root: tree.path, isExcluded: () => false, excludesMatchPaths: false, retryUnwatchedMs: 100 });
  const rec = new Recorder(watcher);
  try {
    // room for the root and ~10 more watches (other processes of this user count too: measured just before)
    await withSysctl('fs.inotify.max_user_watches', inotifyUsage(0).watches + 11, async (restore) => {
      await watcher.start();
      restore();
    });
    const { watchedDirs, unwatched } = watcher.stats();
    assert.ok(unwatched.length >= 1, 'some directories must be unwatched');
    assert.equal(watchedDirs + unwatched.length, dirs + 1, 'every directory is watched or listed as unwatched');
    assert.ok(unwatched.every((u) => u.errno === 'ENOSPC'));
    assert.ok(rec.problems.filter((p) => p.kind === 'watch-failed' && p.errno === 'ENOSPC').length === unwatched.length);
    const emitted = rec.of('subtree').filter((c) => c.kind === 'subtree' && c.reason === 'unwatched');
    for (const u of unwatched) assert.ok(emitted.some((c) => c.kind === 'subtree' && c.path === u.path), `no subtree for ${u.path}`);
    // limit restored: the retry timer adds the missing watches and asks for a rescan of each
    assert.ok(await waitFor(() => watcher.stats().unwatched.length === 0), 'unwatched dirs were not retried');
    const rescans = rec.of('subtree').filter((c) => c.kind === 'subtree' && c.reason === 'rescan').map((c) => (c.kind === 'subtree' ? c.path : ''));
    for (const u of unwatched) assert.ok(rescans.includes(u.path), `no rescan for ${u.path}`);
    assert.equal(watcher.stats().watchedDirs, dirs + 1);
    rec.take();
    const healed = unwatched[0]!.path;
    writeFileSync(join(tree.path, healed, 'f'), 'x');
    await watcher.settle();
    assert.deepEqual(rec.take(), [{ kind: 'change', path: `${healed}/f`, isDir: false }]);
  } finally {
    await watcher.close();
  }
});
