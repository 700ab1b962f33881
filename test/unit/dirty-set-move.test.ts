/**
 * DirtySet.move when the renamed path lies under a recursive (DEEP) entry (the marks below it were absorbed, so
 * the destination must become recursive too) or under entries of the batch in flight (they move with the
 * rename). test/mirror/lost-changes.test.ts has the real-daemon cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLLAPSE_CHILDREN, DATA, DEEP, DirtySet, META } from '../../src/engine/dirty-set.ts';

const byPath = (s: DirtySet): Map<string, number> => new Map(s.peek().map((e) => [e.path, e.flags]));

test('a rename out of a collapsed directory makes the destination recursive', () => {
  const s = new DirtySet();
  for (let i = 0; i <= COLLAPSE_CHILDREN; i++) s.mark(`P/f${i}`, META | DATA, 10);
  s.mark('P/D/f', META | DATA, 11); // absorbed by P
  s.move('P/D', 'Q', 12);
  const flags = byPath(s);
  assert.ok((flags.get('P') ?? 0) & DEEP, 'P stays recursive');
  assert.ok((flags.get('Q') ?? 0) & DEEP, 'Q is synced recursively: P/D/f was absorbed, Q/f must not be lost');
});

test('a rename out of a new (recursive) directory, and one that stays inside it', () => {
  const s = new DirtySet();
  s.mark('N', META | DEEP, 1);
  s.move('N/a/b', 'top', 2);
  s.move('N/c', 'N/d', 3);
  const flags = byPath(s);
  assert.deepEqual([...flags.keys()].sort(), ['N', 'top']);
  assert.ok((flags.get('top') ?? 0) & DEEP);
});

test('a rename from outside any recursive entry keeps a plain entry at the destination', () => {
  const s = new DirtySet();
  s.mark('x/f', META | DATA, 1);
  s.move('x', 'y', 2);
  const flags = byPath(s);
  assert.equal((flags.get('y') ?? 0) & DEEP, 0);
  assert.equal(flags.get('y/f'), META | DATA);
});

test('a rename while a batch is in flight carries its entries under the old path to the new one', () => {
  const s = new DirtySet();
  s.mark('A/f', META | DATA, 1);
  s.mark('A/sub', META | DEEP, 2);
  s.mark('other', META, 3);
  s.drain(); // handed to a batch: rsync may find A/f vanished once A is renamed
  s.move('A', 'B', 4);
  const flags = byPath(s);
  assert.equal(flags.get('B/f'), META | DATA);
  assert.ok((flags.get('B/sub') ?? 0) & DEEP);
  assert.equal(flags.has('other'), false);
  assert.equal(s.peek().find((e) => e.path === 'B/f')?.since, 1, 'the first-seen time of the change is kept');
});

test('a rename out of an in-flight recursive entry makes the destination recursive; a landed batch carries nothing', () => {
  const s = new DirtySet();
  s.mark('P', META | DEEP, 1);
  s.drain();
  s.move('P/D', 'Q', 2);
  assert.ok((byPath(s).get('Q') ?? 0) & DEEP);
  const t = new DirtySet();
  t.mark('X/f', META | DATA, 1);
  t.drain();
  t.releaseInFlight();
  t.move('X', 'Y', 2);
  assert.deepEqual([...byPath(t).keys()].sort(), ['X', 'Y']);
  assert.equal((byPath(t).get('Y') ?? 0) & DEEP, 0);
});
