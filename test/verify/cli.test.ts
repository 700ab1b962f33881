/**
 * `livesync verify` through the real CLI (bin/livesync): exit 0 when identical, 8 with every difference
 * listed (text and --json), 2 for bad flags or trees, and the job form (`verify NAME --state-dir D`) after a
 * cutover, where it compares the kept old tree with the job's source path, and while a real job mirrors.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { VerifyReport } from '../../src/verify/types.ts';
import { cliSync as cli, Daemon } from '../helpers/daemon.ts';
import { copyTree, workspace } from './helpers.ts';

function tree(prefix: string): ReturnType<typeof workspace> {
  const ws = workspace(prefix);
  mkdirSync(join(ws.src, 'docs'));
  writeFileSync(join(ws.src, 'docs/readme'), 'hello\n');
  writeFileSync(join(ws.src, '-n'), 'a name like a flag\n');
  copyTree(ws.src, ws.dst);
  return ws;
}

test('identical trees: exit 0, "identical"; --json has the documented fields', () => {
  using ws = tree('cli-same');
  const text = cli(['verify', '--source', ws.src, '--target', ws.dst]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^identical$/m);
  const json = cli(['verify', '--source', ws.src, '--target', ws.dst, '--json', '--checksum']);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as VerifyReport;
  assert.equal(report.identical, true);
  assert.deepEqual(report.compared, { files: 2, dirs: 2, symlinks: 0, other: 0, bytesHashed: 6 + 19 });
  assert.deepEqual(report.differences, []);
  assert.deepEqual(report.inFlight, []);
  assert.equal(typeof report.durationMs, 'number');
  assert.equal(json.stdout.trim().split('\n').length, 1, 'one JSON object on one line');
});

test('differences: exit 8, each listed with both values (text and --json)', () => {
  using ws = tree('cli-diff');
  chmodSync(join(ws.dst, '-n'), 0o600);
  rmSync(join(ws.dst, 'docs/readme'));
  const text = cli(['verify', '--source', ws.src, '--target', ws.dst, '--no-recheck']);
  assert.equal(text.code, 8, text.stderr);
  assert.match(text.stdout, /mode +-n\n +source: 0644\n +target: 0600/);
  assert.match(text.stdout, /missing +docs\/readme\n +source: file\n +target: \(absent\)/);
  assert.match(text.stdout, /^DIFFERENT: /m);
  const json = cli(['verify', '--source', ws.src, '--target', ws.dst, '--json', '--recheck-delay', '10']);
  assert.equal(json.code, 8, json.stderr);
  const report = JSON.parse(json.stdout) as VerifyReport;
  assert.equal(report.identical, false);
  assert.deepEqual(
    report.differences.filter((d) => d.kind !== 'mtime'),
    [
      { path: '-n', kind: 'mode', source: '0644', target: '0600' },
      { path: 'docs/readme', kind: 'missing', source: 'file', target: null },
    ],
  );
});

test('bad flags and trees: exit 2, one line naming the problem and a fix, nothing compared', () => {
  using ws = tree('cli-bad');
  const cases: Array<[string[], RegExp]> = [
    [['--source', ws.src], /--target is missing/],
    [['--source', ws.src, '--target', join(ws.root, 'nope')], /target .*nope cannot be read \(ENOENT\)/],
    [['--source', ws.src, '--target', join(ws.src, 'docs/readme')], /is not a directory/],
    [['--source', ws.src, '--target', ws.src], /same directory/],
    [['--source', ws.src, '--target', ws.dst, '--sample', '0'], /invalid --sample/],
    [['--source', ws.src, '--target', ws.dst, '--jobs', '0'], /invalid --jobs/],
    [['--source', ws.src, '--target', ws.dst, '--mtime-precision', 'fortnight'], /invalid --mtime-precision/],
    [['--source', ws.src, '--target', ws.dst, '--exclude', ''], /invalid exclude pattern/],
    [['myjob', '--source', ws.src, '--target', ws.dst], /both given/],
  ];
  for (const [args, message] of cases) {
    const res = cli(['verify', ...args]);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, message);
    assert.match(res.stderr, /\n {2}fix: /);
    assert.equal(res.stdout, '');
  }
});

test('--exclude leaves paths out (rsync rules, the mirror\'s language)', () => {
  using ws = tree('cli-exclude');
  writeFileSync(join(ws.dst, 'docs/readme'), 'changed\n');
  assert.equal(cli(['verify', '--source', ws.src, '--target', ws.dst, '--no-recheck']).code, 8);
  const res = cli(['verify', '--source', ws.src, '--target', ws.dst, '--no-recheck', '--exclude', '/docs/']);
  assert.equal(res.code, 0, res.stdout);
});

test('job form after a cutover: the kept old tree (<state-dir>/<name>/old) vs the source path', () => {
  using ws = tree('cli-job');
  const stateDir = mkdtempSync(join(tmpdir(), 'livesync-verify-state-'));
  try {
    // what a cut-over job leaves: its record, and the old tree kept under the state dir; the share (here
    // ws.dst) is now at the source path
    mkdirSync(join(stateDir, 'app'));
    copyTree(ws.src, join(stateDir, 'app/old'));
    writeFileSync(join(stateDir, 'app.json'), JSON.stringify({ schema: 1, name: 'app', source: ws.dst, target: '/mnt/share', pid: 1, startedAt: 0, version: '0' }));
    const same = cli(['verify', 'app', '--state-dir', stateDir, '--json']);
    assert.equal(same.code, 0, same.stderr + same.stdout);
    const report = JSON.parse(same.stdout) as VerifyReport & { job: { name: string; mode: string } };
    assert.deepEqual(report.job, { name: 'app', mode: 'after-cutover' });
    assert.equal(report.source, join(stateDir, 'app/old'));
    assert.equal(cli(['verify', '--state-dir', stateDir]).code, 0, 'the only cut-over job is found without a name');
    writeFileSync(join(ws.dst, 'docs/new'), 'written after the cutover\n');
    assert.equal(cli(['verify', 'app', '--state-dir', stateDir, '--no-recheck']).code, 8);
    const none = cli(['verify', 'other', '--state-dir', stateDir]);
    assert.equal(none.code, 7, none.stderr);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('job form while mirroring: a running `livesync start` job verifies identical once in sync', async () => {
  using ws = tree('cli-running');
  const stateDir = mkdtempSync(join(tmpdir(), 'livesync-verify-state-'));
  try {
    await using daemon = new Daemon([ws.src, ws.dst, '--state-dir', stateDir, '--name', 'live']);
    await daemon.waitState('in-sync');
    const res = cli(['verify', 'live', '--state-dir', stateDir, '--json', '--checksum']);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const report = JSON.parse(res.stdout) as VerifyReport & { job: { mode: string } };
    assert.equal(report.job.mode, 'mirroring');
    assert.equal(report.target, ws.dst);
    assert.equal(await daemon.stop(), 0);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
