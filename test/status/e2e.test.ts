/**
 * End to end with the real daemon: `bin/livesync start` on tmpfs mounts (the suite's private mount namespace),
 * driven through the real CLI (status, flush, stop) and its metrics endpoint, the way an operator's scripts
 * would. Status while a 20k-file burst is in flight and after flush; flush as a barrier for writes made right
 * before it; metrics consistent with status; socket mode and owner; two jobs in one state dir; a second start
 * refused; stop and restart with pending work; a job that is not running; `status --watch` on a terminal
 * (under script(1)) and off one. One shared state dir; job j1 has metrics, j2 batches only when it stops.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ControlClient } from '../../src/control/client.ts';
import { jobPaths } from '../../src/daemon/paths.ts';
import type { StatusSnapshot } from '../../src/status/snapshot.ts';
import { cli, CLI, Daemon } from '../helpers/daemon.ts';
import { rootSkipReason, tmpfsDir } from '../helpers/ns.ts';
import { differences } from '../helpers/oracle.ts';
import { assertOneLineError, cookies, metricsUrl, scrape, sleep, startJob, statusOf, underScript, waitIdle, writeBurst, type Rig } from './e2e-helpers.ts';
import { value, type parseExposition } from './exposition.ts';

const skip = rootSkipReason();
const BURST = 20_000;
/** the in-place redraw is `ESC[nA` (n lines up), `\r`, `ESC[J` (clear below) */
const ESC = String.fromCharCode(0x1b);

describe('status end to end (real daemon, real CLI)', { skip, timeout: 90_000 }, () => {
  const rig = {} as Rig;

  before(async () => {
    rig.daemons = [];
    rig.state = tmpfsDir('e2e-state', '16m', '700');
    for (const k of ['src1', 'dst1', 'src2', 'dst2'] as const) rig[k] = tmpfsDir(`e2e-${k}`, '256m');
    writeBurst(join(rig.src1.path, 'seeded'), 200, 'seed');
    writeBurst(join(rig.src2.path, 'keep'), 50, 'seed');
    // j2 batches only when it stops (delay and max-wait at their maximum, no heartbeat): its pending work is known
    [rig.j1, rig.j2] = await Promise.all([
      startJob(rig, rig.src1.path, rig.dst1.path, 'j1', ['--metrics', '127.0.0.1:0']),
      startJob(rig, rig.src2.path, rig.dst2.path, 'j2', ['--delay', '600000', '--max-wait', '3600000', '--no-heartbeat']),
    ]);
  });

  after(async () => {
    for (const d of rig.daemons ?? []) await d[Symbol.asyncDispose]();
    for (const m of [rig.state, rig.src1, rig.dst1, rig.src2, rig.dst2]) m?.[Symbol.dispose]();
  });

  test('socket 0600 owned by root, lock and record private, metrics on the port the kernel chose', async () => {
    const paths = jobPaths(rig.state.path, 'j1');
    const sock = statSync(paths.socket);
    assert.ok(sock.isSocket());
    assert.equal(sock.mode & 0o777, 0o600);
    assert.equal(sock.uid, 0);
    assert.equal(statSync(rig.state.path).mode & 0o777, 0o700);
    for (const file of [paths.lock, paths.record]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    const record = JSON.parse(readFileSync(paths.record, 'utf8')) as Record<string, unknown>;
    assert.equal(record['pid'], rig.j1.child.pid);
    assert.equal(record['source'], rig.src1.path);
    // --metrics 127.0.0.1:0: the bound port is published in the record
    const url = metricsUrl(rig.state.path, 'j1');
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)\/metrics$/.exec(url)?.[1]);
    assert.ok(port > 0, url);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
    assert.ok(rig.j1.records.some((r) => r.event === 'info' && String(r['message']).includes(url)), 'the log names the bound metrics address');
    assert.equal('metrics' in JSON.parse(readFileSync(jobPaths(rig.state.path, 'j2').record, 'utf8')), false, 'no metrics without --metrics');
  });

  test('status while a 20k-file burst is in flight (lag > 0, queue > 0), then flush: lag 0, queue 0', async (t) => {
    const url = metricsUrl(rig.state.path, 'j1');
    writeBurst(join(rig.src1.path, 'burst'), BURST, 'b');
    let seen: StatusSnapshot | null = null;
    let scrapedLag = 0;
    for (let i = 0; i < 20 && seen === null; i++) {
      const [s, m] = await Promise.all([statusOf(rig.state.path, 'j1'), scrape(url)]);
      scrapedLag = Math.max(scrapedLag, value(m.samples, 'livesync_lag_seconds') ?? 0);
      if (s.lagMs > 0 && s.pendingPaths + s.inFlightPaths > 0) seen = s;
      else if (s.syncedFiles >= BURST) break; // everything landed before we looked: the burst was too small for this machine
    }
    assert.ok(seen, 'a status during the burst showed lag > 0 and queued paths');
    t.diagnostic(`during the burst: lag ${seen.lagMs} ms, ${seen.pendingPaths} pending, ${seen.inFlightPaths} in flight, state ${seen.state}`);
    assert.ok(seen.oldestChangeAt !== null && seen.oldestChangeAt <= seen.at - seen.lagMs + 1);
    assert.ok(scrapedLag > 0, 'livesync_lag_seconds > 0 during the burst');

    const flushed = await cli(['flush', 'j1', '--state-dir', rig.state.path, '--timeout', '60000']);
    assert.equal(flushed.code, 0, flushed.stderr);
    assert.match(flushed.stdout, /^flushed j1: every change made before the call is on the target \(.+\)\n$/);
    const s = await statusOf(rig.state.path, 'j1');
    assert.equal(s.state, 'in-sync');
    assert.ok(s.syncedFiles >= BURST, `syncedFiles ${s.syncedFiles}`);
    assert.deepEqual(s.failedPaths, []);
    assert.deepEqual(differences(rig.src1.path, rig.dst1.path), []);
    // The flush removes its cookie as it answers; that removal is synced next and (engine bug, see the todo test
    // below) briefly counts as lag. Once it has landed: lag 0, nothing queued.
    const idle = await waitIdle(() => statusOf(rig.state.path, 'j1'));
    t.diagnostic(`first status after flush: lag ${s.lagMs} ms, ${s.pendingPaths} pending, ${s.inFlightPaths} in flight`);
    assert.deepEqual([idle.lagMs, idle.oldestChangeAt, idle.pendingPaths, idle.inFlightPaths, idle.state], [0, null, 0, 0, 'in-sync']);
  });

  test('heartbeat cookies never count as lag (idle job sampled across a heartbeat)', async () => {
    await using client = await ControlClient.connect(jobPaths(rig.state.path, 'j1'));
    const first = await waitIdle(() => client.request('status', {}));
    let last = first;
    const deadline = Date.now() + 7_000; // HEARTBEAT_INTERVAL_MS is 5 s
    while (Date.now() < deadline && last.heartbeatAt === first.heartbeatAt) {
      last = await client.request('status', {});
      assert.equal(last.lagMs, 0, `lag ${last.lagMs} ms with ${last.pendingPaths} pending on an idle job`);
      await sleep(5);
    }
    for (let i = 0; i < 40; i++) {
      last = await client.request('status', {}); // while the heartbeat cookie is being synced
      assert.equal(last.lagMs, 0);
      await sleep(5);
    }
    assert.notEqual(last.heartbeatAt, first.heartbeatAt, 'a heartbeat landed meanwhile');
    assert.ok(typeof last.heartbeatLagMs === 'number' && last.heartbeatLagMs >= 0);
  });

  test('flush is a barrier: files written right before it are on the target when it exits 0', async () => {
    const dir = join(rig.src1.path, 'barrier');
    mkdirSync(dir);
    for (let round = 0; round < 5; round++) {
      const want = new Map<string, Buffer | null>();
      const put = (rel: string, content: Buffer | string): void => {
        const abs = join(rig.src1.path, rel);
        writeFileSync(abs, content);
        want.set(rel, Buffer.from(content));
      };
      for (let i = 0; i < 200; i++) put(`barrier/r${round}-${i}`, `round ${round} file ${i}\n`);
      // same size, new content, same second as the previous round's write: must not be skipped as unchanged
      if (round > 0) for (let i = 0; i < 20; i++) put(`barrier/r${round - 1}-${i}`, `ROUND ${round - 1} FILE ${i}\n`);
      mkdirSync(join(dir, `sub${round}`));
      put(`barrier/sub${round}/deep`, `deep ${round}`);
      put(`barrier/big${round}`, Buffer.alloc(4 * 1024 * 1024, round + 1));
      if (round > 0) {
        unlinkSync(join(dir, `r${round - 1}-199`));
        want.set(`barrier/r${round - 1}-199`, null);
        renameSync(join(dir, `r${round - 1}-198`), join(dir, `moved${round}`));
        want.set(`barrier/r${round - 1}-198`, null);
        want.set(`barrier/moved${round}`, readFileSync(join(dir, `moved${round}`)));
      }
      const r = await cli(['flush', 'j1', '--state-dir', rig.state.path]);
      assert.equal(r.code, 0, `round ${round}: ${r.stderr}`);
      for (const [rel, content] of want) {
        const target = join(rig.dst1.path, rel);
        if (content === null) assert.equal(existsSync(target), false, `round ${round}: ${rel} deleted on the target`);
        else assert.ok(existsSync(target) && readFileSync(target).equals(content), `round ${round}: ${rel} on the target with its content`);
      }
    }
  });

  test('after flush, status never shows lag for the flush cookie', async () => {
    await using client = await ControlClient.connect(jobPaths(rig.state.path, 'j1'));
    for (let i = 0; i < 5; i++) {
      writeFileSync(join(rig.src1.path, 'barrier', `socket-${i}`), 'x');
      const flushed = await client.request('flush', { timeoutMs: 30_000 });
      assert.equal(flushed.ok, true);
      for (let k = 0; k < 30; k++) {
        const s = await client.request('status', {});
        assert.equal(s.lagMs, 0, `lag ${s.lagMs} ms, ${s.pendingPaths} pending, ${s.inFlightPaths} in flight, ${k} statuses after flush`);
        await sleep(5);
      }
    }
  });

  test('metrics scraped and parsed: livesync_ names present, values consistent with status', async () => {
    const url = metricsUrl(rig.state.path, 'j1');
    const flushed = await cli(['flush', 'j1', '--state-dir', rig.state.path]);
    assert.equal(flushed.code, 0, flushed.stderr);
    // a heartbeat may land between the two reads: take a scrape framed by two identical statuses
    let pair: { s: StatusSnapshot; m: ReturnType<typeof parseExposition> } | null = null;
    for (let i = 0; i < 10 && pair === null; i++) {
      const before = await statusOf(rig.state.path, 'j1');
      const m = await scrape(url);
      const afterwards = await statusOf(rig.state.path, 'j1');
      const same = (['syncedFiles', 'syncedBytes', 'batches', 'changes', 'pendingPaths', 'inFlightPaths', 'heartbeatAt', 'state', 'lagMs'] as const).every((k) => before[k] === afterwards[k]);
      if (!same || afterwards.lagMs !== 0) await waitIdle(() => statusOf(rig.state.path, 'j1')); // lag grows between reads: compare at rest
      if (same && afterwards.lagMs === 0) pair = { s: afterwards, m };
    }
    assert.ok(pair, 'a scrape between two identical statuses');
    const { s, m } = pair;
    const names = new Set(m.samples.map((x) => x.name));
    for (const name of [
      'livesync_lag_seconds', 'livesync_heartbeat_lag_seconds', 'livesync_pending_paths', 'livesync_in_flight_paths', 'livesync_failed_paths',
      'livesync_batch_duration_seconds_bucket', 'livesync_batch_duration_seconds_count', 'livesync_batch_lag_seconds_count', 'livesync_batches_total',
      'livesync_synced_files_total', 'livesync_synced_bytes_total', 'livesync_failures_total', 'livesync_overflows_total', 'livesync_changes_total',
      'livesync_watched_dirs', 'livesync_unwatched_dirs', 'livesync_state', 'livesync_last_sync_timestamp_seconds', 'livesync_start_time_seconds', 'livesync_job_info',
    ]) {
      assert.ok(names.has(name), `missing ${name}`);
    }
    for (const [name, type] of m.types) {
      assert.ok(name.startsWith('livesync_'), name);
      if (type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
    }
    const expected: Array<[string, Record<string, string>, number]> = [
      ['livesync_lag_seconds', {}, s.lagMs / 1000],
      ['livesync_pending_paths', {}, s.pendingPaths],
      ['livesync_in_flight_paths', {}, s.inFlightPaths],
      ['livesync_failed_paths', {}, s.failedPathCount],
      ['livesync_synced_files_total', {}, s.syncedFiles],
      ['livesync_synced_bytes_total', {}, s.syncedBytes],
      ['livesync_batches_total', { result: 'ok' }, s.batches],
      ['livesync_batches_total', { result: 'failed' }, s.batchFailures],
      ['livesync_batch_duration_seconds_count', {}, s.batches],
      ['livesync_overflows_total', {}, s.overflows],
      ['livesync_changes_total', {}, s.changes],
      ['livesync_watched_dirs', {}, s.watchedDirs],
      ['livesync_unwatched_dirs', {}, s.unwatchedDirs],
      ['livesync_heartbeat_lag_seconds', {}, (s.heartbeatLagMs ?? 0) / 1000],
      ['livesync_state', { state: s.state }, 1],
      ['livesync_last_sync_timestamp_seconds', {}, (s.lastSyncAt ?? 0) / 1000],
      ['livesync_start_time_seconds', {}, (s.startedAt ?? 0) / 1000],
      ['livesync_job_info', { name: 'j1', source: rig.src1.path, target: rig.dst1.path, version: s.version ?? '' }, 1],
    ];
    for (const [name, labels, want] of expected) {
      const got = value(m.samples, name, labels);
      assert.ok(got !== undefined && Math.abs(got - want) < 1e-6, `${name}${JSON.stringify(labels)}: metrics ${got}, status ${want}`);
    }
    assert.equal(m.samples.filter((x) => x.name === 'livesync_state' && x.value === 1).length, 1, 'exactly one state is 1');
    assert.ok(s.syncedFiles >= BURST);
  });

  test('two jobs in one state dir: no name is a clear error listing both, each name works', async () => {
    const unnamed = await cli(['status', '--state-dir', rig.state.path]);
    assert.equal(unnamed.code, 2);
    assertOneLineError(unnamed.stderr, new RegExp(`^livesync: 2 livesync jobs are running in ${rig.state.path}: j1 \\(pid ${rig.j1.child.pid}\\), j2 \\(pid ${rig.j2.child.pid}\\)$`));
    assert.equal(unnamed.stdout, '');
    const flush = await cli(['flush', '--state-dir', rig.state.path]);
    assert.equal(flush.code, 2, flush.stderr);
    const [s1, s2] = await Promise.all([statusOf(rig.state.path, 'j1'), statusOf(rig.state.path, 'j2')]);
    assert.deepEqual([s1.name, s1.source, s1.target, s1.pid], ['j1', rig.src1.path, rig.dst1.path, rig.j1.child.pid]);
    assert.deepEqual([s2.name, s2.source, s2.target, s2.pid], ['j2', rig.src2.path, rig.dst2.path, rig.j2.child.pid]);
    assert.equal(s2.heartbeatLagMs, null, 'j2 runs with --no-heartbeat');
    const human = await cli(['status', 'j2', '--state-dir', rig.state.path]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^lag [\d.]+ m?s {3}j2: in-sync, /);
  });

  test('a second start with the same name is refused (exit 4), the running job is untouched', async () => {
    using src = tmpfsDir('e2e-src3', '16m');
    using dst = tmpfsDir('e2e-dst3', '16m');
    const second = new Daemon([src.path, dst.path, '--state-dir', rig.state.path, '--name', 'j1']);
    rig.daemons.push(second);
    assert.equal(await second.exited(), 4);
    assertOneLineError(second.stderr.join('\n'), new RegExp(`^livesync: a livesync job named j1 is already running \\(pid ${rig.j1.child.pid}\\)$`));
    const s = await statusOf(rig.state.path, 'j1');
    assert.equal(s.pid, rig.j1.child.pid);
    assert.equal(s.source, rig.src1.path);
    assert.ok(statSync(jobPaths(rig.state.path, 'j1').socket).isSocket(), 'the running job keeps its socket');
  });

  test('status --watch: in place on a terminal (script(1)), successive frames off one', async (t) => {
    const piped = await cli(['status', 'j1', '--state-dir', rig.state.path, '--watch', '--count', '2', '--interval', '100']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.includes(ESC), false, 'no terminal escapes when stdout is not a terminal');
    const frames = piped.stdout.trimEnd().split('\n\n');
    assert.equal(frames.length, 2, piped.stdout);
    for (const frame of frames) assert.match(frame, /^lag [\d.]+ m?s .*\n[^]*\n {2}lag, last \d+ (s|min) .* max \d/);
    const jsonLines = await cli(['status', 'j1', '--state-dir', rig.state.path, '--watch', '--json', '--count', '2', '--interval', '100']);
    assert.equal(jsonLines.code, 0, jsonLines.stderr);
    const objects = jsonLines.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as StatusSnapshot);
    assert.deepEqual(objects.map((o) => o.name), ['j1', 'j1']);

    if (spawnSync('script', ['--version']).status !== 0) {
      t.skip('script(1) from util-linux is not installed: the in-place TTY rendering is not exercised');
      return;
    }
    // script(1) takes a shell command line: the paths go through the environment, never into the command text
    const tty = await underScript('exec "$LIVESYNC_CLI" status j1 --watch --count 3 --interval 150', { LIVESYNC_CLI: CLI, LIVESYNC_STATE_DIR: rig.state.path });
    assert.equal(tty.code, 0, tty.out);
    const redraws = [...tty.out.matchAll(new RegExp(`${ESC}\\[(\\d+)A\r${ESC}\\[J`, 'g'))];
    assert.equal(redraws.length, 2, `frames 2 and 3 redraw over the previous one: ${JSON.stringify(tty.out)}`);
    const firstFrameLines = tty.out.slice(0, redraws[0]!.index).split('\r\n').length - 1;
    assert.equal(Number(redraws[0]![1]), firstFrameLines, 'the cursor goes up exactly one frame');
    assert.match(tty.out, /lag, last \d+ (s|min) [▁▂▃▄▅▆▇█ ]+ max /);
  });

  test('watchedDirs follows new directories without a heartbeat', async () => {
    const before = await statusOf(rig.state.path, 'j2');
    mkdirSync(join(rig.src2.path, 'newdir'));
    let s = before;
    for (let i = 0; i < 10 && s.watchedDirs === before.watchedDirs; i++) {
      await sleep(200);
      s = await statusOf(rig.state.path, 'j2');
    }
    assert.equal(s.watchedDirs, before.watchedDirs + 1);
  });

  test('stop with pending work writes <name>.pending and exits 0; status then exits 7; restart converges', async () => {
    const paths = jobPaths(rig.state.path, 'j2');
    writeBurst(join(rig.src2.path, 'keep'), 300, 'pending'); // rewrites of files known to the target
    writeBurst(join(rig.src2.path, 'fresh'), 2_000, 'pending');
    let s = await statusOf(rig.state.path, 'j2');
    for (let i = 0; i < 50 && s.changes === 0; i++) s = await statusOf(rig.state.path, 'j2');
    assert.ok(s.pendingPaths > 0 && s.lagMs > 0, `pending ${s.pendingPaths}, lag ${s.lagMs}`);
    const stopped = await cli(['stop', 'j2', '--state-dir', rig.state.path]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, `stopped j2 (pid ${rig.j2.child.pid})\n`);
    assert.equal(await rig.j2.exited(), 0);
    const pendingFile = join(rig.state.path, 'j2.pending');
    assert.equal(statSync(pendingFile).mode & 0o777, 0o600);
    const pending = readFileSync(pendingFile, 'latin1').split('\0');
    assert.ok(pending.some((e) => /^\d+:fresh$/.test(e)), `the new directory is pending: ${pending.slice(0, 5).join(' | ')}`);
    assert.ok(pending.some((e) => /^\d+:keep\/f000299$/.test(e)), 'a rewritten file is pending');
    assert.equal(existsSync(join(rig.dst2.path, 'fresh')), false, 'pending work was not synced');
    for (const file of [paths.socket, paths.lock, paths.record]) assert.equal(existsSync(file), false, `${file} removed at stop`);

    const status = await cli(['status', 'j2', '--state-dir', rig.state.path]);
    assert.equal(status.code, 7);
    assertOneLineError(status.stderr, new RegExp(`^livesync: no livesync job named j2 is running \\(no socket at ${paths.socket}\\)$`));
    for (const verb of ['flush', 'stop']) assert.equal((await cli([verb, 'j2', '--state-dir', rig.state.path])).code, 7, verb);

    rig.j2 = await startJob(rig, rig.src2.path, rig.dst2.path, 'j2');
    assert.deepEqual(differences(rig.src2.path, rig.dst2.path), [], 'the restarted job brought the target in sync');
    assert.ok(rig.j2.records.some((r) => r.event === 'info' && /paths were pending when the job last stopped/.test(String(r['message']))), 'the restart reports the pending work');
    assert.equal(existsSync(pendingFile), false, 'and forgets it once the seed has reconciled it');

    // a crash leaves a stale socket and lock: status says so (exit 7), the next start cleans them up under the lock
    await rig.j2.stop('SIGKILL');
    assert.ok(existsSync(paths.socket), 'the killed daemon left its socket');
    const stale = await cli(['status', 'j2', '--state-dir', rig.state.path]);
    assert.equal(stale.code, 7);
    assertOneLineError(stale.stderr, /^livesync: no livesync job named j2 is running \(stale socket at .*: its daemon exited\)$/);
    rig.j2 = await startJob(rig, rig.src2.path, rig.dst2.path, 'j2');
    assert.equal((await statusOf(rig.state.path, 'j2')).pid, rig.j2.child.pid);
  });

  test('stop while a burst is in flight: exit 0, cookies removed; restart has 0 differences', async () => {
    writeBurst(join(rig.src1.path, 'burst2'), BURST, 'c');
    let s = await statusOf(rig.state.path, 'j1');
    for (let i = 0; i < 50 && s.inFlightPaths === 0 && s.pendingPaths === 0; i++) s = await statusOf(rig.state.path, 'j1');
    writeBurst(join(rig.src1.path, 'seeded'), 200, 'late'); // more work behind the in-flight batch
    const stopped = await cli(['stop', '--state-dir', rig.state.path, 'j1']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await rig.j1.exited(), 0);
    assert.ok(existsSync(join(rig.state.path, 'j1.pending')));
    assert.deepEqual(cookies(rig.src1.path), [], 'no cookie left in the source');
    assert.deepEqual(cookies(rig.dst1.path), [], 'no cookie left on the target');
    rig.j1 = await startJob(rig, rig.src1.path, rig.dst1.path, 'j1');
    const flushed = await cli(['flush', 'j1', '--state-dir', rig.state.path]);
    assert.equal(flushed.code, 0, flushed.stderr);
    assert.deepEqual(differences(rig.src1.path, rig.dst1.path), []);
  });
});
