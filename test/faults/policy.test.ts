/**
 * The pure decisions behind the fault handling, row by row (no root needed): the watch-limit and
 * instance-limit tables (src/watch/limits.ts), the directory count of the preflight, and the mapping of rsync's
 * temp-file names in error lines back to the paths of a batch (src/sync/rsync-errors.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countWatchedDirs, decideInstances, decideWatches, MIN_INSTANCES } from '../../src/watch/limits.ts';
import { failedPaths, onlyVanished } from '../../src/sync/rsync-errors.ts';

test('watch limit policy: ok with room to double, else raise (allowed), warn (fits), refuse (does not fit)', () => {
  assert.deepEqual(decideWatches(1_000, 10_000, 500, false), { kind: 'ok' });
  assert.deepEqual(decideWatches(1_000, 2_500, 500, true), { kind: 'ok' }, 'exactly room for twice the tree');
  assert.deepEqual(decideWatches(1_000, 2_000, 500, true), { kind: 'raise', sysctl: 'fs.inotify.max_user_watches', from: 2_000, to: 2_500 });
  assert.deepEqual(decideWatches(1_000, 2_000, 500, false), { kind: 'warn', sysctl: 'fs.inotify.max_user_watches', from: 2_000, to: 2_500 });
  assert.deepEqual(decideWatches(1_000, 1_200, 500, false), { kind: 'refuse', sysctl: 'fs.inotify.max_user_watches', from: 1_200, to: 2_500 });
  assert.deepEqual(decideWatches(5, 1_000_000, 999_999, false).kind, 'refuse', 'other programs hold the room');
});

test('instance limit policy: ok when one can be created, else raise (allowed) or refuse', () => {
  assert.deepEqual(decideInstances(true, 8, false), { kind: 'ok' });
  assert.deepEqual(decideInstances(false, 8, true), { kind: 'raise', sysctl: 'fs.inotify.max_user_instances', from: 8, to: MIN_INSTANCES });
  assert.deepEqual(decideInstances(false, 512, true), { kind: 'raise', sysctl: 'fs.inotify.max_user_instances', from: 512, to: 1_024 });
  assert.equal(decideInstances(false, 128, false).kind, 'refuse');
});

test('preflight count: every directory once, the root included, excluded subtrees left out', () => {
  const root = mkdtempSync(join(tmpdir(), 'livesync-count-'));
  try {
    for (const d of ['a/b/c', 'a/d', 'e', 'skip/x/y']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'a/file'), 'x');
    assert.equal(countWatchedDirs(root, () => false), 9);
    assert.equal(countWatchedDirs(root, (rel) => rel === 'skip'), 6);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("rsync errors: temp names (.NAME.XXXXXX) in mkstemp and rename lines map to the batch's own paths", () => {
  const roots = ['/src', '/dst'];
  const flat = new Map([['b/new', false], ['b/y', false], ['a/x', false], ['b', false]]);
  const stderr = [
    'rsync: [generator] failed to set times on "/dst/b": Operation not permitted (1)',
    'rsync: [receiver] rename "/dst/a/.x.FYwmUK" -> "a/x": Operation not permitted (1)',
    'rsync: [receiver] mkstemp "/dst/b/.new.Cxr9XB" failed: Operation not permitted (1)',
    'rsync: [receiver] mkstemp "/dst/b/.y.3foer8" failed: Operation not permitted (1)',
    'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394) [sender=3.5.0]',
  ].join('\n');
  assert.deepEqual(failedPaths(stderr, roots, flat).map((f) => f.path).sort(), ['a/x', 'b', 'b/new', 'b/y']);
  // under a recursive entry (the seed lists '' recursively): the temp name is never reported as a path
  const deep = new Map([['', true]]);
  assert.deepEqual(failedPaths('rsync: [receiver] rename "/dst/d0/.file1.Jbkf8r" -> "d0/file1": Operation not permitted (1)', roots, deep).map((f) => f.path), ['d0/file1']);
  // a name longer than 247 bytes is cut short in the temp name: the listed file it begins
  const long = 'z'.repeat(250);
  const cut = `.${'z'.repeat(247)}.AbC123`;
  assert.deepEqual(failedPaths(`rsync: [receiver] mkstemp "/dst/d/${cut}" failed: No space left on device (28)`, roots, new Map([[`d/${long}`, false]])).map((f) => f.path), [`d/${long}`]);
  // ... or, under a recursive entry, that entry (re-synced whole)
  assert.deepEqual(failedPaths(`rsync: [receiver] mkstemp "/dst/d/e/${cut}" failed: No space left on device (28)`, roots, new Map([['d', true]])).map((f) => f.path), ['d']);
});

test('rsync errors: a listed path whose parent became a file (ENOTDIR) is gone, not failed (found by churn SEED=2678)', () => {
  const notDir = 'rsync: [sender] link_stat "/src/f86/f142" failed: Not a directory (20)';
  const denied = 'rsync: [receiver] mkstemp "/dst/d/.x.AbC123" failed: Permission denied (13)';
  const listed = new Map([['f86/f142', false], ['d/x', false]]);
  assert.deepEqual(failedPaths(`${notDir}\nrsync error: some files/attrs were not transferred (code 23)\n`, ['/src', '/dst'], listed), []);
  assert.equal(onlyVanished(`${notDir}\nrsync error: some files/attrs were not transferred (code 23)\n`), true);
  assert.equal(onlyVanished(`${notDir}\n${denied}\n`), false);
  assert.deepEqual(failedPaths(`${notDir}\n${denied}\n`, ['/src', '/dst'], listed).map((f) => f.path), ['d/x']);
  assert.equal(onlyVanished(''), false);
});
