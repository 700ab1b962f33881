/** The human status view: formatting tables, the sparkline, and a full render (lag first, one screen). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from '../../src/events/event.ts';
import { formatBytes, formatDuration, renderStatus, sparkline } from '../../src/status/render.ts';
import { StatusTracker } from '../../src/status/tracker.ts';

test('render: durations, sizes', () => {
  const durations: Array<[number, string]> = [[0, '0 ms'], [999, '999 ms'], [1500, '1.5 s'], [61_000, '1m 01s'], [3_723_000, '1h 02m'], [90_000_000, '1d 01h']];
  for (const [ms, text] of durations) assert.equal(formatDuration(ms), text);
  const sizes: Array<[number, string]> = [[0, '0 B'], [999, '999 B'], [1500, '1.50 kB'], [12_345_678, '12.3 MB'], [2e12, '2.00 TB']];
  for (const [bytes, text] of sizes) assert.equal(formatBytes(bytes), text);
});

test('render: sparkline scales to the window maximum and squeezes by taking the max', () => {
  const cases: Array<[Array<number | null>, number, string]> = [
    [[0, 0, 0], 3, '▁▁▁'],
    [[null, 1, 2], 3, ' ▅█'],
    [[1, 5, 2, 0], 2, '█▄'],
    [[0, 7, 0, 0, 0, 0], 3, '█▁▁'],
    [[], 5, ' '],
  ];
  for (const [samples, width, text] of cases) assert.equal(sparkline(samples, width), text, JSON.stringify(samples));
});

test('render: lag first, control characters escaped, lines cut to the width', () => {
  let now = 10_000;
  const bus = new EventBus(() => now);
  using tracker = new StatusTracker(bus, { now: () => now });
  bus.emit({ type: 'job', name: 'srv-app', source: '/srv/app', target: '/mnt/share', stateDir: '/run/livesync', watcher: 'inotify', pid: 7 });
  bus.emit({ type: 'state', state: 'degraded', reason: 'target unreachable' });
  bus.emit({ type: 'queue', pendingPaths: 3, inFlightPaths: 0, oldestChangeAt: 8000 });
  bus.emit({ type: 'path-failed', path: 'evil\n\x1b[31mname', message: 'EACCES', attempts: 4 });
  now = 12_000;
  const lines = renderStatus(tracker.snapshot({ historyS: 600 }), { columns: 60, sparkline: true });
  assert.equal(lines[0], 'lag 4.0 s   srv-app: degraded (!), target unreachable');
  assert.ok(lines.every((l) => l.length <= 60 && [...l].every((c) => c.charCodeAt(0) >= 0x20)), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('evil\\x0a\\x1b[31mname')));
  assert.match(lines.at(-1)!, /^ {2}lag, last 3 s [▁▂▃▄▅▆▇█]+ max 4\.0 s$/);
});
