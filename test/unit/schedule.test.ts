/**
 * The batch schedule as policy (src/engine/schedule.ts) and the dirty set's deletion lane (SETTLE entries held
 * by a writes-lane drain): pure, no timers, no processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchClock, BURST_CHANGES, BURST_QUIET_MS } from '../../src/engine/schedule.ts';
import { COLLAPSE_CHILDREN, DATA, DEEP, DirtySet, GONE, META, SETTLE } from '../../src/engine/dirty-set.ts';

const options = { delayMs: 2, maxWaitMs: 1_000, settleMs: 100, settleMaxWaitMs: 1_000 };
const writesOnly = { writes: true, held: false };

test('writes: trailing debounce after the last change, capped by max-wait', () => {
  const c = new BatchClock(options);
  assert.equal(c.nextBatch({ writes: false, held: false }), null, 'nothing pending: no batch');
  c.note('writes', 1_000);
  assert.equal(c.nextBatch(writesOnly), 1_002);
  c.note('writes', 1_001);
  assert.equal(c.nextBatch(writesOnly), 1_003, 'a later change moves it');
  for (let t = 1_002; t < 3_000; t++) c.note('writes', t);
  assert.equal(c.nextBatch(writesOnly), 2_000, 'a continuous stream still goes after max-wait');
  assert.equal(c.nextBatch(writesOnly, true), 0, 'hurry: at once');
  c.took(false);
  assert.equal(c.nextBatch(writesOnly), 0, 'pending without a change of its own (given back, due again): at once');
});

test('writes: a burst under way waits for a longer quiet gap than one small write', () => {
  const c = new BatchClock(options);
  c.note('writes', 1_000, 3);
  assert.equal(c.nextBatch(writesOnly), 1_002, 'a single write: --delay');
  c.note('writes', 1_001, BURST_CHANGES);
  assert.equal(c.nextBatch(writesOnly), 1_001 + BURST_QUIET_MS, 'a burst: a writer preempted for a few ms is not done');
});

test('deletions: settle after the last one, capped; a writes-lane batch leaves them waiting', () => {
  const c = new BatchClock(options);
  c.note('deletions', 1_000);
  c.note('writes', 1_000);
  const both = { writes: true, held: true };
  assert.equal(c.nextBatch(both), 1_002, 'the writes lane first');
  assert.equal(c.deletionsDue(1_002, both), false, 'without the deletions');
  c.took(false);
  assert.equal(c.nextBatch({ writes: false, held: true }), 1_100);
  c.note('deletions', 1_050);
  assert.equal(c.nextBatch({ writes: false, held: true }), 1_150, 'an rm -rf still running keeps them waiting');
  for (let t = 1_050; t < 5_000; t += 10) c.note('deletions', t);
  assert.equal(c.nextBatch({ writes: false, held: true }), 2_000, 'at most settleMaxWait after the first');
  assert.equal(c.deletionsDue(2_000, { writes: false, held: true }), true);
  c.took(true);
  assert.equal(c.nextBatch({ writes: false, held: true }), 0, 'held entries without a window (given back): at once');
});

test('a writes-lane drain holds deletions (and moved-away names), with their first-seen times', () => {
  const s = new DirtySet();
  s.mark('d/new', META | DATA, 10);
  s.mark('d', META, 10);
  s.mark('d/old', META | GONE, 5);
  s.move('a', 'b', 20);
  assert.equal(s.held, 2, 'd/old (deleted) and a (moved away)');
  const fast = s.drain(SETTLE);
  assert.deepEqual(fast.entries.map((e) => e.path).sort(), ['b', 'd', 'd/new']);
  assert.equal(fast.oldest, 10, 'oldest of what was handed out');
  assert.deepEqual(s.peek().map((e) => e.path).sort(), ['a', 'd/old']);
  assert.equal(s.size, 2);
  assert.equal(s.held, 2);
  assert.equal(s.oldest, 5, 'the held entries keep their first-seen times');
  const all = s.drain();
  assert.equal(all.entries.length, 2);
  assert.equal(s.size + s.held, 0);
});

test('a recursive entry that absorbs a deletion is held too (its --delete deletes)', () => {
  const below = new DirtySet();
  below.mark('n', META | DEEP, 1);
  below.mark('n/x', META | GONE, 2);
  assert.deepEqual(below.peek(), [{ path: 'n', flags: META | DEEP | SETTLE, since: 1 }]);
  assert.equal(below.held, 1);
  const collapse = new DirtySet();
  collapse.mark('big/gone', META | GONE, 1);
  for (let i = 0; i < COLLAPSE_CHILDREN; i++) collapse.mark(`big/f${i}`, META | DATA, 2);
  const entries = collapse.peek();
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.path, 'big');
  assert.ok(entries[0]!.flags & DEEP && entries[0]!.flags & SETTLE, 'collapsed over a deletion: held');
  assert.equal(collapse.held, 1);
  assert.equal(collapse.drain(SETTLE).entries.length, 0);
  const plain = new DirtySet();
  for (let i = 0; i <= COLLAPSE_CHILDREN; i++) plain.mark(`burst/f${i}`, META | DATA, 2);
  assert.equal(plain.held, 0, 'a burst of writes alone is not held');
});
