/**
 * Helpers of test/status/e2e.test.ts: the rig (tmpfs mounts, daemons to clean up), status through the real CLI,
 * the metrics record and scrape, idling, and a command run on a pseudo-terminal by script(1).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jobPaths } from '../../src/daemon/paths.ts';
import type { StatusSnapshot } from '../../src/status/snapshot.ts';
import { cli, Daemon } from '../helpers/daemon.ts';
import { parseExposition } from './exposition.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type Mount = { path: string } & Disposable;
export interface Rig {
  state: Mount;
  src1: Mount;
  dst1: Mount;
  src2: Mount;
  dst2: Mount;
  daemons: Daemon[];
  j1: Daemon;
  j2: Daemon;
}

/** The daemon as a test needs it: started, in sync, remembered for the final clean-up. */
export async function startJob(rig: Pick<Rig, 'state' | 'daemons'>, src: string, dst: string, name: string, extra: string[] = []): Promise<Daemon> {
  const daemon = new Daemon([src, dst, '--state-dir', rig.state.path, '--name', name, ...extra]);
  rig.daemons.push(daemon);
  await daemon.waitState('in-sync', 30_000);
  return daemon;
}

/** `livesync status NAME --json` through the real CLI. */
export async function statusOf(state: string, name: string): Promise<StatusSnapshot> {
  const r = await cli(['status', name, '--json', '--state-dir', state]);
  assert.equal(r.code, 0, `status ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusSnapshot;
}

/** A ToolError reaches the user as exactly two lines: the problem, then the fix. */
export function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, stderr);
  assert.match(lines[0]!, pattern);
  assert.match(lines[1]!, /^ {2}fix: /);
}

export function writeBurst(dir: string, n: number, tag: string): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `f${String(i).padStart(6, '0')}`), `${tag}-${i}\n`);
}

export function metricsUrl(state: string, name: string): string {
  const record = JSON.parse(readFileSync(jobPaths(state, name).record, 'utf8')) as { metrics?: string };
  assert.ok(record.metrics, 'the job record names the metrics endpoint');
  return record.metrics;
}

export async function scrape(url: string): Promise<ReturnType<typeof parseExposition>> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

/** Polls until the job has nothing left to do (lag 0, nothing queued); returns that status. */
export async function waitIdle(status: () => Promise<StatusSnapshot>): Promise<StatusSnapshot> {
  let s = await status();
  for (let i = 0; i < 100 && (s.lagMs > 0 || s.pendingPaths > 0 || s.inFlightPaths > 0); i++) {
    await sleep(20);
    s = await status();
  }
  return s;
}

export const cookies = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.livesync-'));

/**
 * Runs a shell command line on a pseudo-terminal (script(1) from util-linux) and returns what the terminal
 * showed. script takes a command line, so callers pass file names through `env`, never inside `command`.
 */
export function underScript(command: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('close', (code) => resolve({ code, out }));
  });
}
