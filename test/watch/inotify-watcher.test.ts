/**
 * The raw-inotify watcher on real temp trees: every kind of change, hostile names, moves inside, in and out,
 * excludes, watch count, settle and root-gone. Everything is read back with settle() (deterministic: the
 * kernel queues events synchronously in the syscall), so no sleeps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileExcludes } from '../../src/watch/exclude.ts';
import { InotifyWatcher } from '../../src/watch/inotify-watcher.ts';
import { Recorder, covered, ownWatchCount, pathsOf, tempTree } from './watch-helpers.ts';

const noExcludes = { isExcluded: () => false, excludesMatchPaths: false };

async function started(root: string, options: Partial<ConstructorParameters<typeof InotifyWatcher>[0]> = {}) {
  const watcher = new InotifyWatcher({ root, ...noExcludes, ...options });
  const rec = new Recorder(watcher);
  await watcher.start();
  return { watcher, rec, [Symbol.asyncDispose]: () => watcher.close() };
}

test('create, modify, chmod, utimes, truncate and delete of a file are reported', async () => {
  using tree = tempTree('w-basic');
  mkdirSync(join(tree.path, 'd'));
  await using w = await started(tree.path);
  const f = join(tree.path, 'd', 'f');
  writeFileSync(f, 'one');
  await w.watcher.settle();
  assert.ok(covered(w.rec.take(), 'd/f'), 'create');
  writeFileSync(f, 'two', { flag: 'a' });
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'd/f', isDir: false }], 'modify coalesces IN_MODIFY + IN_CLOSE_WRITE');
  chmodSync(f, 0o600);
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'd/f', isDir: false }], 'chmod');
  utimesSync(f, 1, 1);
  truncateSync(f, 1);
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'd/f', isDir: false }], 'utimes + truncate');
  chmodSync(join(tree.path, 'd'), 0o700);
  await w.watcher.settle();
  assert.ok(w.rec.take().some((c) => c.kind === 'change' && c.path === 'd' && c.isDir), 'chmod of a directory');
  rmSync(f);
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'delete', path: 'd/f', isDir: false }]);
  symlinkSync('/etc', join(tree.path, 'link'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'link', isDir: false }], 'a symlink to a dir is not followed');
  assert.equal(w.watcher.stats().watchedDirs, 2);
});

test('many writes to one file are one change per read', async () => {
  using tree = tempTree('w-coalesce');
  await using w = await started(tree.path);
  const f = join(tree.path, 'log');
  for (let i = 0; i < 1000; i++) writeFileSync(f, `line ${i}\n`, { flag: 'a' });
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'log', isDir: false }]);
  assert.equal(w.rec.calls, 1);
});

test('hostile names arrive as exact bytes (newline, leading dash, invalid UTF-8, 255 bytes, spaces)', async () => {
  using tree = tempTree('w-names');
  await using w = await started(tree.path);
  const names = [
    Buffer.from('new\nline'),
    Buffer.from('-rf --delete'),
    Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x2e, 0x74]),
    Buffer.alloc(255, 0x61),
    Buffer.from('  spaces  '),
    Buffer.from('été ☃'),
  ];
  const root = Buffer.from(tree.path);
  for (const name of names) writeFileSync(Buffer.concat([root, Buffer.from('/'), name]), 'x');
  const dir = Buffer.concat([root, Buffer.from('/'), Buffer.from([0xc3, 0x28, 0x0a])]);
  mkdirSync(dir);
  writeFileSync(Buffer.concat([dir, Buffer.from('/'), Buffer.from('-x')]), 'x');
  await w.watcher.settle();
  const got = w.rec.take();
  for (const name of names) assert.ok(covered(got, name.toString('latin1')), `missing ${JSON.stringify(name.toString('latin1'))}`);
  const dirRel = Buffer.from([0xc3, 0x28, 0x0a]).toString('latin1');
  assert.ok(covered(got, `${dirRel}/-x`));
  writeFileSync(Buffer.concat([dir, Buffer.from('/'), Buffer.from('later')]), 'x');
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: `${dirRel}/later`, isDir: false }]);
});

test('moves inside the tree are paired; paths under a moved directory follow it', async () => {
  using tree = tempTree('w-move');
  mkdirSync(join(tree.path, 'a', 'sub', 'deep'), { recursive: true });
  writeFileSync(join(tree.path, 'a', 'file'), 'x');
  await using w = await started(tree.path);
  renameSync(join(tree.path, 'a', 'file'), join(tree.path, 'moved-file'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'move', from: 'a/file', to: 'moved-file', isDir: false }]);
  renameSync(join(tree.path, 'a'), join(tree.path, 'b'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'move', from: 'a', to: 'b', isDir: true }]);
  writeFileSync(join(tree.path, 'b', 'sub', 'deep', 'f'), 'x');
  renameSync(join(tree.path, 'b', 'sub'), join(tree.path, 'b', 'sub2'));
  writeFileSync(join(tree.path, 'b', 'sub2', 'deep', 'g'), 'x');
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [
    { kind: 'change', path: 'b/sub/deep/f', isDir: false },
    { kind: 'move', from: 'b/sub', to: 'b/sub2', isDir: true },
    { kind: 'change', path: 'b/sub2/deep/g', isDir: false },
  ]);
  assert.equal(w.watcher.stats().watchedDirs, 4);
  assert.equal(ownWatchCount(), 4);
});

test('moves in from outside and out to outside', async () => {
  using tree = tempTree('w-inout');
  using outside = tempTree('w-outside');
  mkdirSync(join(outside.path, 'incoming', 'x', 'y'), { recursive: true });
  writeFileSync(join(outside.path, 'incoming', 'x', 'y', 'f'), 'x');
  writeFileSync(join(outside.path, 'lone'), 'x');
  mkdirSync(join(tree.path, 'leaving', 'z'), { recursive: true });
  await using w = await started(tree.path);
  renameSync(join(outside.path, 'incoming'), join(tree.path, 'incoming'));
  renameSync(join(outside.path, 'lone'), join(tree.path, 'lone'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [
    { kind: 'subtree', path: 'incoming', reason: 'new-dir' },
    { kind: 'change', path: 'lone', isDir: false },
  ]);
  writeFileSync(join(tree.path, 'incoming', 'x', 'y', 'g'), 'x');
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'change', path: 'incoming/x/y/g', isDir: false }], 'moved-in dirs are watched');
  renameSync(join(tree.path, 'leaving'), join(outside.path, 'gone'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'delete', path: 'leaving', isDir: true }]);
  writeFileSync(join(outside.path, 'gone', 'z', 'after'), 'x');
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [], 'no events from a directory that left the tree');
  assert.equal(w.watcher.stats().watchedDirs, 4); // root, incoming, x, y
  assert.equal(ownWatchCount(), 4);
});

test('200 back-and-forth renames are all paired', async () => {
  using tree = tempTree('w-hold');
  mkdirSync(join(tree.path, 'src'));
  mkdirSync(join(tree.path, 'dst'));
  writeFileSync(join(tree.path, 'src', 'f'), 'x');
  await using w = await started(tree.path);
  for (let i = 0; i < 200; i++) renameSync(join(tree.path, i % 2 ? 'dst' : 'src', 'f'), join(tree.path, i % 2 ? 'src' : 'dst', 'f'));
  await w.watcher.settle();
  const got = w.rec.take();
  assert.equal(got.length, 200);
  assert.ok(got.every((c) => c.kind === 'move'));
});

test('directories created with files in a tight loop: every file is covered by a change or a subtree', async () => {
  using tree = tempTree('w-mkdirp');
  await using w = await started(tree.path);
  const { spawn } = await import('node:child_process');
  const script = `const fs=require('fs');for(let i=0;i<300;i++){const d=process.argv[1]+'/d'+i+'/b/c';fs.mkdirSync(d,{recursive:true});fs.writeFileSync(d+'/f','x');fs.mkdirSync(d+'/e');fs.writeFileSync(d+'/e/g','x')}`;
  const child = spawn(process.execPath, ['-e', script, tree.path], { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`)))));
  await w.watcher.settle();
  const got = w.rec.take();
  for (let i = 0; i < 300; i++) {
    assert.ok(covered(got, `d${i}/b/c/f`), `d${i}/b/c/f not covered`);
    assert.ok(covered(got, `d${i}/b/c/e/g`), `d${i}/b/c/e/g not covered`);
  }
  assert.equal(w.watcher.stats().watchedDirs, 1 + 300 * 4);
  assert.equal(ownWatchCount(), 1 + 300 * 4);
});

test('random directory churn (mkdir, rename inside/in/out, rmdir): afterwards every directory is watched at its path', async () => {
  using tree = tempTree('w-churn');
  using outside = tempTree('w-churn-out');
  await using w = await started(tree.path);
  const { spawn } = await import('node:child_process');
  // a seeded random walk of directory operations, run by another process while the watcher reads
  const script = `
    const fs = require('fs'); const [root, out] = process.argv.slice(1);
    let seed = Number(process.env.CHURN_SEED ?? 42); const rnd = (n) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const dirs = ['']; const outs = [];
    const pick = () => dirs[rnd(dirs.length)];
    const drop = (d) => { for (let i = dirs.length - 1; i >= 0; i--) if (dirs[i] === d || dirs[i].startsWith(d + '/')) dirs.splice(i, 1); };
    for (let i = 0; i < 2000; i++) {
      const op = rnd(10);
      try {
        if (op < 4) { const d = (pick() ? pick() + '/' : '') + 'n' + i; fs.mkdirSync(root + '/' + d); dirs.push(d); fs.writeFileSync(root + '/' + d + '/f', 'x'); }
        else if (op < 6) { const a = pick(); const b = pick(); if (!a || b === a || b.startsWith(a + '/')) continue; const to = (b ? b + '/' : '') + 'm' + i;
          fs.renameSync(root + '/' + a, root + '/' + to); const moved = dirs.filter((d) => d === a || d.startsWith(a + '/')); drop(a); for (const d of moved) dirs.push(to + d.slice(a.length)); }
        else if (op < 7) { const a = pick(); if (!a) continue; fs.renameSync(root + '/' + a, out + '/o' + i); drop(a); outs.push('o' + i); }
        else if (op < 8 && outs.length) { const o = outs.pop(); const d = (pick() ? pick() + '/' : '') + 'i' + i; fs.renameSync(out + '/' + o, root + '/' + d); dirs.push(d); }
        else if (op < 9) { const a = pick(); if (!a) continue; fs.rmSync(root + '/' + a, { recursive: true }); drop(a); }
        else { const a = pick(); fs.writeFileSync(root + '/' + (a ? a + '/' : '') + 'w', String(i)); }
      } catch (e) { if (e.code !== 'ENOENT' && e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; }
    }`;
  const child = spawn(process.execPath, ['-e', script, tree.path, outside.path], { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`)))));
  await w.watcher.settle();
  const { readdirSync } = await import('node:fs');
  const actual = readdirSync(tree.path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(tree.path.length + 1));
  assert.equal(w.watcher.stats().watchedDirs, actual.length + 1);
  assert.equal(ownWatchCount(), actual.length + 1);
  w.rec.take();
  for (const d of actual) writeFileSync(join(tree.path, d, 'probe'), 'x');
  await w.watcher.settle();
  const probes = w.rec.take().map((c) => (c.kind === 'change' ? c.path : `unexpected ${c.kind}`));
  assert.deepEqual(probes.sort(), actual.map((d) => `${d}/probe`).sort());
});

test('excluded directories get no watch and excluded paths produce no changes', async () => {
  using tree = tempTree('w-exclude');
  mkdirSync(join(tree.path, 'app', 'node_modules', 'pkg'), { recursive: true });
  mkdirSync(join(tree.path, 'app', 'src'), { recursive: true });
  mkdirSync(join(tree.path, 'cache'), { recursive: true });
  const ex = compileExcludes(['node_modules/', '*.tmp', '/cache']);
  await using w = await started(tree.path, { isExcluded: ex.isExcluded, excludesMatchPaths: ex.matchesPaths });
  assert.equal(w.watcher.stats().watchedDirs, 3); // root, app, app/src
  assert.equal(ownWatchCount(), 3);
  writeFileSync(join(tree.path, 'app', 'node_modules', 'pkg', 'index.js'), 'x');
  writeFileSync(join(tree.path, 'app', 'src', 'a.tmp'), 'x');
  writeFileSync(join(tree.path, 'cache', 'blob'), 'x');
  mkdirSync(join(tree.path, 'app', 'src', 'node_modules'));
  writeFileSync(join(tree.path, 'app', 'src', 'kept.js'), 'x');
  writeFileSync(join(tree.path, 'app', 'src', '.livesync-cookie-1'), 'x');
  await w.watcher.settle();
  assert.deepEqual(pathsOf(w.rec.take()).sort(), ['app/src/.livesync-cookie-1', 'app/src/kept.js']);
  assert.equal(w.watcher.stats().watchedDirs, 3);
  renameSync(join(tree.path, 'app', 'src'), join(tree.path, 'app', 'node_modules', 'src'));
  await w.watcher.settle();
  assert.deepEqual(w.rec.take(), [{ kind: 'delete', path: 'app/src', isDir: true }], 'moved into an excluded dir');
  assert.equal(w.watcher.stats().watchedDirs, 2);
});

test('settle() delivers everything queued before it, without waiting for the loop', async () => {
  using tree = tempTree('w-settle');
  await using w = await started(tree.path);
  for (let i = 0; i < 100; i++) writeFileSync(join(tree.path, `f${i}`), 'x');
  mkdirSync(join(tree.path, '.livesync-barrier'));
  await w.watcher.settle();
  const got = w.rec.take();
  for (let i = 0; i < 100; i++) assert.ok(covered(got, `f${i}`));
  assert.deepEqual(got.at(-1), { kind: 'subtree', path: '.livesync-barrier', reason: 'new-dir' });
});

test('deleting the root reports root-gone', async () => {
  const root = join(tmpdir(), `livesync-w-root-${process.pid}`);
  mkdirSync(join(root, 'x'), { recursive: true });
  await using w = await started(root);
  rmSync(root, { recursive: true });
  await w.watcher.settle();
  assert.ok(w.rec.problems.some((p) => p.kind === 'root-gone'));
});

test('moving the root away reports root-gone', async () => {
  using parent = tempTree('w-root-move');
  const root = join(parent.path, 'src');
  mkdirSync(root);
  await using w = await started(root);
  renameSync(root, join(parent.path, 'elsewhere'));
  await w.watcher.settle();
  assert.deepEqual(
    w.rec.problems.map((p) => p.kind),
    ['root-gone'],
  );
});

test('a missing root is a ToolError, not a crash', async () => {
  const watcher = new InotifyWatcher({ root: join(tmpdir(), 'livesync-no-such-dir-here'), ...noExcludes });
  await assert.rejects(watcher.start(), (err: Error & { code?: string }) => err.code === 'E_WATCH_ROOT');
});
