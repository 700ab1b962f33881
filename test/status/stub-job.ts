/**
 * A stand-in for the mirror engine in the status/control/metrics tests: a JobControl built on a real EventBus
 * that the test emits events on, with scripted flush answers. The "daemon process" whose exit `livesync stop`
 * waits for is a real child (`sleep`), killed when stop() is called. Everything else (sockets, lock, CLI) is real.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FlushResult, JobControl, JobInfo } from '../../src/engine/job.ts';
import { EventBus } from '../../src/events/event.ts';
import { serveControl } from '../../src/control/server.ts';
import { acquireJobLock } from '../../src/daemon/lock.ts';
import { jobPaths } from '../../src/daemon/paths.ts';
import { StatusTracker } from '../../src/status/tracker.ts';

export const TOP = resolve(import.meta.dirname, '..', '..');
export const CLI = join(TOP, 'bin', 'livesync');

export class StubJob implements JobControl, AsyncDisposable {
  readonly info: JobInfo;
  readonly bus: EventBus;
  readonly flushCalls: number[] = [];
  flushAnswer: FlushResult = { ok: true, durationMs: 12 };
  stopCalls = 0;
  #daemon: ChildProcess;
  #exited: Promise<void>;

  constructor(name: string, stateDir: string, now: () => number = Date.now) {
    this.bus = new EventBus(now);
    this.#daemon = spawn('sleep', ['600'], { stdio: 'ignore' });
    this.#exited = new Promise((r) => this.#daemon.once('exit', () => r()));
    this.info = { name, source: '/srv/app', target: '/mnt/share', stateDir, pid: this.#daemon.pid ?? -1, startedAt: now(), watcher: 'inotify' };
  }

  async flush(timeoutMs: number): Promise<FlushResult> {
    this.flushCalls.push(timeoutMs);
    return this.flushAnswer;
  }

  async stop(): Promise<void> {
    this.stopCalls += 1;
    this.#daemon.kill('SIGTERM');
    await this.#exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#daemon.kill('SIGKILL');
    await this.#exited;
  }
}

/** A private temp state dir (mode 0700, as mkdtemp makes it). */
/** A StubJob served on its real control socket (lock, tracker, server), on `now`'s clock; disposing closes all. */
export async function serveStubJob(stateDir: string, name: string, now: () => number = Date.now): Promise<{ job: StubJob } & AsyncDisposable> {
  const job = new StubJob(name, stateDir, now);
  const tracker = new StatusTracker(job.bus, { now });
  const lock = await acquireJobLock(jobPaths(stateDir, name));
  const server = await serveControl(job, tracker, lock, { version: '0.1.0' });
  return {
    job,
    async [Symbol.asyncDispose]() {
      await server.close();
      tracker[Symbol.dispose]();
      await lock.release();
      await job[Symbol.asyncDispose]();
    },
  };
}

export function tempStateDir(): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), 'livesync-st-'));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/livesync asynchronously (the control server under test lives in this process). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(CLI, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolvePromise({ code, stdout, stderr });
    });
  });
}
