/**
 * The real CLI (bin/livesync status | flush | stop) against a control server in this process, serving a
 * StubJob: exit codes, one-line errors with a fix, --json, --watch, name resolution through the state dir.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlushResult } from '../../src/engine/job.ts';
import { runCli, serveStubJob, tempStateDir } from './stub-job.ts';

const serveStub = (stateDir: string, name: string) => serveStubJob(stateDir, name);

/** A ToolError reaches the user as exactly two lines: the problem, then the fix. */
function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, stderr);
  assert.match(lines[0]!, pattern);
  assert.match(lines[1]!, /^ {2}fix: /);
}

test('cli: status of a job that is not running exits 7 with a one-line error and a fix', async () => {
  using dir = tempStateDir();
  const named = await runCli(['status', 'srv-app', '--state-dir', dir.path]);
  assert.equal(named.code, 7);
  assertOneLineError(named.stderr, new RegExp(`^livesync: no livesync job named srv-app is running \\(no socket at ${dir.path}/srv-app.sock\\)$`));
  const unnamed = await runCli(['status'], { LIVESYNC_STATE_DIR: dir.path });
  assert.equal(unnamed.code, 7);
  assertOneLineError(unnamed.stderr, /^livesync: no livesync job is running in /);
  for (const verb of ['flush', 'stop']) {
    const r = await runCli([verb, 'srv-app', '--state-dir', dir.path]);
    assert.equal(r.code, 7, `${verb}: ${r.stderr}`);
  }
  assert.equal(named.stdout, '');
});

test('cli: bad flags exit 2 before contacting anything', async () => {
  using dir = tempStateDir();
  for (const args of [['status', 'a b'], ['flush', '--timeout', '0'], ['stop', '--timeout', 'soon'], ['status', '--watch', '--count', '-1']]) {
    const r = await runCli([...args, '--state-dir', dir.path]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('cli: status --json prints one object with the documented fields; the human view puts lag first', async () => {
  using dir = tempStateDir();
  await using stub = await serveStub(dir.path, 'srv-app');
  stub.job.bus.emit({ type: 'job', name: 'srv-app', source: '/srv/app', target: '/mnt/share', stateDir: dir.path, watcher: 'inotify' });
  stub.job.bus.emit({ type: 'state', state: 'in-sync' });
  stub.job.bus.emit({ type: 'queue', pendingPaths: 4, inFlightPaths: 1, oldestChangeAt: Date.now() - 1500 });
  stub.job.bus.emit({ type: 'path-failed', path: 'locked/file', message: 'Permission denied (13)', attempts: 2 });
  const json = await runCli(['status', '--json', '--state-dir', dir.path]);
  assert.equal(json.code, 0, json.stderr);
  const snapshot = JSON.parse(json.stdout) as Record<string, unknown>;
  for (const field of ['name', 'source', 'target', 'state', 'lagMs', 'pendingPaths', 'inFlightPaths', 'failedPaths', 'syncedFiles', 'syncedBytes', 'lastSyncAt', 'heartbeatLagMs', 'watchedDirs', 'unwatchedDirs', 'overflows', 'seed']) {
    assert.ok(field in snapshot, `missing ${field}`);
  }
  assert.equal(snapshot['state'], 'in-sync');
  assert.ok((snapshot['lagMs'] as number) >= 1500);
  assert.equal(snapshot['pendingPaths'], 4);
  assert.deepEqual((snapshot['failedPaths'] as Array<{ path: string }>).map((f) => f.path), ['locked/file']);

  const human = await runCli(['status', 'srv-app', '--state-dir', dir.path]);
  assert.equal(human.code, 0, human.stderr);
  const lines = human.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^lag \d+\.\d s {3}srv-app: in-sync, /);
  assert.ok(lines.length <= 24, 'fits one screen');
  assert.ok(lines.some((l) => l.includes('locked/file: Permission denied (13) (2 attempts)')));
});

test('cli: status --watch refreshes (frames, or JSON lines) and shows the lag sparkline', async () => {
  using dir = tempStateDir();
  await using stub = await serveStub(dir.path, 'w');
  stub.job.bus.emit({ type: 'queue', pendingPaths: 1, inFlightPaths: 0, oldestChangeAt: Date.now() - 3000 });
  const frames = await runCli(['status', '--watch', '--count', '2', '--interval', '20', '--state-dir', dir.path]);
  assert.equal(frames.code, 0, frames.stderr);
  assert.equal(frames.stdout.split('\n').filter((l) => l.startsWith('lag ')).length, 2);
  assert.match(frames.stdout, /\n {2}lag, last \d+ (?:s|min) [▁▂▃▄▅▆▇█ ]+ max \d/);
  const jsonLines = await runCli(['status', '--watch', '--json', '--count', '3', '--interval', '20', '--state-dir', dir.path]);
  assert.equal(jsonLines.code, 0, jsonLines.stderr);
  const objects = jsonLines.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { name: string });
  assert.equal(objects.length, 3);
  assert.equal(objects[0]?.name, 'w');
});

test('cli: with two jobs running the name is required, and either can be addressed', async () => {
  using dir = tempStateDir();
  await using _a = await serveStub(dir.path, 'alpha');
  await using _b = await serveStub(dir.path, 'beta');
  const unnamed = await runCli(['status', '--state-dir', dir.path]);
  assert.equal(unnamed.code, 2);
  assertOneLineError(unnamed.stderr, /^livesync: 2 livesync jobs are running in .*: alpha \(pid \d+\), beta \(pid \d+\)$/);
  for (const name of ['alpha', 'beta']) {
    const r = await runCli(['status', name, '--json', '--state-dir', dir.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { name: string }).name, name);
  }
});

test('cli: flush exit codes follow the job\'s answer', async () => {
  using dir = tempStateDir();
  await using stub = await serveStub(dir.path, 'f');
  const cases: Array<[FlushResult, number, RegExp]> = [
    [{ ok: true, durationMs: 30 }, 0, /^$/],
    [{ ok: false, reason: 'timeout', message: '12 paths still pending' }, 10, /^livesync: flush of job f timed out: 12 paths still pending$/],
    [{ ok: false, reason: 'degraded', message: '3 paths failing' }, 9, /^livesync: flush of job f refused: the job is degraded: 3 paths failing$/],
    [{ ok: false, reason: 'halted', message: 'source root vanished' }, 9, /^livesync: flush of job f refused: the job is halted/],
    [{ ok: false, reason: 'stopping', message: 'stop requested' }, 7, /^livesync: flush of job f interrupted/],
  ];
  for (const [answer, code, stderr] of cases) {
    stub.job.flushAnswer = answer;
    const r = await runCli(['flush', '--timeout', '2500', '--state-dir', dir.path]);
    assert.equal(r.code, code, `${answer.ok ? 'ok' : answer.reason}: ${r.stderr}`);
    if (code === 0) assert.match(r.stdout, /^flushed f: every change made before the call is on the target \(30 ms\)\n$/);
    else assertOneLineError(r.stderr, stderr);
  }
  assert.deepEqual(stub.job.flushCalls, [2500, 2500, 2500, 2500, 2500]);
});

test('cli: stop returns once the daemon process has exited', async () => {
  using dir = tempStateDir();
  await using stub = await serveStub(dir.path, 's');
  const r = await runCli(['stop', 's', '--state-dir', dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `stopped s (pid ${stub.job.info.pid})\n`);
  assert.equal(stub.job.stopCalls, 1);
});
