/**
 * The event applier with hand-made event sequences on a real watched tree (real fd, real add_watch): move
 * pairing across a read boundary (the hold), an unpaired IN_MOVED_FROM that times out, the policy table,
 * and the record parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { absBytes } from '../../src/util/bpath.ts';
import { addWatch, closeFd, inotifyInit } from '../../src/sys/inotify.ts';
import { ChangeBatch } from '../../src/watch/change-batch.ts';
import { DirWatches, Walk } from '../../src/watch/dir-watches.ts';
import { EventApplier, MOVE_PAIR_HOLD_MS } from '../../src/watch/event-apply.ts';
import {
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_ISDIR,
  IN_MODIFY,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_Q_OVERFLOW,
  WATCH_MASK,
  actionOf,
  parseEvents,
  type RawEvent,
} from '../../src/watch/inotify-events.ts';
import { tempTree } from './watch-helpers.ts';

function setup(root: string) {
  const init = inotifyInit();
  assert.ok(init.ok);
  const fd = init.value;
  const rootWd = addWatch(fd, absBytes(root, ''), WATCH_MASK);
  assert.ok(rootWd.ok);
  const watches = new DirWatches({ fd, root, rootWd: rootWd.value, isExcluded: () => false, onWatchFailed: () => {} });
  watches.walk(new Walk([watches.tree.root]), new ChangeBatch());
  const applier = new EventApplier(watches, { isExcluded: () => false, excludesMatchPaths: false, onOverflow: () => {}, onRootGone: () => {} });
  const wdOf = (path: string): number => {
    let node = watches.tree.root;
    for (const name of path === '' ? [] : path.split('/')) node = watches.tree.child(node, name)!;
    return node.wd;
  };
  return { applier, wdOf, [Symbol.dispose]: () => closeFd(fd) };
}

const ev = (wd: number, mask: number, name: string, readAt: number, cookie = 0): RawEvent => ({ wd, mask, cookie, name, readAt });

test('a MOVED_FROM at the end of one read pairs with the MOVED_TO of the next (events after it wait)', () => {
  using tree = tempTree('w-apply-hold');
  mkdirSync(join(tree.path, 'a'));
  mkdirSync(join(tree.path, 'b'));
  using s = setup(tree.path);
  const batch = new ChangeBatch();
  s.applier.push([ev(s.wdOf('a'), IN_CREATE, 'x', 0), ev(s.wdOf('a'), IN_MOVED_FROM, 'x', 0, 77)]);
  assert.equal(s.applier.run(batch, 1, false), true, 'held');
  assert.deepEqual(batch.take(), [{ kind: 'change', path: 'a/x', isDir: false }]);
  s.applier.push([ev(s.wdOf('b'), IN_MOVED_TO, 'y', 2, 77), ev(s.wdOf('b'), IN_MODIFY, 'y', 2)]);
  assert.equal(s.applier.run(batch, 2, false), false);
  assert.deepEqual(batch.take(), [
    { kind: 'move', from: 'a/x', to: 'b/y', isDir: false },
    { kind: 'change', path: 'b/y', isDir: false },
  ]);
});

test('an unpaired MOVED_FROM becomes a delete once the hold expires (or on force), in order', () => {
  using tree = tempTree('w-apply-expire');
  mkdirSync(join(tree.path, 'a'));
  using s = setup(tree.path);
  const batch = new ChangeBatch();
  s.applier.push([ev(s.wdOf('a'), IN_MOVED_FROM, 'f', 0, 5), ev(s.wdOf('a'), IN_CREATE, 'f', 0)]);
  assert.equal(s.applier.run(batch, 1, false), true);
  assert.deepEqual(batch.take(), []);
  assert.equal(s.applier.run(batch, MOVE_PAIR_HOLD_MS + 1, false), false);
  assert.deepEqual(batch.take(), [
    { kind: 'delete', path: 'a/f', isDir: false },
    { kind: 'change', path: 'a/f', isDir: false },
  ]);
  s.applier.push([ev(s.wdOf('a'), IN_MOVED_FROM, 'g', 100, 6)]);
  assert.equal(s.applier.run(batch, 100, true), false, 'force does not hold');
  assert.deepEqual(batch.take(), [{ kind: 'delete', path: 'a/g', isDir: false }]);
});

test('an unpaired MOVED_TO of a directory is a new watched subtree', () => {
  using tree = tempTree('w-apply-in');
  mkdirSync(join(tree.path, 'came', 'in'), { recursive: true });
  writeFileSync(join(tree.path, 'came', 'in', 'f'), 'x');
  using s = setup(tree.path);
  // 'came' already has a watch from the walk: add_watch proves it is the same directory, no second watch
  const batch = new ChangeBatch();
  s.applier.push([ev(s.wdOf(''), IN_MOVED_TO | IN_ISDIR, 'came', 0, 9)]);
  s.applier.run(batch, 0, false);
  assert.deepEqual(batch.take(), [{ kind: 'subtree', path: 'came', reason: 'new-dir' }]);
});

test('the policy table', () => {
  assert.equal(actionOf(IN_CREATE | IN_ISDIR), 'new-dir');
  assert.equal(actionOf(IN_CREATE), 'change');
  assert.equal(actionOf(IN_CLOSE_WRITE), 'change');
  assert.equal(actionOf(IN_Q_OVERFLOW), 'overflow');
  assert.equal(actionOf(IN_MOVED_TO | IN_ISDIR), 'moved-to');
  assert.equal(actionOf(0x10 /* IN_CLOSE_NOWRITE */), 'ignore');
});

test('parseEvents reads padded names and empty names', () => {
  const rec = (wd: number, mask: number, cookie: number, name: Buffer | null): Buffer => {
    const len = name === null ? 0 : Math.ceil((name.length + 1) / 16) * 16;
    const buf = Buffer.alloc(16 + len);
    buf.writeInt32LE(wd, 0);
    buf.writeUInt32LE(mask, 4);
    buf.writeUInt32LE(cookie, 8);
    buf.writeUInt32LE(len, 12);
    name?.copy(buf, 16);
    return buf;
  };
  const raw = Buffer.concat([rec(1, IN_CREATE, 0, Buffer.from([0x61, 0xff, 0x0a])), rec(-1, IN_Q_OVERFLOW, 0, null), rec(2, IN_MOVED_FROM, 42, Buffer.alloc(255, 0x62))]);
  const events = parseEvents(raw, 7);
  assert.deepEqual(events, [
    { wd: 1, mask: IN_CREATE, cookie: 0, name: 'a\xff\n', readAt: 7 },
    { wd: -1, mask: IN_Q_OVERFLOW, cookie: 0, name: '', readAt: 7 },
    { wd: 2, mask: IN_MOVED_FROM, cookie: 42, name: 'b'.repeat(255), readAt: 7 },
  ]);
});
