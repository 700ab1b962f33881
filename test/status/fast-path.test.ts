/**
 * The start-up fast path of `livesync status` (src/cli/main.ts, src/status/cli-flags.ts): for every command
 * line it gives exactly what the commander path gives (LIVESYNC_NO_FAST_PATH=1): stdout, stderr, exit code.
 * The stub job runs on a fixed clock so both runs print the same snapshot. Also checks that the fast path
 * really skips commander (a module-load trace), and which command lines it leaves to commander.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveControl } from '../../src/control/server.ts';
import { acquireJobLock } from '../../src/daemon/lock.ts';
import { jobPaths } from '../../src/daemon/paths.ts';
import { parseStatusArgs, STATUS_FLAGS } from '../../src/status/cli-flags.ts';
import { StatusTracker } from '../../src/status/tracker.ts';
import { runCli, StubJob, tempStateDir, type CliResult } from './stub-job.ts';

const NOW = 1_790_000_000_000;
const clock = (): number => NOW;

async function serveStub(stateDir: string, name: string) {
  const job = new StubJob(name, stateDir, clock);
  const tracker = new StatusTracker(job.bus, { now: clock });
  const lock = await acquireJobLock(jobPaths(stateDir, name));
  const server = await serveControl(job, tracker, lock, { version: '0.1.0' });
  job.bus.emit({ type: 'job', name, source: '/srv/app', target: '/mnt/share', stateDir, watcher: 'inotify' });
  job.bus.emit({ type: 'state', state: 'in-sync' });
  job.bus.emit({ type: 'queue', pendingPaths: 4, inFlightPaths: 1, oldestChangeAt: NOW - 1500 });
  job.bus.emit({ type: 'path-failed', path: 'locked/file', message: 'Permission denied (13)', attempts: 2 });
  return {
    async [Symbol.asyncDispose]() {
      await server.close();
      tracker[Symbol.dispose]();
      await lock.release();
      await job[Symbol.asyncDispose]();
    },
  };
}

/** Runs `args` through the fast path and through commander; both must agree. Returns the fast path's result. */
async function bothPaths(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const [fast, commander] = await Promise.all([runCli(args, env), runCli(args, { ...env, LIVESYNC_NO_FAST_PATH: '1' })]);
  assert.deepEqual(fast, commander, `livesync ${args.join(' ')}: the fast path and commander differ`);
  return fast;
}

test('status fast path: --json, the human view, a named and an unnamed job print what commander prints', async () => {
  using dir = tempStateDir();
  await using _stub = await serveStub(dir.path, 'srv-app');
  const json = await bothPaths(['status', 'srv-app', '--json', '--state-dir', dir.path]);
  assert.equal(json.code, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { pendingPaths: number }).pendingPaths, 4);
  const inline = await bothPaths(['status', '--json', `--state-dir=${dir.path}`]);
  assert.equal(inline.stdout, json.stdout);
  const human = await bothPaths(['status', 'srv-app', '--state-dir', dir.path]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^lag 1\.5 s {3}srv-app: in-sync, /);
  const env = await bothPaths(['status'], { LIVESYNC_STATE_DIR: dir.path });
  assert.equal(env.stdout, human.stdout);
  const watched = await bothPaths(['status', '--watch', '--json', '--count', '2', '--interval', '10', '--state-dir', dir.path]);
  assert.equal(watched.stdout.trimEnd().split('\n').length, 2);
});

test('status fast path: --help, bad flags, bad values and no job running behave as with commander', async () => {
  using dir = tempStateDir();
  const help = await bothPaths(['status', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: livesync status \[options\] \[name\]/);
  for (const flag of STATUS_FLAGS) assert.ok(help.stdout.includes(`--${flag.long}`), `--help lists --${flag.long}`);
  for (const args of [['--bogus'], ['-j'], ['--json=yes'], ['--count'], ['a', 'b'], ['--watch', '--count', '-1'], ['--interval', '0'], ['bad name!'], ['--', 'x']]) {
    const r = await bothPaths(['status', ...args, '--state-dir', dir.path]);
    assert.equal(r.code, 2, `status ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
  const relative = await bothPaths(['status', '--state-dir', 'relative/dir']);
  assert.equal(relative.code, 2);
  const named = await bothPaths(['status', 'srv-app', '--json', '--state-dir', dir.path]);
  assert.equal(named.code, 7);
  assert.match(named.stderr, /^livesync: no livesync job named srv-app is running \(no socket at .*\)\n {2}fix: /);
  const unnamed = await bothPaths(['status', '--json', '--state-dir', dir.path]);
  assert.equal(unnamed.code, 7);
  assert.match(unnamed.stderr, /^livesync: no livesync job is running in /);
});

test('status fast path: takes plain command lines only, and never loads commander', async () => {
  const plain: string[][] = [[], ['job'], ['--json'], ['job', '--json', '--state-dir', '/run/x'], ['--state-dir=/run/x', 'job'], ['--watch', '--interval', '500', '--count', '3']];
  for (const args of plain) assert.notEqual(parseStatusArgs(args), null, args.join(' '));
  assert.deepEqual(parseStatusArgs(['job', '--json', '--state-dir', '/run/x']), { name: 'job', values: { json: true, stateDir: '/run/x', interval: '1000' } });
  const unusual: string[][] = [['--help'], ['-h'], ['--bogus'], ['--json=1'], ['--state-dir'], ['--state-dir', '--json'], ['a', 'b'], ['--', 'a'], ['-x']];
  for (const args of unusual) assert.equal(parseStatusArgs(args), null, args.join(' '));

  using dir = tempStateDir();
  const trace = join(dir.path, 'loaded.txt');
  const hook = "import{registerHooks}from'node:module';import{appendFileSync}from'node:fs';registerHooks({load(u,c,n){appendFileSync(process.env.LIVESYNC_LOAD_TRACE,u+'\\n');return n(u,c)}})";
  const r = await runCli(['status', 'x', '--json', '--state-dir', dir.path], { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(hook)}`, LIVESYNC_LOAD_TRACE: trace });
  assert.equal(r.code, 7, r.stderr);
  const loaded = readFileSync(trace, 'utf8');
  assert.match(loaded, /src\/status\/show\.ts/);
  assert.doesNotMatch(loaded, /commander|src\/cli\/commands\//, 'the fast path loaded commander or a command definition');
  rmSync(trace);
});
