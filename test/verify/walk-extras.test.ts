/**
 * What only the mirror's restart comparison asks of the walk (diffTrees options): an xattr floor per side
 * (xattrs compared only for pairs where either side's ctime reached its floor; a side left out by the addon
 * is read when the other side calls for it), the list of the source's multi-link files, new directories
 * included, excluded names left out, equal to what `find -links +1` lists, and target directories read ahead
 * (whole or in part) giving the same differences as reading them in the walk.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { multiLinkFiles } from '../../src/sys/fsops.ts';
import { prefetchTree } from '../../src/verify/prefetch.ts';
import { diffTrees } from '../../src/verify/verify.ts';
import { rootSkipReason } from '../helpers/ns.ts';
import { copyTree, workspace } from './helpers.ts';

const setfattr = (path: string, name: string, value: string): void => void execFileSync('setfattr', ['-h', '-n', name, '-v', value, path]);
const xattrDiffs = (d: Awaited<ReturnType<typeof diffTrees>>): string[] => d.differences.filter((x) => x.kind === 'xattr').map((x) => x.rel).sort();
/** Clearly past any ctime stamped so far (a coarse timestamp lags the wall clock by a tick at most). */
async function floorNow(): Promise<bigint> {
  await sleep(30);
  const ns = BigInt(Date.now()) * 1_000_000n;
  await sleep(30);
  return ns;
}

test('xattr floor: pairs changed since the floor are compared (either side), older pairs are taken as agreed', async () => {
  using ws = workspace('xfloor');
  for (const name of ['src-changed', 'tgt-changed', 'old-diff', 'touched-equal', 'src-touched-tgt-old']) {
    writeFileSync(join(ws.src, name), `${name}\n`);
    setfattr(join(ws.src, name), 'user.tag', 'one');
  }
  mkdirSync(join(ws.src, 'dir'));
  setfattr(join(ws.src, 'dir'), 'user.tag', 'one');
  copyTree(ws.src, ws.dst);
  // differences from before the floor: on the target only, ctimes older than the floor on both sides
  setfattr(join(ws.dst, 'old-diff'), 'user.tag', 'stale');
  setfattr(join(ws.dst, 'src-touched-tgt-old'), 'user.tag', 'stale');
  const floor = await floorNow();
  setfattr(join(ws.src, 'src-changed'), 'user.tag', 'two');
  setfattr(join(ws.dst, 'tgt-changed'), 'user.extra', 'x');
  setfattr(join(ws.dst, 'dir'), 'user.tag', 'two');
  chmodSync(join(ws.src, 'touched-equal'), 0o644); // ctime moves, xattrs stay equal
  chmodSync(join(ws.src, 'src-touched-tgt-old'), 0o644); // the source side calls for the target's xattrs
  const all = await diffTrees({ source: ws.src, target: ws.dst });
  assert.deepEqual(xattrDiffs(all), ['dir', 'old-diff', 'src-changed', 'src-touched-tgt-old', 'tgt-changed'], 'without a floor: every pair');
  const gated = await diffTrees({ source: ws.src, target: ws.dst, xattrFloor: { source: floor, target: floor } });
  assert.deepEqual(xattrDiffs(gated), ['dir', 'src-changed', 'src-touched-tgt-old', 'tgt-changed'], 'with a floor: pairs changed since, on either side');
  assert.deepEqual(gated.counts, all.counts);
  // a floor in the future on one side, the past on the other: the past side alone decides
  const sourceOnly = await diffTrees({ source: ws.src, target: ws.dst, xattrFloor: { source: floor, target: floor * 2n } });
  assert.deepEqual(xattrDiffs(sourceOnly), ['src-changed', 'src-touched-tgt-old']);
});

test('quick path: identical pairs are counted, every attribute difference is still seen', async () => {
  using ws = workspace('quick');
  for (let i = 0; i < 50; i++) writeFileSync(join(ws.src, `f${i}`), 'x'.repeat(i));
  symlinkSync('f1', join(ws.src, 'sym'));
  copyTree(ws.src, ws.dst);
  writeFileSync(join(ws.dst, 'f3'), 'yyy'); // same size, new mtime
  chmodSync(join(ws.dst, 'f4'), 0o600);
  writeFileSync(join(ws.dst, 'f5'), 'longer than before');
  execFileSync('ln', ['-sfn', 'f2', join(ws.dst, 'sym')]);
  const d = await diffTrees({ source: ws.src, target: ws.dst });
  assert.deepEqual(d.counts, { files: 50, dirs: 1, symlinks: 1, other: 0 });
  const got = d.differences.filter((x) => x.rel !== '').map((x) => `${x.kind} ${x.rel}`).sort();
  assert.deepEqual(got, ['mode f4', 'mtime f3', 'mtime f5', 'mtime sym', 'size f5', 'symlink sym']);
});

test('multi-link files: listed from the walk, new directories included, excluded names not; as find lists them', { skip: rootSkipReason() }, async () => {
  using ws = workspace('mlinks');
  mkdirSync(join(ws.src, 'old'));
  mkdirSync(join(ws.src, 'skip'));
  writeFileSync(join(ws.src, 'old/a'), 'a\n');
  linkSync(join(ws.src, 'old/a'), join(ws.src, 'b'));
  symlinkSync('old/a', join(ws.src, 'sym'));
  linkSync(join(ws.src, 'sym'), join(ws.src, 'old/sym2')); // a hard link to the symlink itself
  writeFileSync(join(ws.src, 'single'), 'one link\n');
  copyTree(ws.src, ws.dst);
  // made after the copy: a new directory (missing on the target, walked on the source only) and a new name
  mkdirSync(join(ws.src, 'new/deeper'), { recursive: true });
  linkSync(join(ws.src, 'old/a'), join(ws.src, 'new/deeper/c'));
  linkSync(join(ws.src, 'single'), join(ws.src, 'old/single2'));
  linkSync(join(ws.src, 'old/a'), join(ws.src, 'skip/excluded'));
  const d = await diffTrees({ source: ws.src, target: ws.dst, exclude: ['/skip'], multiLinks: true, oneFileSystem: true });
  const got = d.multiLinks.map((m) => `${m.inode} ${m.rel}`).sort();
  const found = (await multiLinkFiles(ws.src)).filter((f) => !f.path.startsWith('skip/')).map((f) => `${f.dev}:${f.ino} ${f.path}`).sort();
  assert.deepEqual(got, found);
  assert.deepEqual(d.multiLinks.map((m) => m.rel).sort(), ['b', 'new/deeper/c', 'old/a', 'old/single2', 'old/sym2', 'single', 'sym']);
  assert.deepEqual((await diffTrees({ source: ws.src, target: ws.dst })).multiLinks, [], 'not asked: none');
});

test('target read ahead: the same differences as reading it in the walk, whole or cut short', async () => {
  using ws = workspace('ahead');
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(ws.src, `d${d}/sub`), { recursive: true });
    for (let f = 0; f < 10; f++) writeFileSync(join(ws.src, `d${d}/f${f}`), `${d}/${f}`);
  }
  copyTree(ws.src, ws.dst);
  writeFileSync(join(ws.src, 'd3/new'), 'new');
  writeFileSync(join(ws.dst, 'd7/extra'), 'extra');
  chmodSync(join(ws.dst, 'd11/f1'), 0o600);
  setfattr(join(ws.dst, 'd15/f2'), 'user.tag', 'x');
  const show = (d: Awaited<ReturnType<typeof diffTrees>>): string[] => d.differences.map((x) => `${x.kind} ${x.rel}`).sort();
  const plain = await diffTrees({ source: ws.src, target: ws.dst });
  assert.deepEqual(show(plain).filter((l) => !l.startsWith('mtime')), ['extra d7/extra', 'missing d3/new', 'mode d11/f1', 'xattr d15/f2']);
  for (const maxBytes of [64 * 1024 * 1024, 2_000]) {
    const ahead = prefetchTree(ws.dst, { xattrs: true, exclude: [], maxBytes });
    assert.ok(ahead);
    await sleep(200);
    const targetScans = await ahead.stop();
    assert.ok(targetScans.size > 0 && (maxBytes > 2_000 ? targetScans.size === 41 : targetScans.size < 41), `${targetScans.size} directories read ahead`);
    const d = await diffTrees({ source: ws.src, target: ws.dst, targetScans });
    assert.deepEqual(show(d), show(plain), `maxBytes ${maxBytes}`);
    assert.deepEqual(d.counts, plain.counts);
  }
});
