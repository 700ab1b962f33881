/**
 * The pure parts of verify, table-driven: timestamp precision, attribute comparison, hard-link structure,
 * sampling, the in-flight rules, flag validation, rendering.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToolError } from '../../src/errors/errors.ts';
import { display } from '../../src/util/bpath.ts';
import { validateVerifyFlags } from '../../src/verify/cli-options.ts';
import { compareEntries } from '../../src/verify/compare.ts';
import { LinkChecker } from '../../src/verify/hardlinks.ts';
import { inFlightVerdict } from '../../src/verify/policy.ts';
import { comparePrecision, granularityOf, GranularityTracker, parsePrecision, sameAtPrecision, showTime } from '../../src/verify/precision.ts';
import { toDifference } from '../../src/verify/render.ts';
import { isSampled } from '../../src/verify/sample.ts';
import type { EntryInfo, Look, RawDifference } from '../../src/verify/types.ts';

test('granularity of a timestamp: the largest power of ten (<= 1 s) dividing its sub-second part', () => {
  const cases: Array<[bigint, number]> = [
    [1_700_000_000_000_000_000n, 1_000_000_000],
    [1_700_000_000_500_000_000n, 100_000_000],
    [1_700_000_000_123_000_000n, 1_000_000],
    [1_700_000_000_123_456_000n, 1_000],
    [1_700_000_000_123_456_789n, 1],
    [-1_500_000_000n, 100_000_000],
  ];
  for (const [ns, g] of cases) assert.equal(granularityOf(ns), g, String(ns));
  const t = new GranularityTracker();
  t.observe(1_700_000_000_000_000_000n);
  assert.equal(t.precision, 1_000_000_000, 'one whole second is evidence enough');
  t.observe(1_700_000_000_123_000_000n);
  assert.equal(t.precision, 1_000_000, 'two values at ms: 10^12 >= 10^9');
  t.observe(1_700_000_000_123_000_010n);
  assert.equal(t.precision, 1, '3 values, finest 10 ns: not enough evidence for 10 ns, so ns');
  for (let i = 1n; i <= 6n; i++) t.observe(1_700_000_000_123_000_010n + i * 10n);
  assert.equal(t.precision, 10, '9 distinct multiples of 10');
  t.observe(1_700_000_000_123_000_001n);
  assert.equal(t.precision, 1);
  const same = new GranularityTracker();
  for (let i = 0; i < 5; i++) same.observe(1_700_000_000_120_000_000n);
  assert.equal(same.precision, 1, 'one distinct value at 10 ms is no evidence');
});

test('mtimes compare truncated to the coarser side (filesystems truncate)', () => {
  assert.equal(comparePrecision(1, 1_000_000_000, 'auto'), 1_000_000_000);
  assert.equal(comparePrecision(1, 1_000, 1_000_000), 1_000_000);
  assert.equal(comparePrecision(1_000, 1, 1), 1_000);
  const cases: Array<[bigint, bigint, number, boolean]> = [
    [10_999_999_999n, 10_000_000_000n, 1_000_000_000, true], // 10.999999999 s kept as 10 s
    [10_999_999_999n, 11_000_000_000n, 1_000_000_000, false],
    [10_000_000_001n, 10_000_000_000n, 1, false],
    [10_000_000_001n, 10_000_000_000n, 1_000, true],
    [-1n, -1_000_000_000n, 1_000_000_000, true], // before 1970: floor, not toward zero
    [-1n, 0n, 1_000_000_000, false],
  ];
  for (const [a, b, p, same] of cases) assert.equal(sameAtPrecision(a, b, p), same, `${a} ${b} @${p}`);
  assert.equal(showTime(1_700_000_000_000_000_001n), '2023-11-14T22:13:20.000000001Z');
  assert.equal(showTime(-1n), '1969-12-31T23:59:59.999999999Z');
  assert.deepEqual(['auto', 'ns', 'us', 'ms', 's', '2s', '250', 'x', '0'].map(parsePrecision), ['auto', 1, 1_000, 1_000_000, 1_000_000_000, 2_000_000_000, 250, undefined, undefined]);
});

const base: EntryInfo = { kind: 'file', perm: 0o644, uid: 0, gid: 0, size: 5, mtimeNs: 1n, ctimeNs: 1n, inode: '1:1', nlink: 1, rdev: 0 };
const diff = (a: Partial<EntryInfo> | undefined, b: Partial<EntryInfo> | undefined, skipMtime = false): string[] => {
  const out: RawDifference[] = [];
  compareEntries('p', a && { ...base, ...a }, b && { ...base, ...b }, { xattrs: true, skipMtime }, out);
  return out.map((d) => `${d.kind} ${d.source} ${d.target}`);
};

test('compareEntries: one row per attribute that differs; type short-circuits; symlink modes are not compared', () => {
  assert.deepEqual(diff({}, {}), []);
  assert.deepEqual(diff({}, undefined), ['missing file null']);
  assert.deepEqual(diff(undefined, { kind: 'dir' }), ['extra null dir']);
  assert.deepEqual(diff({}, { kind: 'symlink', perm: 0o777 }), ['type file symlink']);
  assert.deepEqual(diff({ perm: 0o4755 }, { perm: 0o755, uid: 7 }), ['mode 04755 0755', 'owner 0:0 7:0']);
  assert.deepEqual(diff({ kind: 'symlink', perm: 0o777, link: 'a' }, { kind: 'symlink', perm: 0o755, link: 'b' }), ['symlink a b']);
  assert.deepEqual(diff({ kind: 'dir', size: 4096 }, { kind: 'dir', size: 60 }), []);
  assert.deepEqual(diff({ kind: 'char', rdev: 0x103 }, { kind: 'char', rdev: 0x105 }), ['device 1:3 1:5']);
  assert.deepEqual(diff({ mtimeNs: 2n }, {}), ['mtime null null']);
  assert.deepEqual(diff({ mtimeNs: 2n }, {}, true), []);
  assert.deepEqual(diff({ xattrs: { 'user.a': '01', 'security.selinux': 'aa' } }, { xattrs: { 'security.selinux': 'bb' } }), ['xattr user.a=0x01 null']);
  assert.deepEqual(diff({ xattrError: 'ENOTSUP' }, {}), [], 'a filesystem without xattrs has none');
  assert.deepEqual(diff({ xattrError: 'EACCES' }, {}), ['unreadable EACCES null']);
});

test('hard-link structure: groups must match on both sides, in both directions', () => {
  const look: Look = { kind: 'file', size: 1, mtimeNs: 1n, ctimeNs: 1n, inode: 'x' };
  const check = (records: Array<[string, string, string]>): string[] => {
    const c = new LinkChecker();
    for (const [rel, s, t] of records) c.add({ rel, source: s, target: t, look });
    return c.differences().map((d) => `${d.rel}: ${d.source} | ${d.target}`);
  };
  assert.deepEqual(check([['a', 's1', 't1'], ['b', 's1', 't1']]), []);
  assert.deepEqual(check([['a', 's1', 't1']]), [], 'other links outside the tree form a group of one');
  assert.deepEqual(check([['a', 's1', 't1'], ['b', 's1', 't2']]), ['a: linked with b | own inode', 'b: linked with a | own inode']);
  assert.deepEqual(check([['a', 's1', 't1'], ['b', 's2', 't1']]), ['a: own inode | linked with b', 'b: own inode | linked with a']);
  assert.deepEqual(check([['a', 's1', 't1'], ['b', 's1', 't1'], ['c', 's1', 't2']]).length, 3);
});

test('sampling: reproducible for a seed, close to the asked share, all at 100%', () => {
  const paths = Array.from({ length: 20_000 }, (_, i) => `dir${i % 97}/file${i}`);
  const picked = paths.filter((p) => isSampled(p, 10, 42));
  assert.ok(picked.length > 1_700 && picked.length < 2_300, String(picked.length));
  assert.deepEqual(paths.filter((p) => isSampled(p, 10, 42)), picked);
  assert.notDeepEqual(paths.filter((p) => isSampled(p, 10, 43)), picked);
  assert.equal(paths.filter((p) => isSampled(p, 100, 1)).length, paths.length);
});

test('in-flight rules: dirty, then changed, then settled, else a difference', () => {
  const rows: Array<[boolean, boolean, boolean, string | null]> = [
    [true, false, false, 'dirty'],
    [true, true, true, 'dirty'],
    [false, true, false, 'changed'],
    [false, true, true, 'changed'],
    [false, false, true, 'settled'],
    [false, false, false, null],
  ];
  for (const [dirty, sourceChanged, nowIdentical, verdict] of rows) assert.equal(inFlightVerdict({ dirty, sourceChanged, nowIdentical }), verdict);
});

test('flag validation: the trees, percentages and numbers', () => {
  const env = {};
  const ok = validateVerifyFlags(undefined, { source: '/a', target: '/b', sample: '5%', jobs: '8', mtimePrecision: 'ms', recheck: false }, env);
  assert.deepEqual(ok.trees, { kind: 'pair', source: '/a', target: '/b' });
  assert.equal(ok.samplePercent, 5);
  assert.equal(ok.jobs, 8);
  assert.equal(ok.mtimePrecisionNs, 1_000_000);
  assert.equal(ok.recheckDelayMs, false);
  assert.deepEqual(validateVerifyFlags('app', { stateDir: '/run/x' }, env).trees, { kind: 'job', name: 'app', stateDir: '/run/x' });
  for (const [name, flags] of [
    [undefined, { source: '/a' }],
    ['app', { source: '/a', target: '/b' }],
    [undefined, { source: '/a', target: '/b', sample: '101' }],
    [undefined, { source: '/a', target: '/b', jobs: '1.5' }],
    ['bad/name', {}],
    [undefined, { stateDir: 'relative' }],
  ] as const) {
    assert.throws(() => validateVerifyFlags(name, flags, env), (e: unknown) => e instanceof ToolError && e.exitCode === 2, JSON.stringify(flags));
  }
});

test('rendering escapes paths and values; the root prints as "."', () => {
  const d = toDifference({ rel: 'a\nb', kind: 'symlink', source: 'x\ty', target: '\xff', look: null });
  assert.deepEqual(d, { path: 'a\\nb', kind: 'symlink', source: 'x\\ty', target: display('\xff') });
  assert.equal(toDifference({ rel: '', kind: 'mode', source: '0755', target: '0700', look: null }).path, '.');
});
