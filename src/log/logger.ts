/**
 * The log sink: pino, JSON lines by default (for journald and log shippers), pretty when stderr is a TTY.
 * It subscribes to the event stream; the level of each event type is a table.
 */
import { pino, type Logger } from 'pino';
import type { EventBus, EventType, LivesyncEvent } from '../events/event.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Log level per event type. `changes` and `seed-progress` are frequent, so they are debug or throttled. */
const LEVEL: Record<EventType, Level> = {
  state: 'info',
  'watch-ready': 'info',
  'watch-failed': 'warn',
  watches: 'debug',
  overflow: 'warn',
  changes: 'debug',
  queue: 'debug',
  'path-recovered': 'info',
  job: 'info',
  'seed-start': 'info',
  'seed-progress': 'info',
  'seed-done': 'info',
  'batch-start': 'debug',
  'batch-done': 'info',
  'batch-failed': 'warn',
  rename: 'debug',
  'path-failed': 'warn',
  heartbeat: 'debug',
  warning: 'warn',
  info: 'info',
  error: 'error',
};

export interface LogOptions {
  level?: string;
  pretty?: boolean;
  destination?: number;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env['LIVESYNC_LOG_LEVEL'] ?? 'info';
  const fd = options.destination ?? 2;
  if (options.pretty) {
    return pino(
      { level, base: undefined },
      pino.transport({ target: 'pino-pretty', options: { destination: fd, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'event' } }),
    );
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: fd, sync: true }));
}

function message(event: LivesyncEvent): string {
  switch (event.type) {
    case 'state':
      return `state ${event.state}${event.reason ? `: ${event.reason}` : ''}`;
    case 'watch-ready':
      return `watching ${event.watchedDirs} directories (${event.watcher}, ready in ${event.durationMs} ms)`;
    case 'seed-start':
      return `seed started (${event.workers} rsync worker${event.workers === 1 ? '' : 's'})`;
    case 'seed-done':
      return `seed done: ${event.files} files, ${event.bytes} bytes copied in ${event.durationMs} ms`;
    case 'overflow':
      return `inotify queue overflow #${event.total}: rescanning the tree (watches stay in place)`;
    case 'batch-done':
      return `synced ${event.paths} paths (${event.files} files, ${event.bytes} bytes) in ${event.durationMs} ms`;
    case 'seed-progress': {
      const p = event.progress;
      return `seed: ${p.files} files, ${p.bytes} bytes, ${(p.rate / 1e6).toFixed(1)} MB/s${p.etaS === null ? '' : `, ETA ${p.etaS} s`}`;
    }
    case 'info':
    case 'warning':
    case 'error':
    case 'path-failed':
    case 'batch-failed':
    case 'watch-failed':
      return event.message;
    default:
      return event.type;
  }
}

/** Route every event to the logger. Returns the unsubscribe function. */
export function logEvents(bus: EventBus, logger: Logger): () => void {
  return bus.subscribe((event) => {
    const level = LEVEL[event.type];
    if (!logger.isLevelEnabled(level)) return;
    const { time: _time, ...fields } = event;
    logger[level]({ event: fields.type, ...fields }, message(event));
  });
}
