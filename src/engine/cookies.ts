/**
 * Cookie files: tiny files livesync writes into the source root to measure itself end to end (the watchman
 * idea). Their names start with `.livesync-` so verify ignores them; they are removed on stop.
 *   heartbeat  rewritten every HEARTBEAT_INTERVAL_MS (when the mirror is idle, else up to one interval later,
 *              so it rides along instead of adding an rsync run to a burst); the time from write to "landed
 *              on the target" is the end-to-end lag (heartbeatLagMs)
 *   flush-N    one per flush: once its event is seen, every earlier change is in the dirty set (inotify keeps
 *              order per inotify instance), so waiting for everything older than it is a barrier
 */
import type { RelPath } from '../util/bpath.ts';

export const COOKIE_PREFIX = '.livesync-';
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** a beat due while the mirror is busy is retried this often until it is idle (at most one interval late) */
export const HEARTBEAT_RETRY_MS = 100;

export function heartbeatCookie(name: string): RelPath {
  return `${COOKIE_PREFIX}heartbeat-${name}`;
}

export function flushCookie(name: string, n: number): RelPath {
  return `${COOKIE_PREFIX}flush-${name}-${process.pid}-${n}`;
}

export function isCookie(rel: RelPath): boolean {
  return rel.startsWith(COOKIE_PREFIX) && !rel.includes('/');
}
