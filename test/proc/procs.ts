/**
 * Helpers for test/proc: real fixture processes (test/fixtures/proc) started in a given cwd and always
 * stopped (a Disposable group), polling without timing assertions, and the counter oracle: a file of
 * 1, 2, 3, ... lines (or records) must have no gap and no duplicate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildNative } from '../../scripts/build-native.ts';

export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'proc');
export const PYTHON = '/usr/bin/python3';
export const WRITER = join(FIXTURES, 'writer.py');
export const APPEND = join(FIXTURES, 'append.sh');

/** The helper binary must exist before any test freezes anything. Idempotent. */
export function ensureNative(): void {
  buildNative();
}

export class Procs implements AsyncDisposable {
  readonly children: ChildProcess[] = [];

  start(
    cwd: string,
    file: string,
    args: string[],
    options: { stdin?: 'ignore' | 'pipe'; stdout?: 'ignore' | 'pipe' | number; stderr?: 'inherit' | 'pipe'; env?: NodeJS.ProcessEnv } = {},
  ): ChildProcess {
    const stdio = [options.stdin ?? 'ignore', options.stdout ?? 'ignore', options.stderr ?? 'inherit'] as const;
    // own process group: stopping it also stops what the fixture forked
    const child = spawn(file, args, { cwd, env: options.env ?? process.env, stdio: [...stdio], detached: true });
    this.children.push(child);
    return child;
  }

  /** SIGTERM to each process group, then SIGKILL after a grace period; resolves when all leaders exited. */
  async stopAll(): Promise<void> {
    const alive = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exits = alive.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
    const signal = (sig: NodeJS.Signals): void => {
      for (const c of this.children) {
        try {
          process.kill(-c.pid!, sig);
        } catch {
          // group already gone
        }
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 3000);
    await Promise.all(exits);
    clearTimeout(timer);
    signal('SIGKILL'); // stragglers the fixtures forked
    for (const c of this.children) c.stdout?.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}

/** Polls until `check` is true (or throws after `ms`, naming what was awaited). */
export async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

export function readInts(file: string, recordBytes?: number, skip = 0): number[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1').slice(skip);
  } catch {
    return [];
  }
  if (recordBytes) {
    const out: number[] = [];
    for (let off = 0; off + recordBytes <= text.length; off += recordBytes) out.push(Number(text.slice(off, off + recordBytes)));
    return out;
  }
  return text.split('\n').filter((l) => l !== '').map(Number);
}

/** Describes the first gap or duplicate of a 1..n sequence, or undefined when it is exactly 1..n. */
export function gap(values: number[]): string | undefined {
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== i + 1) return `position ${i}: expected ${i + 1}, found ${values[i]} (neighbours ${values.slice(Math.max(0, i - 2), i + 3).join(',')})`;
  }
  return undefined;
}

export function tracerOf(pid: number): number {
  try {
    const m = /TracerPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return Number(m?.[1] ?? -1);
  } catch {
    return -1;
  }
}

/** A live (not zombie) process. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
