/**
 * The restart reconcile reads xattrs and ACLs only where they can have changed since the last good point
 * (src/engine/last-good.ts): the daemon records the point while in sync, a kill -9 leaves it behind, and an
 * xattr or ACL change made while stopped, on either side, is still found and fixed. Without a usable record
 * (none, other roots or excludes, a root replaced, another boot, a wall clock stepped back) every xattr is
 * compared. The same walk lists the source's multi-link files as `find -links +1` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { Daemon } from '../helpers/daemon.ts';
import { populate } from '../helpers/churn.ts';
import { converge, until } from './helpers.ts';
import { LOCAL_SLACK_NS, lastGoodFile, readLastGood, type LastGoodRecord } from '../../src/engine/last-good.ts';
import { reconcile, type ReconcileOutcome } from '../../src/engine/reconcile.ts';
import { multiLinkFiles } from '../../src/sys/fsops.ts';

const skip = rootSkipReason();
const getfattr = (path: string, name: string): string => execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', name, path], { encoding: 'utf8' });
const setfattr = (path: string, name: string, value: string): void => void execFileSync('setfattr', ['-n', name, '-v', value, path]);

test('kill -9 after in-sync leaves a last good point; xattr and ACL changes made while down, on either side, are found', { skip, timeout: 120_000 }, async () => {
  using src = tmpfsDir('f-lg-src');
  using dst = tmpfsDir('f-lg-dst');
  using state = tmpfsDir('f-lg-state', '16m', '700');
  populate(src.path, 400, 8);
  for (const f of ['d0/file1', 'd1/file2', 'd2/file3', 'd3/file4']) setfattr(`${src.path}/${f}`, 'user.tag', 'before');
  const args = [src.path, dst.path, '--state-dir', state.path, '--name', 'lg'];
  const record = lastGoodFile(state.path, 'lg');
  {
    await using first = new Daemon(args);
    await first.waitState('in-sync', 60_000);
    assert.ok(await until(() => existsSync(record), 10_000), 'the last good point is recorded once in sync');
    await first.stop('SIGKILL');
  }
  assert.equal(readLastGood(record)?.source, src.path);
  setfattr(`${src.path}/d0/file1`, 'user.tag', 'changed-in-source');
  execFileSync('setfacl', ['-m', 'u:1234:r', `${src.path}/d1/file2`]);
  setfattr(`${dst.path}/d2/file3`, 'user.tag', 'tampered-on-target');
  execFileSync('setfattr', ['-x', 'user.tag', `${dst.path}/d3/file4`]);
  await using second = new Daemon(args);
  await second.waitState('in-sync', 60_000);
  const rec = second.records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('reconcile: compared '));
  assert.match(String(rec?.msg), /xattrs compared where changed since the last good point/);
  assert.deepEqual(await converge(src.path, dst.path, 30_000), [], 'every difference fixed');
  assert.equal(getfattr(`${dst.path}/d0/file1`, 'user.tag'), 'changed-in-source');
  assert.match(execFileSync('getfacl', ['-p', `${dst.path}/d1/file2`], { encoding: 'utf8' }), /user:1234:r--/);
  assert.equal(getfattr(`${dst.path}/d2/file3`, 'user.tag'), 'before');
  assert.equal(getfattr(`${dst.path}/d3/file4`, 'user.tag'), 'before');
  assert.equal(await second.stop(), 0);
});

/** A record as the daemon writes it, for these trees, P = now; `change` alters one field. */
function forge(src: string, dst: string, change: Partial<LastGoodRecord> = {}): LastGoodRecord {
  const id = (p: string): string => `${statSync(p).dev}:${statSync(p).ino}`;
  const base: LastGoodRecord = {
    version: 1,
    source: src,
    target: dst,
    sourceId: id(src),
    targetId: id(dst),
    excludes: [],
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim(),
    wallMs: Date.now(),
    monoNs: String(process.hrtime.bigint()),
  };
  return { ...base, ...change };
}

const planOf = (r: ReconcileOutcome): Extract<ReconcileOutcome, { kind: 'plan' }> => {
  assert.equal(r.kind, 'plan');
  return r as Extract<ReconcileOutcome, { kind: 'plan' }>;
};

test('last good point rules: a usable record skips pairs unchanged since; none, or an unusable one, compares every xattr', { skip, timeout: 60_000 }, async () => {
  using src = tmpfsDir('f-lgr-src');
  using dst = tmpfsDir('f-lgr-dst');
  using state = tmpfsDir('f-lgr-state', '16m', '700');
  populate(src.path, 50, 2);
  execFileSync('rsync', ['-aHAX', '--numeric-ids', '--modify-window=-1', `${src.path}/`, `${dst.path}/`]);
  // a difference older than any point recorded below (by more than the local margin, LOCAL_SLACK_NS + twice
  // tmpfs's granularity): only a full comparison can see it
  setfattr(`${dst.path}/d0/file1`, 'user.stale', 'x');
  await sleep(Number(LOCAL_SLACK_NS / 1_000_000n) + 300);
  const o = { source: src.path, target: dst.path, excludes: [] as string[], stateDir: state.path, name: 'lgr', maxDelete: null };
  const file = lastGoodFile(state.path, 'lgr');
  const changed = async (): Promise<{ paths: string[]; why: string }> => {
    const p = planOf(await reconcile(o));
    return { paths: p.plan.changes.map((c) => (c.kind === 'move' ? c.to : c.path)), why: p.plan.xattrs };
  };
  rmSync(file, { force: true });
  assert.deepEqual(await changed(), { paths: ['d0/file1'], why: 'no last good point recorded' });
  writeFileSync(file, JSON.stringify(forge(src.path, dst.path)));
  const used = await changed();
  assert.deepEqual(used.paths, [], 'pairs whose ctimes are older than the point are taken as agreed then');
  assert.match(used.why, /^xattrs compared where changed since the last good point .* \(source tmpfs: granularity <= \d+ ns; target tmpfs: /);
  const unusable: Array<[Partial<LastGoodRecord>, string]> = [
    [{ target: '/elsewhere' }, 'recorded for other roots or excludes'],
    [{ excludes: ['*.tmp'] }, 'recorded for other roots or excludes'],
    [{ targetId: '1:2' }, 'a root is not the one recorded'],
    [{ bootId: 'another-boot' }, 'recorded before a reboot'],
    [{ monoNs: String(process.hrtime.bigint() + 60_000_000_000n) }, 'recorded in the future'],
    // recorded as if the wall clock then were ten minutes ahead of where it is now for the same monotonic time
    [{ wallMs: Date.now() + 600_000 }, 'the wall clock was stepped back since'],
  ];
  for (const [change, why] of unusable) {
    writeFileSync(file, JSON.stringify(forge(src.path, dst.path, change)));
    assert.deepEqual(await changed(), { paths: ['d0/file1'], why: `last good point not used: ${why}` }, JSON.stringify(change));
  }
  writeFileSync(file, 'not json');
  assert.equal((await changed()).why, 'no last good point recorded');
});

test('the reconcile lists the multi-link files find lists, in the shape the hard-link index takes', { skip, timeout: 60_000 }, async () => {
  using src = tmpfsDir('f-lgm-src');
  using dst = tmpfsDir('f-lgm-dst');
  populate(src.path, 50, 2);
  execFileSync('rsync', ['-aHAX', '--numeric-ids', '--modify-window=-1', `${src.path}/`, `${dst.path}/`]);
  execFileSync('mkdir', ['-p', `${src.path}/new/dir`]);
  execFileSync('ln', [`${src.path}/d0/file1`, `${src.path}/new/dir/link`]);
  execFileSync('ln', [`${src.path}/d1/file2`, `${src.path}/d0/link2`]);
  const p = planOf(await reconcile({ source: src.path, target: dst.path, excludes: [], maxDelete: null }));
  const key = (f: { path: string; dev: number; ino: number | bigint }): string => `${f.dev}:${f.ino} ${f.path}`;
  assert.deepEqual(p.multiLinks.map(key).sort(), (await multiLinkFiles(src.path)).map(key).sort());
  assert.equal(p.multiLinks.length, 4);
});
