/**
 * Helpers for the watcher tests: a temp tree, a recorder of changes and problems, coverage checks
 * ("is this file covered by some change or subtree?"), the kernel's own count of our inotify watches
 * (/proc/self/fdinfo), and a guarded sysctl override that is always restored.
 */
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWithin, type RelPath } from '../../src/util/bpath.ts';
import type { WatchChange, Watcher, WatcherFailure } from '../../src/watch/types.ts';

export function tempTree(prefix: string): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), `livesync-${prefix}-`));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export class Recorder {
  readonly changes: WatchChange[] = [];
  readonly problems: Array<WatcherFailure & { kind: string }> = [];
  calls = 0;

  constructor(watcher: Watcher) {
    watcher.onChanges = (changes) => {
      this.calls++;
      this.changes.push(...changes);
    };
    watcher.onProblem = (problem) => this.problems.push(problem);
  }

  take(): WatchChange[] {
    return this.changes.splice(0);
  }

  of(kind: WatchChange['kind']): WatchChange[] {
    return this.changes.filter((c) => c.kind === kind);
  }
}

/** Paths a change touches (both ends of a move). */
export function pathsOf(changes: WatchChange[]): RelPath[] {
  return changes.flatMap((c) => (c.kind === 'move' ? [c.from, c.to] : [c.path]));
}

/** True when `rel` is reported by a change of the path itself or a subtree (or move target) above it. */
export function covered(changes: WatchChange[], rel: RelPath): boolean {
  return changes.some((c) => {
    if (c.kind === 'subtree') return isWithin(rel, c.path);
    if (c.kind === 'move') return c.isDir ? isWithin(rel, c.to) : rel === c.to;
    return c.path === rel;
  });
}

/** Number of inotify watches this process holds (one `inotify wd:` line per watch in fdinfo). */
export function ownWatchCount(): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    count += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
  }
  return count;
}


/**
 * Sets a sysctl under /proc/sys for the duration of `body` and ALWAYS restores it (sysctls are global, not
 * per mount namespace). `body` should hold the new value for as short a time as possible.
 */
export async function withSysctl<T>(name: string, value: number, body: (restore: () => void) => Promise<T>): Promise<T> {
  const file = `/proc/sys/${name.replaceAll('.', '/')}`;
  const saved = readFileSync(file, 'utf8').trim();
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    writeFileSync(file, saved);
    restored = true;
  };
  writeFileSync(file, String(value));
  try {
    return await body(restore);
  } finally {
    restore();
  }
}

/** Polls `condition` every 20 ms up to `timeoutMs` (a wait, not a timing assertion). */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
