import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { chunkRuns, impliedLevels, levelDirs, levelList, planSeed, rootFreeExcludes, splitLinkGroups, SPLIT_POLICY, type ListDir, type PlanEntry } from '../../src/sync/seed-plan.ts';

/** A fake tree: path → entries. */
function tree(dirs: Record<string, PlanEntry[]>): ListDir {
  return (dir) => dirs[dir] ?? null;
}
const d = (name: string, sameFs = true): PlanEntry => ({ name, isDir: true, sameFs });
const f = (name: string): PlanEntry => ({ name, isDir: false, sameFs: true });
const none = (): boolean => false;

test('one worker, or a tree with a single entry and nothing below it, is one plain run (no plan)', () => {
  assert.equal(planSeed(tree({ '': [d('a'), d('b')] }), 1, none), null);
  assert.equal(planSeed(tree({ '': [f('only')] }), 4, none), null);
});

test('a single top-level directory is split one level further down (the benchmark tree)', () => {
  const sub = Array.from({ length: 100 }, (_, i) => d(`d${String(i).padStart(3, '0')}`));
  const plan = planSeed(tree({ '': [d('tree'), f('top-file')], tree: [...sub, f('loose')] }), 2, none)!;
  assert.deepEqual(plan.levels, ['', 'tree']);
  assert.equal(plan.chunks.length, 2 * SPLIT_POLICY.chunksPerWorker);
  const all = plan.chunks.flat().sort();
  assert.equal(all.length, 102, 'every unit exactly once: 100 directories and the 2 files at split levels');
  assert.equal(new Set(all).size, all.length);
  assert.equal(plan.units, 102);
  assert.ok(all.includes('top-file') && all.includes('tree/loose') && all.includes('tree/d042'));
  assert.ok(!all.includes('tree'), 'a split level is never a unit');
  const sizes = plan.chunks.map((c) => c.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced lists: ${sizes.join(',')}`);
  assert.deepEqual(levelList(plan), ['./', 'tree/']);
  assert.deepEqual(levelDirs(plan), ['tree']);
  assert.equal(impliedLevels(plan, ['tree/d001', 'tree/d002']), 1);
  assert.equal(impliedLevels(plan, ['top-file']), 0);
});

test('mount points and excluded entries at split levels are never units; unreadable directories stay units', () => {
  const plan = planSeed(
    tree({ '': [d('app'), d('mnt', false), d('cache'), d('gone')], app: [d('x'), d('y')], cache: [d('c1')] }),
    2,
    (rel) => rel === 'cache',
    { ...SPLIT_POLICY, maxDepth: 2 },
  )!;
  const all = plan.chunks.flat().sort();
  assert.deepEqual(all, ['app/x', 'app/y', 'gone']);
  assert.deepEqual(plan.levels, ['', 'app']);
});

test('splitting stops at maxDepth and at the listing budget', () => {
  const wide = tree({ '': [d('a')], a: [d('b')], 'a/b': [d('c')], 'a/b/c': [d('d'), d('e')] });
  assert.deepEqual(planSeed(wide, 2, none, { ...SPLIT_POLICY, maxDepth: 3 })?.levels, undefined, 'one unit (a/b/c) left at depth 3: no plan');
  assert.deepEqual(planSeed(wide, 2, none, { ...SPLIT_POLICY, maxDepth: 4 })?.levels, ['', 'a', 'a/b', 'a/b/c']);
  const many = Object.fromEntries([['', Array.from({ length: 10 }, (_, i) => d(`t${i}`))], ...Array.from({ length: 10 }, (_, i) => [`t${i}`, [d('x')]])]);
  assert.deepEqual(planSeed(tree(many), 2, none, { ...SPLIT_POLICY, maxListedDirs: 5 })?.levels, [''], 'listing 10 more directories would pass the budget');
});

test('a level whose split would leave fewer directories than it had is not split', () => {
  const plan = planSeed(tree({ '': [d('a'), d('b')], a: [d('x'), d('z')], b: [d('y')], 'a/x': [f('1')], 'a/z': [f('2')], 'b/y': [f('3')] }), 2, none)!;
  assert.deepEqual(plan.levels, ['', 'a', 'b']);
  assert.deepEqual(plan.chunks.flat().sort(), ['a/x', 'a/z', 'b/y']);
});

test('hard-link groups spanning two rsync runs are re-sent together; groups inside one run are not', () => {
  const runs = [['a', 'tree/d1'], ['b', 'tree/d2']];
  const files = [
    { dev: 1, ino: 10, path: 'a/x' },
    { dev: 1, ino: 10, path: 'b/y' }, // spans run 0 and 1
    { dev: 1, ino: 11, path: 'tree/d1/p' },
    { dev: 1, ino: 11, path: 'a/deep/q' }, // both in run 0
    { dev: 1, ino: 12, path: 'tree/d2/r' },
    { dev: 1, ino: 12, path: 'late-file' }, // outside every run (created after planning)
    { dev: 2, ino: 10, path: 'tree/d1/other-dev' }, // same inode number on another device: its own group
  ];
  assert.deepEqual(splitLinkGroups(runs, files).sort(), ['a/x', 'b/y', 'late-file', 'tree/d2/r']);
});

test('a list runs as one rsync per parent, directories as source arguments; non-UTF-8 names fall back to --files-from', () => {
  const bad = Buffer.from([0x62, 0xff, 0x61, 0x64]).toString('latin1'); // "b\xffad": not UTF-8
  const runs = chunkRuns(['tree/d1', 'tree/d2', 'other/x', `other/${bad}`, 'top'], { source: '/src', target: '/dst/' }, true);
  assert.deepEqual(runs, [
    { parent: 'tree', units: ['tree/d1', 'tree/d2'], argv: { sources: ['/src/tree/d1', '/src/tree/d2'], dest: '/dst/tree/' } },
    { parent: 'other', units: ['other/x', `other/${bad}`], argv: null },
    { parent: '', units: ['top'], argv: { sources: ['/src/top'], dest: '/dst/' } },
  ]);
  const utf = Buffer.from('ünï', 'utf8').toString('latin1');
  assert.deepEqual(chunkRuns([utf], { source: '/s', target: '/d' }, true)[0]?.argv?.sources, ['/s/ünï'], 'UTF-8 names become text');
  assert.equal(chunkRuns(['tree/d1'], { source: '/s', target: '/d' }, false)[0]?.argv, null, 'excludes that depend on the root: --files-from');
  const many = Array.from({ length: 5000 }, (_, i) => `tree/${'n'.repeat(100)}${i}`);
  const split = chunkRuns(many, { source: '/s', target: '/d' }, true);
  assert.ok(split.length > 1 && split.flatMap((r) => r.units).length === 5000, 'long lists are cut to stay within the argument budget');
});

test('only excludes that match the last component are the same from any transfer root', () => {
  assert.equal(rootFreeExcludes([]), true);
  assert.equal(rootFreeExcludes(['--exclude=*.tmp', '--exclude=cache/']), true);
  assert.equal(rootFreeExcludes(['--exclude=/cache']), false);
  assert.equal(rootFreeExcludes(['--exclude=a/b']), false);
  assert.equal(rootFreeExcludes(['--exclude=**.log']), false);
});
