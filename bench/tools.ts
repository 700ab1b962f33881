/**
 * Bench plumbing: tmpfs scratch mounts (inside the private mount namespace bench/run.ts sets up), tree
 * builders, and runners for the tools compared side by side: livesync (the real CLI), lsyncd (default.rsync,
 * delay = 0, as the anchors measured it) and raw rsync.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../test/helpers/daemon.ts';

export function scratch(prefix: string, size = '4g'): { path: string; dispose: () => void } {
  const path = mkdtempSync(join(tmpdir(), `lsbench-${prefix}-`));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=700`, 'tmpfs', path]);
  return {
    path,
    dispose: () => {
      spawnSync('umount', ['-l', path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** `files` small files, 100 per directory, under root/tree (the anchors' layout). */
export function makeTree(root: string, files: number, perDir = 100): void {
  for (let i = 0; i < files; i++) {
    const d = join(root, 'tree', `d${String(Math.floor(i / perDir)).padStart(5, '0')}`);
    if (i % perDir === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${String(i).padStart(7, '0')}`), 'x'.repeat((i % 7) * 100 + 1));
  }
}

export function lastTreeFile(root: string, files: number, perDir = 100): string {
  const i = files - 1;
  return join(root, 'tree', `d${String(Math.floor(i / perDir)).padStart(5, '0')}`, `f${String(i).padStart(7, '0')}`);
}

export interface Running {
  child: ChildProcess;
  stop: () => Promise<void>;
  rssKb: () => number;
  cpuTicks: () => number;
  log: string[];
}

function procStatus(pid: number, key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function wrap(child: ChildProcess, log: string[]): Running {
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    child,
    log,
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    rssKb: () => procStatus(child.pid!, 'VmRSS'),
    cpuTicks: () => cpuTicks(child.pid!),
  };
}

/** Starts livesync and resolves once it reports in-sync. */
export async function startLivesync(src: string, dst: string, stateDir: string, extra: string[] = []): Promise<Running & { readyMs: number; seedMs: number | null }> {
  const t0 = performance.now();
  const child = spawn(CLI, ['start', src, dst, '--state-dir', stateDir, '--name', 'bench', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  let seedMs: number | null = null;
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      buf += c;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        log.push(l);
        if (l.includes('"event":"seed-done"')) seedMs = (JSON.parse(l) as { durationMs: number }).durationMs;
        if (l.includes('"state":"in-sync"')) resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`livesync exited ${code}: ${log.slice(-5).join('\n')}`)));
  });
  return { ...wrap(child, log), readyMs: performance.now() - t0, seedMs };
}

/** Starts lsyncd (default.rsync, delay = 0) and resolves once its startup rsync has mirrored `readyFile`. */
export async function startLsyncd(src: string, dst: string, work: string, readyFile: string): Promise<Running & { readyMs: number }> {
  const conf = join(work, 'lsyncd.conf.lua');
  writeFileSync(
    conf,
    `settings { nodaemon = true, logfile = "${work}/lsyncd.log", statusFile = "${work}/lsyncd.status", maxProcesses = 1 }\n` +
      `sync { default.rsync, source = "${src}", target = "${dst}", delay = 0, rsync = { archive = true } }\n`,
  );
  const t0 = performance.now();
  const child = spawn('lsyncd', [conf], { stdio: 'ignore' });
  while (!existsSync(readyFile)) {
    if (child.exitCode !== null) throw new Error('lsyncd exited during start-up');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ...wrap(child, []), readyMs: performance.now() - t0 };
}

export function timeCommand(file: string, args: string[], input?: Buffer): number {
  const t0 = performance.now();
  const res = spawnSync(file, args, { input, stdio: ['pipe', 'ignore', 'pipe'] });
  if (res.status !== 0 && res.status !== 24) throw new Error(`${file} ${args.join(' ')} failed: ${res.stderr?.toString()}`);
  return performance.now() - t0;
}
