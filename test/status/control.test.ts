/**
 * The control server and client over a real unix socket in a temp state dir: socket mode and owner, stale
 * socket cleanup under the lock, the protocol's answers to good and bad requests, and clean shutdown.
 * The job is a StubJob (real EventBus, scripted flush) standing in for the engine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { ControlClient } from '../../src/control/client.ts';
import { MAX_LINE_CHARS } from '../../src/control/protocol.ts';
import { serveControl } from '../../src/control/server.ts';
import { acquireJobLock } from '../../src/daemon/lock.ts';
import { jobPaths } from '../../src/daemon/paths.ts';
import { ToolError } from '../../src/errors/errors.ts';
import { StatusTracker } from '../../src/status/tracker.ts';
import { StubJob, tempStateDir } from './stub-job.ts';

async function setUp(name = 'ctl') {
  const dir = tempStateDir();
  const paths = jobPaths(dir.path, name);
  const job = new StubJob(name, dir.path);
  const tracker = new StatusTracker(job.bus);
  const lock = await acquireJobLock(paths);
  const server = await serveControl(job, tracker, lock, { version: '0.1.0' });
  return {
    dir, paths, job, tracker, lock, server,
    async [Symbol.asyncDispose]() {
      await server.close();
      tracker[Symbol.dispose]();
      await lock.release();
      await job[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

/** Sends raw lines and collects the parsed answers until `count` arrived (or the server closed). */
function raw(socketPath: string, text: string, count: number): Promise<{ frames: Array<Record<string, unknown>>; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: socketPath });
    const frames: Array<Record<string, unknown>> = [];
    let buffer = '';
    let closed = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) frames.push(JSON.parse(line) as Record<string, unknown>);
      if (frames.length >= count) socket.end();
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ frames, closed }));
    socket.on('end', () => (closed = true));
    socket.write(text);
  });
}

test('control: the socket is 0600, owned by us, and answers hello and status', async () => {
  await using t = await setUp();
  const st = statSync(t.paths.socket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, process.getuid!());
  t.job.bus.emit({ type: 'job', name: 'ctl', source: '/srv/app', target: '/mnt/share', stateDir: t.dir.path, watcher: 'inotify' });
  t.job.bus.emit({ type: 'batch-done', id: 1, paths: 2, files: 2, bytes: 10, durationMs: 5, lagMs: 3 });
  await using client = await ControlClient.connect(t.paths);
  const hello = await client.request('hello', { client: 'test' });
  assert.equal(hello.protocol, 1);
  assert.equal(hello.job.pid, t.job.info.pid);
  assert.deepEqual(hello.methods, ['hello', 'status', 'status-text', 'flush', 'stop', 'cutover']);
  const status = await client.request('status', { historyS: 60 });
  assert.equal(status.name, 'ctl');
  assert.equal(status.syncedFiles, 2);
  assert.equal(status.pid, t.job.info.pid, 'the pid the engine did not announce comes from JobInfo');
  assert.equal(status.version, '0.1.0');
  assert.equal(status.lagHistory?.samplesMs.length, 60);
});

test('control: flush passes the timeout and returns the job\'s answer as data', async () => {
  await using t = await setUp();
  await using client = await ControlClient.connect(t.paths);
  assert.deepEqual(await client.request('flush', { timeoutMs: 1234 }), { ok: true, durationMs: 12 });
  t.job.flushAnswer = { ok: false, reason: 'degraded', message: '3 paths failing' };
  assert.deepEqual(await client.request('flush', { timeoutMs: 5 }), { ok: false, reason: 'degraded', message: '3 paths failing' });
  assert.deepEqual(t.job.flushCalls, [1234, 5]);
});

test('control: bad requests get an error answer with a stable reason; good ones on the same line stream still work', async () => {
  await using t = await setUp();
  const lines = [
    'not json',
    JSON.stringify([1, 2]),
    JSON.stringify({ v: 1, method: 'status' }),
    JSON.stringify({ v: 2, id: 'a', method: 'status' }),
    JSON.stringify({ v: 1, id: 'b', method: 'explode' }),
    JSON.stringify({ v: 1, id: 'c', method: 'flush', params: { timeoutMs: -1 } }),
    JSON.stringify({ v: 1, id: 'd', method: 'status', params: { historyS: 5, typo: 1 } }),
    JSON.stringify({ v: 1, id: 'e', method: 'status' }),
  ];
  const { frames } = await raw(t.paths.socket, `${lines.join('\n')}\n`, lines.length);
  const byReason = frames.map((f) => (f['ok'] ? `ok:${String(f['id'])}` : `${String(f['id'])}:${(f['error'] as { reason: string }).reason}`));
  assert.deepEqual(byReason.sort(), ['a:unsupported-version', 'b:unknown-method', 'c:bad-params', 'd:bad-params', 'null:bad-json', 'null:bad-request', 'null:bad-request', 'ok:e'].sort());
  for (const f of frames) assert.equal(f['v'], 1);
});

test('control: an over-long request line is refused and the connection closed', async () => {
  await using t = await setUp();
  const { frames, closed } = await raw(t.paths.socket, 'x'.repeat(MAX_LINE_CHARS + 10), 1);
  assert.equal((frames[0]?.['error'] as { reason: string } | undefined)?.reason, 'request-too-large');
  assert.equal(closed, true);
});

test('control: a stale socket left by a crashed daemon is removed under the lock', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'crashed');
  // A real process listens on the socket path and is killed: the socket file stays behind.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(paths.socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(statSync(paths.socket).isSocket());
  await assert.rejects(ControlClient.connect(paths), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.equal(err.exitCode, 7);
    assert.match(err.message, /no livesync job named crashed is running \(stale socket at/);
    return true;
  });
  await using job = new StubJob('crashed', dir.path);
  using tracker = new StatusTracker(job.bus);
  await using lock = await acquireJobLock(paths);
  await using server = await serveControl(job, tracker, lock);
  await using client = await ControlClient.connect(paths);
  assert.equal((await client.request('status', {})).state, 'starting');
  assert.equal(server.socketPath, paths.socket);
});

test('control: stop answers once the job stopped and tells the lifecycle', async () => {
  await using t = await setUp();
  let told = false;
  void t.server.stopRequested.then(() => (told = true));
  await using client = await ControlClient.connect(t.paths);
  assert.deepEqual(await client.request('stop', {}), { stopped: true });
  assert.equal(t.job.stopCalls, 1);
  assert.equal(told, true);
});

test('control: closing ends open connections, removes the socket, and clients see why', async () => {
  const t = await setUp();
  const client = await ControlClient.connect(t.paths);
  await client.request('hello', {});
  assert.equal(t.server.connections, 1);
  await t.server.close();
  await client.closed;
  assert.equal(existsSync(t.paths.socket), false);
  await assert.rejects(client.request('status', {}), (err: unknown) => err instanceof ToolError && err.code === 'E_CONTROL_CLOSED' && err.exitCode === 7);
  await t[Symbol.asyncDispose]();
});
