/**
 * The chokidar fallback on a small real tree: add/change/unlink/addDir/unlinkDir map onto the contract,
 * excludes are honoured, and a rename is a delete + change (no pairing, as documented).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChokidarWatcher } from '../../src/watch/chokidar-watcher.ts';
import { compileExcludes } from '../../src/watch/exclude.ts';
import { Recorder, covered, tempTree, waitFor } from './watch-helpers.ts';

test('chokidar watcher: basic changes, excludes, and moves as delete + change', async () => {
  using tree = tempTree('w-chokidar');
  mkdirSync(join(tree.path, 'd'));
  mkdirSync(join(tree.path, 'skip'));
  writeFileSync(join(tree.path, 'd', 'old'), 'x');
  const ex = compileExcludes(['skip/', '*.tmp']);
  const watcher = new ChokidarWatcher({ root: tree.path, isExcluded: ex.isExcluded });
  const rec = new Recorder(watcher);
  await watcher.start();
  try {
    assert.equal(watcher.kind, 'chokidar');
    assert.equal(watcher.stats().watchedDirs, 2); // root and d
    writeFileSync(join(tree.path, 'd', 'new'), 'x');
    writeFileSync(join(tree.path, 'd', 'x.tmp'), 'x');
    writeFileSync(join(tree.path, 'skip', 'f'), 'x');
    mkdirSync(join(tree.path, 'e'));
    await waitFor(() => covered(rec.changes, 'd/new') && covered(rec.changes, 'e'));
    await watcher.settle();
    assert.ok(covered(rec.changes, 'd/new'));
    assert.ok(rec.changes.some((c) => c.kind === 'subtree' && c.path === 'e' && c.reason === 'new-dir'));
    assert.ok(!covered(rec.changes, 'd/x.tmp') && !covered(rec.changes, 'skip/f'), 'excluded');
    rec.take();
    renameSync(join(tree.path, 'd', 'old'), join(tree.path, 'd', 'renamed'));
    rmSync(join(tree.path, 'e'), { recursive: true });
    await waitFor(() => rec.changes.length >= 3);
    await watcher.settle();
    const got = rec.take();
    assert.ok(got.some((c) => c.kind === 'delete' && c.path === 'd/old' && !c.isDir));
    assert.ok(got.some((c) => c.kind === 'change' && c.path === 'd/renamed'));
    assert.ok(got.some((c) => c.kind === 'delete' && c.path === 'e' && c.isDir));
    assert.equal(watcher.stats().overflows, 0);
  } finally {
    await watcher.close();
  }
});
