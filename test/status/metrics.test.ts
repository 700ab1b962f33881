/**
 * The metrics endpoint, scraped over real HTTP and parsed: every metric follows the events emitted on a real
 * EventBus (a StubJob's), and the --metrics address validation table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToolError } from '../../src/errors/errors.ts';
import { EventBus } from '../../src/events/event.ts';
import { validateMetricsAddress } from '../../src/metrics/address.ts';
import { startMetricsServer } from '../../src/metrics/server.ts';
import { StatusTracker } from '../../src/status/tracker.ts';
import { parseExposition, value } from './exposition.ts';

test('metrics: scraped over HTTP, every value follows the events', async () => {
  let now = 1_000_000;
  const bus = new EventBus(() => now);
  using tracker = new StatusTracker(bus, { now: () => now });
  await using server = await startMetricsServer(bus, tracker, { host: '127.0.0.1', port: 0 });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

  bus.emit({ type: 'job', name: 'srv-app', source: '/srv/app', target: '/mnt/share', stateDir: '/run/livesync', watcher: 'inotify', version: '0.1.0' });
  bus.emit({ type: 'state', state: 'in-sync' });
  bus.emit({ type: 'watch-ready', watchedDirs: 500, durationMs: 10, watcher: 'inotify' });
  bus.emit({ type: 'watch-failed', path: 'x', errno: 'ENOSPC', message: '' });
  bus.emit({ type: 'changes', count: 7 });
  bus.emit({ type: 'queue', pendingPaths: 12, inFlightPaths: 3, oldestChangeAt: now - 2500 });
  bus.emit({ type: 'batch-done', id: 1, paths: 3, files: 3, bytes: 4096, durationMs: 200, lagMs: 150 });
  bus.emit({ type: 'batch-done', id: 2, paths: 1, files: 1, bytes: 100, durationMs: 20, lagMs: 30 });
  bus.emit({ type: 'batch-failed', id: 3, exitCode: 23, outcome: 'retry', message: 'partial', retryInMs: 100 });
  bus.emit({ type: 'path-failed', path: 'a', message: 'EACCES', attempts: 1 });
  bus.emit({ type: 'path-failed', path: 'b', message: 'EACCES', attempts: 1 });
  bus.emit({ type: 'path-recovered', path: 'a' });
  bus.emit({ type: 'overflow', total: 1 });
  bus.emit({ type: 'overflow', total: 3 });
  bus.emit({ type: 'heartbeat', lagMs: 250 });
  bus.emit({ type: 'error', code: 'E_SEED', message: 'seed failed' });
  now += 500;

  const response = await fetch(server.url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parseExposition(await response.text());

  const expected: Array<[string, Record<string, string>, number]> = [
    ['livesync_lag_seconds', {}, 3],
    ['livesync_heartbeat_lag_seconds', {}, 0.25],
    ['livesync_pending_paths', {}, 12],
    ['livesync_in_flight_paths', {}, 3],
    ['livesync_failed_paths', {}, 1],
    ['livesync_synced_files_total', {}, 4],
    ['livesync_synced_bytes_total', {}, 4196],
    ['livesync_batches_total', { result: 'ok' }, 2],
    ['livesync_batches_total', { result: 'failed' }, 1],
    ['livesync_failures_total', { kind: 'batch' }, 1],
    ['livesync_failures_total', { kind: 'path' }, 2],
    ['livesync_failures_total', { kind: 'watch' }, 1],
    ['livesync_errors_total', { code: 'E_SEED' }, 1],
    ['livesync_overflows_total', {}, 3],
    ['livesync_changes_total', {}, 7],
    ['livesync_watched_dirs', {}, 500],
    ['livesync_unwatched_dirs', {}, 1],
    ['livesync_state', { state: 'in-sync' }, 1],
    ['livesync_state', { state: 'seeding' }, 0],
    ['livesync_state', { state: 'halted' }, 0],
    ['livesync_batch_duration_seconds_count', {}, 2],
    ['livesync_batch_duration_seconds_sum', {}, 0.22],
    ['livesync_batch_duration_seconds_bucket', { le: '0.025' }, 1],
    ['livesync_batch_duration_seconds_bucket', { le: '0.25' }, 2],
    ['livesync_batch_lag_seconds_count', {}, 2],
    ['livesync_last_sync_timestamp_seconds', {}, 1000],
    ['livesync_start_time_seconds', {}, 1000],
    ['livesync_job_info', { name: 'srv-app', source: '/srv/app', target: '/mnt/share', version: '0.1.0' }, 1],
  ];
  for (const [name, labels, want] of expected) {
    const got = value(samples, name, labels);
    assert.ok(got !== undefined && Math.abs(got - want) < 1e-9, `${name}${JSON.stringify(labels)}: got ${got}, want ${want}`);
  }
  // Conventions: livesync_ prefix, counters end in _total, one state series per state.
  for (const [name, type] of types) {
    assert.ok(name.startsWith('livesync_'), name);
    if (type === 'counter') assert.ok(name.endsWith('_total'), name);
  }
  assert.equal(samples.filter((s) => s.name === 'livesync_state' && s.value === 1).length, 1);
  assert.equal(samples.filter((s) => s.name === 'livesync_state').length, 9);

  // The lag is read at scrape time: it grows with no new event, and drops when the queue drains.
  now += 1000;
  assert.equal(value(parseExposition(await (await fetch(server.url)).text()).samples, 'livesync_lag_seconds'), 4);
  bus.emit({ type: 'queue', pendingPaths: 0, inFlightPaths: 0, oldestChangeAt: null });
  assert.equal(value(parseExposition(await (await fetch(server.url)).text()).samples, 'livesync_lag_seconds'), 0);
});

test('metrics: only GET /metrics is served', async () => {
  const bus = new EventBus();
  using tracker = new StatusTracker(bus);
  await using server = await startMetricsServer(bus, tracker, { host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  assert.equal((await fetch(`${base}/`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${base}/metrics?x=1`, { method: 'HEAD' })).status, 200);
});

test('metrics: an address in use is a ToolError naming it; a closed server stops listening', async () => {
  const bus = new EventBus();
  using tracker = new StatusTracker(bus);
  const first = await startMetricsServer(bus, tracker, { host: '127.0.0.1', port: 0 });
  await assert.rejects(startMetricsServer(bus, tracker, { host: '127.0.0.1', port: first.port }), (err: unknown) => {
    assert.ok(err instanceof ToolError);
    assert.equal(err.code, 'E_METRICS_LISTEN');
    assert.equal(err.exitCode, 3);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${first.port}: .*EADDRINUSE`));
    return true;
  });
  await first.close();
  await assert.rejects(fetch(first.url));
});

test('metrics: --metrics address validation', () => {
  const valid: Array<[string, { host: string; port: number; loopback: boolean }]> = [
    ['9464', { host: '127.0.0.1', port: 9464, loopback: true }],
    [':9464', { host: '127.0.0.1', port: 9464, loopback: true }],
    ['127.0.0.1:9464', { host: '127.0.0.1', port: 9464, loopback: true }],
    ['localhost:9464', { host: 'localhost', port: 9464, loopback: true }],
    ['[::1]:9464', { host: '::1', port: 9464, loopback: true }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464, loopback: false }],
    ['10.1.2.3:80', { host: '10.1.2.3', port: 80, loopback: false }],
    ['[::]:9464', { host: '::', port: 9464, loopback: false }],
    ['metrics.example.com:9100', { host: 'metrics.example.com', port: 9100, loopback: false }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0, loopback: true }],
  ];
  for (const [raw, want] of valid) assert.deepEqual(validateMetricsAddress(raw), want, raw);
  const invalid = ['', 'host', 'host:', ':', '127.0.0.1:65536', '127.0.0.1:-1', '::1:9464', '[nope]:1', '300.1.1.1:80', 'a b:80', 'http://x:80', '127.0.0.1:123456', '[::1]'];
  for (const raw of invalid) {
    assert.throws(() => validateMetricsAddress(raw), (err: unknown) => err instanceof ToolError && err.code === 'E_BAD_METRICS_ADDRESS' && err.exitCode === 2 && err.hint !== undefined, raw);
  }
});
