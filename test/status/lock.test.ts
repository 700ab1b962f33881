/**
 * State dir layout, job names, the job lock and the job records, on real files in a temp state dir. A second
 * holder is a real second process; a dead holder is a process that has exited.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { acquireJobLock } from '../../src/daemon/lock.ts';
import { defaultJobName, jobPaths, normalizeStateDir, validateJobName } from '../../src/daemon/paths.ts';
import { listRunningJobs, publishJobRecord, readJobRecord, resolveJob } from '../../src/daemon/registry.ts';
import { ToolError } from '../../src/errors/errors.ts';
import { tempStateDir, TOP } from './stub-job.ts';

const rejectsWith = (code: string, exitCode: number, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ToolError, `expected a ToolError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.exitCode, exitCode);
  if (message) assert.match(err.message, message);
  assert.ok(err.hint, 'a ToolError names the fix');
  return true;
};

/** A pid no process has any more. */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid;
}

test('job names: valid, invalid, and the default derived from the source path', () => {
  for (const ok of ['srv-app', 'a', 'A.b_c-9', 'x'.repeat(64)]) assert.equal(validateJobName(ok), ok);
  for (const bad of ['', 'a b', 'a/b', '..', '.', 'x'.repeat(65), 'é']) assert.throws(() => validateJobName(bad), rejectsWith('E_BAD_JOB_NAME', 2));
  const derived: Array<[string, string]> = [
    ['/srv/app', 'srv-app'],
    ['/srv/app/', 'srv-app'],
    ['/', 'root'],
    ['/var/lib/my app', 'var-lib-my_app'],
    ['/.hidden/x', '_hidden-x'],
  ];
  for (const [source, name] of derived) assert.equal(defaultJobName(source), name, source);
  const long = defaultJobName(`/${'deep/'.repeat(30)}leaf`);
  assert.ok(long.length <= 64 && long.includes('leaf'), long);
  validateJobName(long);
});

test('state dir: flag over env over default; must be absolute', () => {
  assert.equal(normalizeStateDir('/a', { LIVESYNC_STATE_DIR: '/b' }), '/a');
  assert.equal(normalizeStateDir(undefined, { LIVESYNC_STATE_DIR: '/b/' }), '/b');
  assert.equal(normalizeStateDir(undefined, {}), '/run/livesync');
  assert.throws(() => normalizeStateDir('rel', {}), rejectsWith('E_BAD_STATE_DIR', 2, /--state-dir/));
  assert.throws(() => normalizeStateDir(undefined, { LIVESYNC_STATE_DIR: '' }), rejectsWith('E_BAD_STATE_DIR', 2, /LIVESYNC_STATE_DIR/));
});

test('job paths: <name>.sock/.lock/.json; a socket path too long for sun_path is refused', () => {
  assert.deepEqual(jobPaths('/run/livesync', 'srv-app'), {
    name: 'srv-app', stateDir: '/run/livesync', socket: '/run/livesync/srv-app.sock', lock: '/run/livesync/srv-app.lock', record: '/run/livesync/srv-app.json',
  });
  assert.throws(() => jobPaths(`/${'d'.repeat(60)}`, 'x'.repeat(64)), rejectsWith('E_SOCKET_PATH_TOO_LONG', 3));
});

test('lock: held once; a second holder in this process is refused naming the pid', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(join(dir.path, 'state'), 'srv-app');
  await using lock = await acquireJobLock(paths);
  assert.equal(statSync(paths.stateDir).mode & 0o777, 0o700, 'the state dir is created private');
  assert.equal(JSON.parse(readFileSync(paths.lock, 'utf8')).pid, process.pid);
  await assert.rejects(acquireJobLock(paths), rejectsWith('E_ALREADY_RUNNING', 4, new RegExp(`named srv-app is already running \\(pid ${process.pid}\\)`)));
  await lock.release();
  assert.equal(existsSync(paths.lock), false);
  await lock.release(); // idempotent
});

test('lock: a second livesync process is refused while the first holds it', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'twice');
  await using _lock = await acquireJobLock(paths);
  const lockModule = pathToFileURL(join(TOP, 'src', 'daemon', 'lock.ts')).href;
  const script = `import { acquireJobLock } from ${JSON.stringify(lockModule)};
    try { await acquireJobLock(${JSON.stringify(paths)}); process.exit(0); }
    catch (err) { process.stderr.write(err.message); process.exit(err.exitCode ?? 1); }`;
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], (err, _out, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr }),
    );
  });
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, new RegExp(`already running \\(pid ${process.pid}\\)`));
});

test('lock: a dead holder\'s lock (crash, or a recycled pid) is taken over', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'crashed');
  for (const stale of [{ pid: deadPid(), startTime: 1, acquiredAt: 0 }, { pid: process.pid, startTime: 1, acquiredAt: 0 }]) {
    writeFileSync(paths.lock, JSON.stringify(stale));
    const lock = await acquireJobLock(paths);
    const holder = JSON.parse(readFileSync(paths.lock, 'utf8'));
    assert.equal(holder.pid, process.pid);
    assert.notEqual(holder.startTime, 1);
    await lock.release();
  }
});

test('lock: a foreign file in place of the lock is not overwritten', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'foreign');
  writeFileSync(paths.lock, 'not a lock');
  await assert.rejects(acquireJobLock(paths), rejectsWith('E_LOCK', 3, /not a livesync lock/));
  assert.equal(readFileSync(paths.lock, 'utf8'), 'not a lock');
});

test('lock: release leaves a lock that is no longer ours', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'replaced');
  const lock = await acquireJobLock(paths);
  writeFileSync(paths.lock, JSON.stringify({ pid: 1, startTime: 1 }));
  await lock.release();
  assert.equal(existsSync(paths.lock), true);
});

test('state dir: one others can write to is refused', async () => {
  using dir = tempStateDir();
  chmodSync(dir.path, 0o777);
  await assert.rejects(acquireJobLock(jobPaths(dir.path, 'x')), rejectsWith('E_STATE_DIR_UNSAFE', 3, /not private/));
});

test('records: published under the lock, read back, removed on dispose', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'rec');
  await using lock = await acquireJobLock(paths);
  {
    await using _record = await publishJobRecord(lock, { source: '/srv/app', target: '/mnt/share', startedAt: 1234, version: '0.1.0' });
    assert.equal(statSync(paths.record).mode & 0o777, 0o600);
    assert.deepEqual(await readJobRecord(paths), { schema: 1, name: 'rec', pid: process.pid, source: '/srv/app', target: '/mnt/share', startedAt: 1234, version: '0.1.0' });
  }
  assert.equal(existsSync(paths.record), false);
  await assert.rejects(readJobRecord(paths), rejectsWith('E_NOT_RUNNING', 7, /no livesync job named rec is running \(no record at/));
});

test('records: a record left by a dead daemon does not count as running', async () => {
  using dir = tempStateDir();
  const paths = jobPaths(dir.path, 'gone');
  writeFileSync(paths.record, JSON.stringify({ schema: 1, name: 'gone', source: '/a', target: '/b', pid: deadPid(), startedAt: 1, version: '0' }));
  await assert.rejects(readJobRecord(paths), rejectsWith('E_NOT_RUNNING', 7, /has exited/));
});

test('resolve: the name may be omitted with exactly one job running; several must be named', async () => {
  using dir = tempStateDir();
  await assert.rejects(resolveJob(undefined, dir.path), rejectsWith('E_NOT_RUNNING', 7, /no livesync job is running in/));
  await assert.rejects(resolveJob(undefined, join(dir.path, 'missing')), rejectsWith('E_NOT_RUNNING', 7));
  writeFileSync(join(dir.path, 'stale.lock'), JSON.stringify({ pid: deadPid(), startTime: 1 }));
  await using _a = await acquireJobLock(jobPaths(dir.path, 'alpha'));
  assert.equal((await resolveJob(undefined, dir.path)).name, 'alpha');
  assert.equal((await resolveJob('other', dir.path)).name, 'other');
  await using _b = await acquireJobLock(jobPaths(dir.path, 'beta'));
  assert.deepEqual((await listRunningJobs(dir.path)).map((j) => j.paths.name), ['alpha', 'beta']);
  await assert.rejects(resolveJob(undefined, dir.path), rejectsWith('E_WHICH_JOB', 2, /2 livesync jobs are running in .*: alpha \(pid \d+\), beta \(pid \d+\)/));
});
