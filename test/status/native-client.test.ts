/**
 * `livesync status --json` through bin/livesync's C client (native/status-client.c, control method
 * `status-text`): the same bytes, exit code and stderr as the Node paths (its start-up fast path,
 * LIVESYNC_NO_NATIVE_STATUS=1, and commander, LIVESYNC_NO_FAST_PATH=1), including file names and messages that
 * need JSON escapes; the fall back to Node when no job answers (same one-line errors and exit codes); names and
 * state dirs with odd characters (only compared and quoted, never evaluated). Outputs are compared as bytes.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildNative } from '../../scripts/build-native.ts';
import { jobPaths } from '../../src/daemon/paths.ts';
import { CLI, serveStubJob, tempStateDir, TOP } from './stub-job.ts';

const CLIENT = join(TOP, 'native', 'build', 'status-client');
buildNative(); // scripts/setup.sh builds it; this makes sure it is there and up to date
const NOW = 1_790_000_000_000;
const clock = (): number => NOW;
/** latin1 "binary string" of UTF-8 bytes, as livesync keeps paths (src/util/bpath.ts) */
const bytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs in the temp dir `cwd` when given: a name a shell evaluated (`$(touch pwned)`) would leave a file there. */
function run(file: string, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, ...env }, encoding: 'buffer', timeout: 60_000, cwd }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

/** Node never starts: if it did, this NODE_OPTIONS would make it fail. Proves the C client answered alone. */
const NO_NODE = { NODE_OPTIONS: '--require=/nonexistent/livesync-node-must-not-start' };
const NODE_FAST = { LIVESYNC_NO_NATIVE_STATUS: '1' };
const COMMANDER = { LIVESYNC_NO_FAST_PATH: '1' };

/** A stub job on a fixed clock whose snapshot carries every kind of character JSON must escape. */
async function serveStub(stateDir: string, name: string) {
  const served = await serveStubJob(stateDir, name, clock);
  const job = served.job;
  job.bus.emit({ type: 'job', name, source: '/srv/app "quoted" \\ dir', target: '/mnt/share', stateDir, watcher: 'inotify' });
  job.bus.emit({ type: 'state', state: 'degraded', reason: 'target failing' });
  job.bus.emit({ type: 'queue', pendingPaths: 4, inFlightPaths: 1, oldestChangeAt: NOW - 1500 });
  job.bus.emit({ type: 'path-failed', path: bytes('dir/é 😀 "q" \\ tab\there\nnewline\x01\x7f'), message: 'Permission denied (13)', attempts: 2 });
  job.bus.emit({ type: 'path-failed', path: 'bad\xff\xfename', message: 'lone surrogate \ud800 and </script>', attempts: 1 });
  job.bus.emit({ type: 'error', code: 'E_X', message: 'line one\r\nline two \u2028 \u0000' });
  return served;
}

/** The C path (Node made unable to start), the Node fast path and commander print the same bytes. */
async function samePrinted(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  const [native, fast, commander] = await Promise.all([run(CLI, args, { ...env, ...NO_NODE }, cwd), run(CLI, args, { ...env, ...NODE_FAST }, cwd), run(CLI, args, { ...env, ...COMMANDER }, cwd)]);
  assert.equal(native.code, 0, `C path, livesync ${args.join(' ')}: ${native.stderr}`);
  assert.equal(native.stderr, '');
  for (const [label, other] of [['Node fast path', fast], ['commander', commander]] as const) {
    assert.equal(other.code, 0, `${label}: ${other.stderr}`);
    assert.equal(other.stderr, '');
    assert.ok(native.stdout.equals(other.stdout), `livesync ${args.join(' ')}: the C path and the ${label} print different bytes\n${native.stdout.toString('latin1')}\n---\n${other.stdout.toString('latin1')}`);
  }
  return native;
}

test('native status: the C client prints exactly what the Node paths print, in every accepted form', async () => {
  using dir = tempStateDir();
  await using _stub = await serveStub(dir.path, 'srv-app');
  const named = await samePrinted(['status', 'srv-app', '--json', '--state-dir', dir.path]);
  const snapshot = JSON.parse(named.stdout.toString('utf8')) as Record<string, unknown>;
  assert.equal(snapshot['state'], 'degraded');
  assert.equal(snapshot['pendingPaths'], 4);
  assert.equal(snapshot['source'], '/srv/app "quoted" \\ dir');
  const failed = snapshot['failedPaths'] as Array<{ path: string; error: string }>;
  assert.deepEqual(failed.map((f) => f.path).sort(), ['bad\\xff\\xfename', 'dir/é 😀 "q" \\ tab\there\nnewline\x01\x7f']);
  assert.ok(named.stdout.includes(Buffer.from('"lone surrogate \\ud800 and </script>"')), 'a lone surrogate stays escaped (well-formed JSON.stringify)');
  assert.ok(named.stdout.toString('utf8').endsWith('}\n'));
  // the other accepted command lines give the same text (fixed clock), also with Node unable to start
  for (const [args, env] of [
    [['status', '--json', 'srv-app', `--state-dir=${dir.path}`], {}],
    [['status', '--json', '--state-dir', dir.path], {}],
    [['status', '--json'], { LIVESYNC_STATE_DIR: dir.path }],
    [['status', '--state-dir', `${dir.path}/`, '--json'], {}],
  ] as Array<[string[], Record<string, string>]>) {
    const r = await samePrinted(args, env);
    assert.ok(r.stdout.equals(named.stdout), args.join(' '));
  }
  // the client itself: the reply copied as is
  const direct = await run(CLIENT, [jobPaths(dir.path, 'srv-app').socket, '2000']);
  assert.equal(direct.code, 0);
  assert.ok(direct.stdout.equals(named.stdout));
});

test('native status: a large answer (failed paths with long names) is read whole and printed as Node prints it', async () => {
  using dir = tempStateDir();
  await using stub = await serveStub(dir.path, 'big');
  for (let i = 0; i < 120; i++) stub.job.bus.emit({ type: 'path-failed', path: `long/${String(i).padStart(3, '0')}-${'é'.repeat(900)}`, message: `failed "${i}"`, attempts: 1 });
  const r = await samePrinted(['status', 'big', '--json', '--state-dir', dir.path]);
  assert.ok(r.stdout.length > 150_000, `only ${r.stdout.length} bytes`);
  assert.equal((JSON.parse(r.stdout.toString('utf8')) as { failedPathCount: number }).failedPathCount, 122);
});

test('native status: with no job running, a stale socket or a reply it does not understand, the Node CLI answers (same errors, same exit codes)', async () => {
  using dir = tempStateDir();
  const cases: Array<{ args: string[]; env?: Record<string, string>; code: number; stderr: RegExp }> = [
    { args: ['status', 'srv-app', '--json', '--state-dir', dir.path], code: 7, stderr: /^livesync: no livesync job named srv-app is running \(no socket at .*\)\n {2}fix: / },
    { args: ['status', '--json', '--state-dir', dir.path], code: 7, stderr: /^livesync: no livesync job is running in / },
    { args: ['status', '--json'], env: { LIVESYNC_STATE_DIR: join(dir.path, 'missing') }, code: 7, stderr: /^livesync: no livesync job is running in / },
    { args: ['status', '--json', '--state-dir', 'relative'], code: 2, stderr: /^livesync: invalid state dir "relative" \(from --state-dir\)/ },
    { args: ['status', '--json'], env: { LIVESYNC_STATE_DIR: '' }, code: 2, stderr: /^livesync: invalid state dir "" \(from LIVESYNC_STATE_DIR\)/ },
    { args: ['status', 'x'.repeat(64), '--json', '--state-dir', `${dir.path}/${'d'.repeat(60)}`], code: 3, stderr: /^livesync: control socket path .* is \d+ bytes; unix sockets allow 107\n/ },
  ];
  for (const c of cases) {
    const [viaShim, commander] = await Promise.all([run(CLI, c.args, c.env), run(CLI, c.args, { ...c.env, ...COMMANDER })]);
    assert.equal(viaShim.code, c.code, `${c.args.join(' ')}: ${viaShim.stderr}`);
    assert.match(viaShim.stderr, c.stderr);
    assert.equal(viaShim.stdout.length, 0);
    assert.deepEqual(viaShim, commander, `${c.args.join(' ')}: differs from the commander path`);
  }
  // the client alone says "use the full CLI" (75) and prints nothing; given a fallback command, it execs it
  const missing = await run(CLIENT, [join(dir.path, 'none.sock'), '2000']);
  assert.deepEqual([missing.code, missing.stdout.length], [75, 0]);
  const fellBack = await run(CLIENT, [join(dir.path, 'none.sock'), '2000', 'sh', '-c', 'echo "fell back: $*"; exit 7', 'sh', 'a b', '$(c)']);
  assert.deepEqual([fellBack.code, fellBack.stdout.toString(), fellBack.stderr], [7, 'fell back: a b $(c)\n', '']);
  const noFallback = await run(CLIENT, [join(dir.path, 'none.sock'), '2000', join(dir.path, 'no-such-program')]);
  assert.equal(noFallback.code, 127);
  assert.match(noFallback.stderr, /^livesync: cannot run .*no-such-program: No such file or directory\n$/);

  // a stale socket (its daemon died: a socket file nobody listens on): refused, then Node's "stale socket" line
  const stalePath = jobPaths(dir.path, 'gone').socket;
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', stalePath]);
  const staleArgs = ['status', 'gone', '--json', '--state-dir', dir.path];
  const [stale, staleCommander] = await Promise.all([run(CLI, staleArgs), run(CLI, staleArgs, COMMANDER)]);
  assert.equal(stale.code, 7, stale.stderr);
  assert.match(stale.stderr, /^livesync: no livesync job named gone is running \(stale socket at .*: its daemon exited\)\n/);
  assert.deepEqual(stale, staleCommander);

  // a listener that never answers: the client gives up after its timeout (the shim gives it 2 s), printing nothing
  const silent = createServer((s) => s.resume()); // reads (and so sees the client leave), never answers
  const silentPath = jobPaths(dir.path, 'mute').socket;
  await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
  try {
    const mute = await run(CLIENT, [silentPath, '200']);
    assert.deepEqual([mute.code, mute.stdout.length], [75, 0]);
  } finally {
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }

  // a listener that answers something else: the client does not understand it, Node names the protocol problem
  const garbage = createServer((s) => s.on('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
  const garbagePath = jobPaths(dir.path, 'odd').socket;
  await new Promise<void>((resolve) => garbage.listen(garbagePath, resolve));
  try {
    const bad = await run(CLIENT, [garbagePath, '2000']);
    assert.deepEqual([bad.code, bad.stdout.length], [75, 0]);
    const args = ['status', 'odd', '--json', '--state-dir', dir.path];
    const [viaShim, commander] = await Promise.all([run(CLI, args), run(CLI, args, COMMANDER)]);
    assert.equal(viaShim.code, 7, viaShim.stderr);
    assert.match(viaShim.stderr, /^livesync: job odd answered something that is not livesync control protocol v1: /);
    assert.deepEqual(viaShim, commander);
  } finally {
    await new Promise<void>((resolve) => garbage.close(() => resolve()));
  }
});

test('native status: odd names and state dirs are compared and quoted, never evaluated', async () => {
  using dir = tempStateDir();
  const cwd = join(dir.path, 'cwd');
  mkdirSync(cwd);
  const odd = ['$(touch pwned)', '`touch pwned`', 'a;touch pwned', 'a|touch pwned', 'a b', '*', '?', '[a]', '../x', 'x/y', 'line\nbreak', '-x', '', 'é', 'x'.repeat(65), '.', '..', '--json'];
  for (const name of odd) {
    const args = ['status', name, '--json', '--state-dir', dir.path];
    const [viaShim, commander] = await Promise.all([run(CLI, args, {}, cwd), run(CLI, args, COMMANDER, cwd)]);
    assert.notEqual(viaShim.code, 0, JSON.stringify(name));
    assert.deepEqual(viaShim, commander, `name ${JSON.stringify(name)}: differs from the commander path`);
  }
  assert.deepEqual(readdirSync(cwd), [], 'a name was evaluated by a shell');

  // a state dir full of shell and glob characters, a hidden job name, no name given: the C client answers
  const strange = join(dir.path, 'd $(touch pwned) `touch pwned` * ? [x] ;');
  mkdirSync(strange, { mode: 0o700 });
  await using _stub = await serveStub(strange, '.hidden');
  const r = await samePrinted(['status', '--json', '--state-dir', strange], {}, cwd);
  assert.equal((JSON.parse(r.stdout.toString('utf8')) as { name: string }).name, '.hidden');
  const named = await samePrinted(['status', '.hidden', '--json'], { LIVESYNC_STATE_DIR: strange }, cwd);
  assert.ok(named.stdout.equals(r.stdout));
  assert.deepEqual(readdirSync(cwd), [], 'a state dir was evaluated by a shell');
});
