/**
 * The parallel seed (src/sync/seed.ts) against the reference it replaces: one plain
 * `rsync -aHAXS --numeric-ids -x` of the same tree. A zoo at and below the split levels — hard links spanning
 * two top-level directories, hostile names, a FIFO, a device, a sparse file, xattrs, an ACL, numeric owners,
 * a mount point (never entered) — must come out identical, links linked, into an empty target (--inplace)
 * and into one with extraneous and stale entries (temp file + rename, deletions at every split level).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { HOSTILE_NAMES } from '../helpers/churn.ts';
import { differences } from '../helpers/oracle.ts';
import { EventBus, type LivesyncEvent } from '../../src/events/event.ts';
import { MIGRATION_FLAGS, parseStats } from '../../src/sync/rsync-args.ts';
import { seed, type SeedResult } from '../../src/sync/seed.ts';
import { SPLIT_POLICY } from '../../src/sync/seed-plan.ts';
import { compileExcludes } from '../../src/watch/exclude.ts';

const skip = rootSkipReason();
const b = (...parts: Array<string | Buffer>): Buffer => Buffer.concat(parts.map((p, i) => Buffer.concat([Buffer.from(i === 0 ? '' : '/'), Buffer.from(p)])));

/** The zoo. Returns the path of a directory to mount a filesystem on (inside a split level). */
function zoo(root: string): string {
  for (const top of ['alpha', 'beta', 'gamma']) {
    for (let i = 0; i < 6; i++) {
      fs.mkdirSync(`${root}/${top}/sub${i}/deep`, { recursive: true });
      for (let j = 0; j < 5; j++) fs.writeFileSync(`${root}/${top}/sub${i}/f${j}`, `${top} ${i} ${j}\n`);
      fs.writeFileSync(`${root}/${top}/sub${i}/deep/leaf`, 'leaf');
    }
    fs.writeFileSync(`${root}/${top}/loose-file`, top);
  }
  fs.writeFileSync(`${root}/top-file`, 'top');
  for (const h of HOSTILE_NAMES) {
    fs.writeFileSync(b(root, h), h);
    fs.mkdirSync(b(root, 'beta', Buffer.concat([h, Buffer.from('-dir')])));
    fs.writeFileSync(b(root, 'beta', Buffer.concat([h, Buffer.from('-dir')]), h), h);
  }
  // hard links: across top-level directories, across second-level ones, a triple, and within one directory
  fs.linkSync(`${root}/alpha/sub0/f0`, `${root}/gamma/sub5/link-to-alpha`);
  fs.linkSync(`${root}/alpha/sub1/f1`, `${root}/alpha/sub4/link-to-sub1`);
  fs.linkSync(`${root}/beta/sub2/f2`, `${root}/top-link`);
  fs.linkSync(`${root}/beta/sub2/f2`, b(root, 'beta', Buffer.concat([HOSTILE_NAMES[1]!, Buffer.from('-dir')]), 'third-name'));
  fs.linkSync(`${root}/gamma/sub3/f3`, `${root}/gamma/sub3/same-dir-link`);
  fs.symlinkSync('../alpha/sub0/f0', `${root}/beta/sub1/symlink`);
  execFileSync('mkfifo', [`${root}/gamma/sub2/fifo`]);
  execFileSync('mknod', [`${root}/gamma/sub2/null-dev`, 'c', '1', '3']);
  execFileSync('truncate', ['-s', '64M', `${root}/alpha/sub3/sparse`]);
  fs.appendFileSync(`${root}/alpha/sub3/sparse`, 'end');
  execFileSync('setfattr', ['-n', 'user.livesync', '-v', 'kept', `${root}/alpha/sub2/f1`]);
  execFileSync('setfacl', ['-m', 'u:4242:rw', `${root}/beta/sub0/f0`]);
  fs.chownSync(`${root}/gamma/sub1/f4`, 12345, 23456);
  fs.chmodSync(`${root}/alpha/sub5`, 0o710);
  fs.mkdirSync(`${root}/gamma/mnt`);
  fs.utimesSync(`${root}/alpha`, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  return `${root}/gamma/mnt`;
}

/** Plain one-process rsync of the tree with livesync's flags: what the seed must equal. */
function reference(src: string, ref: string, excludes: string[] = []): number {
  const out = execFileSync('rsync', [...MIGRATION_FLAGS, ...compileExcludes(excludes).rsyncArgs(), '--stats', `${src}/`, `${ref}/`], { encoding: 'latin1' });
  return parseStats(out).entries;
}

async function runSeed(src: string, dst: string, workers: number, excludes: string[] = []): Promise<{ result: SeedResult; events: LivesyncEvent[] }> {
  const bus = new EventBus();
  const events: LivesyncEvent[] = [];
  bus.subscribe((e) => events.push(e));
  // a small split policy so this small tree is split like a big one: two levels, many lists
  const split = { ...SPLIT_POLICY, dirUnitsPerWorker: 4 };
  const ex = compileExcludes(excludes);
  const result = await seed({ source: src, target: dst, excludeArgs: ex.rsyncArgs(), workers, maxDeleteCount: 0, bus, isExcluded: ex.isExcluded, split });
  return { result, events };
}

const ino = (p: string): number => fs.statSync(p).ino;

test('a parallel seed into an empty target equals one plain rsync, hard links across lists included', { skip }, async () => {
  using src = tmpfsDir('seed-src');
  using dst = tmpfsDir('seed-dst');
  using ref = tmpfsDir('seed-ref');
  using inner = tmpfsDir('seed-inner');
  fs.writeFileSync(`${inner.path}/must-not-be-copied`, 'x');
  const mnt = zoo(src.path);
  execFileSync('mount', ['--bind', inner.path, mnt]);
  try {
    const entries = reference(src.path, ref.path);
    const { result, events } = await runSeed(src.path, dst.path, 3);
    assert.equal(result.outcome, 'ok', result.message);
    assert.ok(result.runs > 3, `split into several rsync runs (${result.runs})`);
    const start = events.find((e) => e.type === 'seed-start');
    assert.ok(start?.type === 'seed-start' && start.workers === 3, 'seed-start reports 3 workers');
    assert.deepEqual(differences(ref.path, dst.path), [], 'identical to the plain rsync: content, modes, owners, mtimes, links, xattrs, ACLs');
    assert.equal(result.entries, entries, 'entry count as one plain rsync counts it');
    assert.equal(ino(`${dst.path}/alpha/sub0/f0`), ino(`${dst.path}/gamma/sub5/link-to-alpha`), 'link across top-level directories');
    assert.equal(ino(`${dst.path}/beta/sub2/f2`), ino(`${dst.path}/top-link`), 'link between a split level and a list');
    assert.equal(fs.readdirSync(`${dst.path}/gamma/mnt`).length, 0, 'mount point created, never entered (-x)');
    assert.ok(fs.statSync(`${dst.path}/alpha/sub3/sparse`).blocks * 512 < 1024 * 1024, 'sparse file stays sparse with --inplace');
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('a parallel seed into a target with extraneous and stale entries deletes and fixes them at every level', { skip }, async () => {
  using src = tmpfsDir('seed-src');
  using dst = tmpfsDir('seed-dst');
  using ref = tmpfsDir('seed-ref');
  zoo(src.path);
  reference(src.path, ref.path);
  fs.mkdirSync(`${dst.path}/extra-top/x`, { recursive: true });
  fs.mkdirSync(`${dst.path}/alpha/extra-second`, { recursive: true });
  fs.mkdirSync(`${dst.path}/beta/sub1`, { recursive: true });
  fs.writeFileSync(`${dst.path}/beta/sub1/extra-deep`, 'x');
  fs.writeFileSync(`${dst.path}/top-file`, 'stale content of another size');
  fs.writeFileSync(`${dst.path}/stale-link`, 'x');
  const { result } = await runSeed(src.path, dst.path, 2);
  assert.equal(result.outcome, 'ok', result.message);
  assert.deepEqual(differences(ref.path, dst.path), []);
});

test('one worker is one plain recursive rsync', { skip }, async () => {
  using src = tmpfsDir('seed-src');
  using dst = tmpfsDir('seed-dst');
  using ref = tmpfsDir('seed-ref');
  zoo(src.path);
  const entries = reference(src.path, ref.path);
  const { result, events } = await runSeed(src.path, dst.path, 1);
  assert.equal(result.outcome, 'ok', result.message);
  assert.equal(result.runs, 1);
  assert.equal(result.entries, entries);
  assert.deepEqual(differences(ref.path, dst.path), []);
  const done = events.find((e) => e.type === 'seed-done');
  assert.ok(done && done.type === 'seed-done' && done.files === result.files && done.files > 0);
});

for (const [what, excludes] of [
  ['last-component excludes (directories as rsync arguments)', ['*.tmp', 'cache/']],
  ['an anchored exclude (every list through --files-from)', ['*.tmp', 'cache/', '/beta/sub2']],
] as const) {
  test(`a parallel seed with ${what} leaves out exactly what one plain rsync leaves out`, { skip }, async () => {
    using src = tmpfsDir('seed-src');
    using dst = tmpfsDir('seed-dst');
    using ref = tmpfsDir('seed-ref');
    zoo(src.path);
    for (const dir of ['alpha/sub1', 'gamma/sub4/deep', 'beta/sub2']) {
      fs.mkdirSync(`${src.path}/${dir}/cache`, { recursive: true });
      fs.writeFileSync(`${src.path}/${dir}/cache/c`, 'cached');
      fs.writeFileSync(`${src.path}/${dir}/x.tmp`, 'tmp');
    }
    const entries = reference(src.path, ref.path, [...excludes]);
    const { result } = await runSeed(src.path, dst.path, 2, [...excludes]);
    assert.equal(result.outcome, 'ok', result.message);
    assert.deepEqual(differences(ref.path, dst.path), []);
    assert.equal(result.entries, entries);
    assert.equal(fs.existsSync(`${dst.path}/alpha/sub1/cache`), false);
  });
}

test('directories named like wildcards or options, given to rsync as arguments, are copied as themselves', { skip }, async () => {
  using src = tmpfsDir('seed-src');
  using dst = tmpfsDir('seed-dst');
  using ref = tmpfsDir('seed-ref');
  const names = ['a*', 'ab', '[x]', 'x', '-dash', '--delete', 'sp ace', 'new\nline', 'ünï', '?', 'a:b'];
  for (const n of names) {
    fs.mkdirSync(`${src.path}/${n}/sub`, { recursive: true });
    fs.writeFileSync(`${src.path}/${n}/sub/f`, n);
  }
  const entries = reference(src.path, ref.path);
  const { result } = await runSeed(src.path, dst.path, 2);
  assert.equal(result.outcome, 'ok', result.message);
  assert.ok(result.runs >= 4, `lists ran (${result.runs} runs)`);
  assert.deepEqual(differences(ref.path, dst.path), []);
  assert.equal(result.entries, entries);
});

test('a hard link between two directories of one list but different parents (two rsync runs) is kept', { skip }, async () => {
  using src = tmpfsDir('seed-src');
  using dst = tmpfsDir('seed-dst');
  for (const d of ['a/x', 'a/z', 'b/y']) fs.mkdirSync(`${src.path}/${d}`, { recursive: true });
  fs.writeFileSync(`${src.path}/a/x/f`, 'linked');
  fs.linkSync(`${src.path}/a/x/f`, `${src.path}/b/y/g`);
  // sorted units a/x, a/z, b/y dealt into 2 lists: a/x and b/y share a list, one run per parent
  const split = { ...SPLIT_POLICY, chunksPerWorker: 1 };
  const result = await seed({ source: src.path, target: dst.path, excludeArgs: [], workers: 2, maxDeleteCount: 0, bus: new EventBus(), isExcluded: () => false, split });
  assert.equal(result.outcome, 'ok', result.message);
  assert.ok(result.runs >= 5, `levels, three list runs, the link pass, levels again (${result.runs} runs)`);
  assert.equal(ino(`${dst.path}/a/x/f`), ino(`${dst.path}/b/y/g`));
});

test('a seed whose rsync skipped its deletions after a listing I/O error says so (the whole tree is passed again)', { skip }, async () => {
  using src = tmpfsDir('seed-ioerr-src');
  using dst = tmpfsDir('seed-ioerr-dst');
  // a path longer than PATH_MAX: rsync cannot list it, flags an I/O error and skips every deletion of the run
  const deep = `${src.path}/deep`;
  fs.mkdirSync(deep);
  const fd = fs.openSync(deep, 'r');
  try {
    let dirFd = fd;
    for (let i = 0; i < 18; i++) {
      const name = 'x'.repeat(250);
      execFileSync('mkdir', [name], { cwd: `/proc/self/fd/${dirFd}` });
      const next = fs.openSync(`/proc/self/fd/${dirFd}/${name}`, 'r');
      if (dirFd !== fd) fs.closeSync(dirFd);
      dirFd = next;
    }
    if (dirFd !== fd) fs.closeSync(dirFd);
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(`${src.path}/a`, 'a');
  fs.writeFileSync(`${dst.path}/extra`, 'extraneous');
  for (const workers of [1, 2]) {
    const { result } = await runSeed(src.path, dst.path, workers);
    assert.equal(result.deletionsSkipped, true, `${workers} worker(s): ${result.message}`);
    assert.ok(fs.existsSync(`${dst.path}/extra`), 'rsync really skipped the deletion');
  }
  execFileSync('rm', ['-rf', deep]);
  const { result } = await runSeed(src.path, dst.path, 2);
  assert.equal(result.deletionsSkipped, false, result.message);
  assert.ok(!fs.existsSync(`${dst.path}/extra`), 'deleted once rsync could list the tree');
});
