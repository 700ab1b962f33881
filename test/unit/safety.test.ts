/**
 * The start-up delete guard's arithmetic (src/engine/safety.ts): a COUNT applies as is; a percentage applies
 * to the entries compared (source + extraneous), and counting stops where the answer cannot change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileDeleteCap, reconcileDeleteGuard } from '../../src/engine/safety.ts';

test('reconcile delete guard: counts, percentages, no limit', () => {
  assert.equal(reconcileDeleteGuard({ count: 5 }, 5, 100), null);
  assert.match(reconcileDeleteGuard({ count: 5 }, 6, 100) ?? '', /would delete 6 entries on the target, above --max-delete 5/);
  assert.equal(reconcileDeleteGuard({ count: 0 }, 1_000_000, 1), null, 'COUNT 0 = no limit');
  assert.equal(reconcileDeleteGuard(null, 1_000_000, 1), null);
  // 50 %: halts once the extraneous entries outnumber the source's
  assert.equal(reconcileDeleteGuard({ percent: 50 }, 100, 100), null);
  assert.match(reconcileDeleteGuard({ percent: 50 }, 101, 100) ?? '', /above --max-delete 50% of the 201 entries compared/);
  assert.equal(reconcileDeleteGuard({ percent: 10 }, 11, 100), null);
  assert.notEqual(reconcileDeleteGuard({ percent: 10 }, 12, 100), null);
  assert.equal(reconcileDeleteGuard({ percent: 100 }, 10 ** 9, 0), null);
});

test('reconcile delete cap: counting up to the cap gives the same verdict as counting everything', () => {
  for (const maxDelete of [{ count: 3 }, { percent: 50 }, { percent: 10 }, { percent: 90 }] as const) {
    for (const source of [0, 1, 7, 100, 12_345]) {
      const cap = reconcileDeleteCap(maxDelete, source);
      for (const total of [0, 1, 2, 5, 50, 99, 100, 101, 1_000, 200_000]) {
        const capped = Math.min(total, cap);
        assert.equal(reconcileDeleteGuard(maxDelete, capped, source) === null, reconcileDeleteGuard(maxDelete, total, source) === null, `${JSON.stringify(maxDelete)} source ${source} total ${total} cap ${cap}`);
      }
    }
  }
});
