import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLLAPSE_CHILDREN, COLLAPSE_DESCENDANTS, DATA, DEEP, DirtySet, META } from '../../src/engine/dirty-set.ts';
import { planBatch } from '../../src/engine/batch-plan.ts';

const paths = (s: DirtySet): string[] => s.peek().map((e) => e.path).sort();

test('marking the same path many times is one entry (coalescing)', () => {
  const s = new DirtySet();
  for (let i = 0; i < 10_000; i++) s.mark('a/b/c', META | DATA, 1000 + i);
  assert.equal(s.size, 1);
  assert.equal(s.oldest, 1000);
  assert.deepEqual(s.peek(), [{ path: 'a/b/c', flags: META | DATA, since: 1000 }]);
});

test('a DEEP entry absorbs marks below it, before and after', () => {
  const s = new DirtySet();
  s.mark('d/x', META, 1);
  s.mark('d', DEEP | META, 2);
  s.mark('d/y/z', META, 3);
  assert.deepEqual(paths(s), ['d']);
  assert.equal(s.size, 1);
  assert.equal(s.oldest, 1);
});

test('a directory with too many dirty children collapses into one recursive entry', () => {
  const s = new DirtySet();
  for (let i = 0; i <= COLLAPSE_CHILDREN; i++) s.mark(`burst/f${i}`, META | DATA, 10 + i);
  const entries = s.peek();
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.path, 'burst');
  assert.ok(entries[0]!.flags & DEEP);
  assert.equal(entries[0]!.since, 10);
  assert.equal(s.size, 1);
});

test('a directory whose many subdirectories each hold a change does not collapse (its recursive sync would walk them all)', () => {
  const s = new DirtySet();
  const n = 4 * COLLAPSE_CHILDREN;
  // what a file rewrite marks: the file, then its directory (for its mtime)
  for (let i = 0; i < n; i++) {
    s.mark(`tree/d${i}/f`, META | DATA, 10);
    s.mark(`tree/d${i}`, META, 10);
  }
  assert.equal(s.size, 2 * n, 'every change kept as its own entry');
  assert.ok(!s.peek().some((e) => e.flags & DEEP), 'nothing recursive');
  // while entries marked in one directory itself still collapse it
  for (let i = 0; i <= COLLAPSE_CHILDREN; i++) s.mark(`tree/new${i}`, META | DATA, 11);
  assert.deepEqual(paths(s), ['tree']);
});

test('a directory with a storm of entries below it collapses (memory), checked as its child count doubles', () => {
  const s = new DirtySet();
  const perDir = 100;
  const dirs = Math.ceil(COLLAPSE_DESCENDANTS / perDir) + 2 * COLLAPSE_CHILDREN;
  for (let d = 0; d < dirs; d++) for (let f = 0; f < perDir; f++) s.mark(`t/d${d}/f${f}`, META, 10);
  assert.deepEqual(paths(s), ['t']);
  assert.ok(s.peek()[0]!.flags & DEEP);
});

test('move re-keys the dirty entries under the old path', () => {
  const s = new DirtySet();
  s.mark('old/a', META | DATA, 5);
  s.mark('old/sub/b', META, 6);
  s.move('old', 'new', 7);
  assert.deepEqual(paths(s), ['new', 'new/a', 'new/sub/b', 'old']);
  assert.equal(s.size, 4);
});

test('drain hands out everything once and empties the set', () => {
  const s = new DirtySet();
  s.mark('', META, 1);
  s.mark('x', META, 2);
  const d = s.drain();
  assert.equal(d.entries.length, 2);
  assert.equal(d.oldest, 1);
  assert.equal(s.size, 0);
  assert.equal(s.oldest, null);
  s.restore(d.entries);
  assert.equal(s.size, 2);
  assert.equal(s.oldest, 1);
});

test('a plan drops entries covered by a deep entry and forces recently synced rewrites', () => {
  const entries = [
    { path: 'd', flags: DEEP | META, since: 1 },
    { path: 'd/in', flags: META, since: 1 },
    { path: 'hot', flags: META | DATA, since: 1 },
    { path: 'cold', flags: META | DATA, since: 1 },
    { path: 'meta-only', flags: META, since: 1 },
  ];
  const plan = planBatch(entries, { recentlySynced: new Map([['hot', 900], ['meta-only', 900]]), now: 1000 });
  assert.deepEqual(plan.deep, ['d']);
  assert.deepEqual(plan.forced, ['hot']);
  assert.deepEqual(plan.flat.sort(), ['cold', 'meta-only']);
  const all = planBatch(entries, { recentlySynced: new Map(), now: 1000, forceAll: true });
  assert.deepEqual(all.forced.sort(), ['cold', 'hot', 'meta-only'], 'forceAll: one run for every non-recursive entry');
  assert.deepEqual(all.flat, []);
});

test('nested deep entries collapse to the outermost one', () => {
  const plan = planBatch(
    [
      { path: 'a', flags: DEEP, since: 1 },
      { path: 'a/b', flags: DEEP, since: 1 },
      { path: 'ab', flags: DEEP, since: 1 },
    ],
    { recentlySynced: new Map(), now: 0 },
  );
  assert.deepEqual(plan.deep, ['a', 'ab']);
});
