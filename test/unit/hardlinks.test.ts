/**
 * The hard-link index (src/engine/hardlinks.ts) and the relink check (src/engine/relink.ts) on real files in a
 * temporary directory: which groups are complete, when an inode is searched for, and which groups the check
 * finds split on the target. No daemon: the relink pass gets a minimal view of a job around a real SyncQueue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { EventBus, type LivesyncEvent } from '../../src/events/event.ts';
import { HardLinkIndex } from '../../src/engine/hardlinks.ts';
import { RELINK_MAX_ATTEMPTS, RelinkPass } from '../../src/engine/relink.ts';
import { SyncQueue } from '../../src/engine/sync-queue.ts';
import type { MirrorOptions, MirrorView } from '../../src/engine/mirror-view.ts';
import { Waiters } from '../../src/engine/waiters.ts';

function trees(): { src: string; dst: string; outside: string } & Disposable {
  const top = mkdtempSync(`${tmpdir()}/livesync-hl-`);
  for (const d of ['src', 'dst', 'outside']) mkdirSync(`${top}/${d}`);
  return { src: `${top}/src`, dst: `${top}/dst`, outside: `${top}/outside`, [Symbol.dispose]: () => rmSync(top, { recursive: true, force: true }) };
}

/** A view of a job over a real SyncQueue, enough for the relink check; `excluded` and `events` observable. */
function view(src: string, dst: string, excluded: ReadonlySet<string> = new Set()): { view: MirrorView; queue: SyncQueue; events: LivesyncEvent[] } {
  const queue = new SyncQueue(src);
  const bus = new EventBus();
  const events: LivesyncEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const info = { name: 't', source: src, target: dst, stateDir: '/nonexistent', pid: process.pid, startedAt: 0, watcher: 'inotify' as const };
  const options = { info, bus, source: src, target: dst, excludeArgs: [], isExcluded: (rel: string) => excluded.has(rel) } as unknown as MirrorOptions;
  const v: MirrorView = {
    options,
    info,
    bus,
    queue,
    idle: new Waiters(),
    state: () => 'in-sync',
    stopping: () => false,
    paused: () => false,
    active: () => true,
    retrying: () => false,
    setState: () => undefined,
    schedule: () => undefined,
    emitQueue: () => undefined,
    emitWatches: () => undefined,
  };
  return { view: v, queue, events };
}

test('a new link whose other name is unknown is searched for; one whose names are all known is complete', () => {
  using t = trees();
  writeFileSync(`${t.src}/a`, 'a\n');
  linkSync(`${t.src}/a`, `${t.src}/b`);
  const index = new HardLinkIndex(t.src);
  assert.deepEqual(index.siblingsOf(['b']), [], 'a is unknown: no sibling to carry');
  assert.ok(index.hasUnresolved, '`ln a b` reports only b: the inode waits for a search');
  assert.deepEqual(index.takeUnresolved(), [statSync(`${t.src}/a`).ino]);
  const st = statSync(`${t.src}/a`);
  index.add('a', st.dev, st.ino); // what the search found
  assert.deepEqual(index.siblingsOf(['b']), ['a'], 'the batch carrying b carries a');
  assert.equal(index.hasUnresolved, false);
  assert.deepEqual(index.takeTouched(10).map((g) => g.names.sort()), [['a', 'b']], 'a complete group, for the relink check');
  assert.equal(index.touched, 0);
});

test('a known name whose directory was renamed is followed to its new path; one that cannot be followed starts a search', () => {
  using t = trees();
  mkdirSync(`${t.src}/d`);
  writeFileSync(`${t.src}/d/a`, 'a\n');
  linkSync(`${t.src}/d/a`, `${t.src}/b`);
  const index = new HardLinkIndex(t.src);
  for (const p of ['d/a', 'b']) index.add(p, statSync(`${t.src}/${p}`).dev, statSync(`${t.src}/${p}`).ino);
  renameSync(`${t.src}/d`, `${t.src}/e`);
  index.renamed('d', 'e');
  assert.deepEqual(index.siblingsOf(['b']), ['e/a'], 'the write through b reaches e/a');
  assert.equal(index.hasUnresolved, false);
  // renamed where no rename was seen (an unpaired move), and then b deleted: nothing known is the inode any more
  renameSync(`${t.src}/e`, `${t.src}/f`);
  rmSync(`${t.src}/b`);
  assert.deepEqual(index.siblingsOf(['b']), []);
  assert.deepEqual(index.takeUnresolved(), [statSync(`${t.src}/f/a`).ino], 'its inode is searched for: f/a may hold a change made through b');
});

test('an inode linked from outside the tree is searched for until a search found every name in the tree', () => {
  using t = trees();
  writeFileSync(`${t.src}/a`, 'a\n');
  linkSync(`${t.src}/a`, `${t.outside}/a`);
  const index = new HardLinkIndex(t.src);
  const st = statSync(`${t.src}/a`);
  const found = [{ path: 'a', dev: st.dev, ino: st.ino }];
  const searches = (): number => {
    index.siblingsOf(['a']);
    return index.takeUnresolved().length;
  };
  assert.equal(searches(), 1, 'one name known, two links: searched');
  index.searched(found, false);
  assert.equal(searches(), 1, 'something was renamed while the search ran: it may have missed a name, searched again');
  index.searched(found, true);
  assert.deepEqual([searches(), searches()], [0, 0], 'nothing moved meanwhile: the tree holds no other name (was: a search after every batch, forever)');
  assert.equal(index.takeTouched(10).length, 1, 'the names in the tree are checked on the target as a group');
  linkSync(`${t.src}/a`, `${t.outside}/a2`);
  assert.equal(searches(), 1, 'a new link (another link count): searched again');
});

test('the relink check: split groups are synced again, linked ones and pending names are left, a refused link is given up', () => {
  using t = trees();
  writeFileSync(`${t.src}/a`, 'a\n');
  linkSync(`${t.src}/a`, `${t.src}/b`);
  writeFileSync(`${t.src}/c`, 'c\n');
  linkSync(`${t.src}/c`, `${t.src}/d`);
  // on the target: a and b linked; c and d two copies (a link that landed as a copy)
  writeFileSync(`${t.dst}/a`, 'a\n');
  linkSync(`${t.dst}/a`, `${t.dst}/b`);
  copyFileSync(`${t.src}/c`, `${t.dst}/c`);
  copyFileSync(`${t.src}/d`, `${t.dst}/d`);
  const { view: v, queue, events } = view(t.src, t.dst);
  const pass = new RelinkPass(v);
  queue.hardlinks.siblingsOf(['a', 'b', 'c', 'd']); // a batch carried both groups
  const first = pass.check(100);
  assert.deepEqual(first.relink.sort(), ['c', 'd']);
  assert.equal(first.split.length, 1);
  pass.report(first);
  assert.ok(queue.isPending('c') && queue.isPending('d'), 'queued for the next batch');
  assert.ok(events.some((e) => e.type === 'warning' && e.code === 'W_RELINK'));
  // while a name is pending the batch that carries it touches the group again: the check leaves it
  queue.hardlinks.siblingsOf(['c']);
  assert.deepEqual(pass.check(100).relink, []);
  queue.take();
  // still split, pass after pass (the target refuses the link): given up after RELINK_MAX_ATTEMPTS passes
  const outcomes: string[] = [];
  for (let i = 1; i < RELINK_MAX_ATTEMPTS + 1; i++) {
    queue.hardlinks.siblingsOf(['c']);
    const r = pass.check(100);
    outcomes.push(r.relink.length > 0 ? 'relink' : r.gaveUp.length > 0 ? 'gave-up' : 'ok');
  }
  assert.deepEqual(outcomes, [...Array<string>(RELINK_MAX_ATTEMPTS - 1).fill('relink'), 'gave-up']);
  // linked on the target now: consistent, nothing to do
  rmSync(`${t.dst}/d`);
  linkSync(`${t.dst}/c`, `${t.dst}/d`);
  queue.hardlinks.siblingsOf(['c']);
  assert.deepEqual(pass.check(100), { relink: [], split: [], gaveUp: [] });
});

test('the relink check leaves excluded names out of the comparison', () => {
  using t = trees();
  writeFileSync(`${t.src}/a`, 'a\n');
  linkSync(`${t.src}/a`, `${t.src}/skip-me`);
  writeFileSync(`${t.dst}/a`, 'a\n'); // the excluded name is never on the target
  const { view: v, queue } = view(t.src, t.dst, new Set(['skip-me']));
  queue.hardlinks.siblingsOf(['a', 'skip-me']);
  assert.deepEqual(new RelinkPass(v).check(100), { relink: [], split: [], gaveUp: [] });
});
