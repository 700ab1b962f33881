/**
 * Helpers for the fault tests (test/faults/*.test.ts): the real CLI on tmpfs mounts, status through
 * `livesync status --json` (async: a running daemon's log pipe must keep being drained), waits that poll (never
 * timing assertions), a sysctl override that is ALWAYS restored (sysctls are global, not per namespace), and the
 * kernel's memory figures of a process.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cli } from '../helpers/daemon.ts';
import { differences } from '../helpers/oracle.ts';

export type Status = Record<string, unknown> & {
  state: string;
  stateReason: string | null;
  pid: number | null;
  overflows: number;
  watchedDirs: number;
  unwatchedDirs: number;
  unwatched: Array<{ path: string; errno: string }>;
  failedPaths: Array<{ path: string; error: string; attempts: number }>;
  failedPathCount: number;
  pendingPaths: number;
};

/** `livesync status NAME --json` through the real CLI. */
export async function status(stateDir: string, name: string): Promise<Status> {
  const r = await cli(['status', name, '--state-dir', stateDir, '--json'], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`livesync status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

/** Polls `status` until `condition` holds; returns the last status (the caller asserts on it). */
export async function statusUntil(stateDir: string, name: string, condition: (s: Status) => boolean, timeoutMs = 60_000): Promise<Status> {
  const until = Date.now() + timeoutMs;
  let s = await status(stateDir, name);
  while (!condition(s) && Date.now() < until) {
    await sleep(200);
    s = await status(stateDir, name);
  }
  return s;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls an async or sync condition every `everyMs` up to `timeoutMs` (a wait, not a timing assertion). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}

/** Waits until the oracle finds nothing (the mirror converged) or the timeout passes; returns what is left. */
export async function converge(src: string, dst: string, timeoutMs = 60_000): Promise<string[]> {
  let diffs = differences(src, dst);
  const end = Date.now() + timeoutMs;
  while (diffs.length > 0 && Date.now() < end) {
    await sleep(250);
    diffs = differences(src, dst);
  }
  return diffs;
}

/** `livesync flush NAME` through the real CLI: {code, stdout, stderr}. */
export function flush(stateDir: string, name: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cli(['flush', name, '--state-dir', stateDir, '--timeout', String(timeoutMs)], { timeoutMs: timeoutMs + 30_000 });
}

const sysctlFile = (name: string): string => `/proc/sys/${name.replaceAll('.', '/')}`;

export function readSysctlNumber(name: string): number {
  return Number(readFileSync(sysctlFile(name), 'utf8').trim());
}

/**
 * A global sysctl set to `value` until `restore()` (idempotent) is called. ALWAYS call restore in `finally`;
 * hold the low value for as short a time as the test allows, other processes of the machine see it too.
 */
export function overrideSysctl(name: string, value: number): { saved: string; restore: () => void } {
  const file = sysctlFile(name);
  const saved = readFileSync(file, 'utf8').trim();
  let restored = false;
  writeFileSync(file, String(value));
  return {
    saved,
    restore: () => {
      if (restored) return;
      restored = true;
      writeFileSync(file, saved);
    },
  };
}

/** A field of /proc/PID/status in kB (VmHWM: peak RSS; VmRSS: current). */
export function procKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}


/** Entries of a directory tree (files, dirs, links), counted recursively; the root itself is not counted. */
export function countEntries(root: string | Buffer): number {
  const dir = Buffer.from(root);
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    n++;
    if (e.isDirectory()) n += countEntries(Buffer.concat([dir, Buffer.from('/'), e.name]));
  }
  return n;
}
