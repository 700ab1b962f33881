/**
 * `livesync demo`: the whole story on a throwaway tree, no NFS server needed. Inside a private mount
 * namespace (nothing is visible to the host, everything vanishes with it): a tmpfs "source" with a live writer
 * process appending to a log, a tmpfs standing in for the share, `livesync start` mirroring it, the writer's
 * lines showing up on the share while it keeps writing, then `livesync cutover`: the freeze window, and the
 * writer's lines continuing on the share, gap-free.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../sys/exec.ts';
import { mount, umount } from '../sys/mount.ts';

export interface DemoIo {
  say: (line: string) => void;
  /** absolute path of bin/livesync, to run the real CLI */
  cli: string;
  seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lastLine(path: string): string {
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    return lines[lines.length - 1] ?? '';
  } catch {
    return '(not there yet)';
  }
}

/** Starts the demo application: a shell loop appending numbered lines to log/app.log, from cwd = the source. */
function startWriter(src: string): ChildProcess {
  const script = 'i=0; while :; do i=$((i+1)); echo "line $i written at $(date +%T.%N)" >> log/app.log; echo "$i" > data/counter; sleep 0.05; done';
  return spawn('sh', ['-c', script], { cwd: src, stdio: 'ignore' });
}

export async function runDemo(io: DemoIo): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'livesync-demo-'));
  const src = join(work, 'app');
  const share = join(work, 'share');
  const state = join(work, 'state');
  mkdirSync(src);
  mkdirSync(share);
  mkdirSync(state, { mode: 0o700 });
  const cleanup: Array<() => Promise<unknown> | void> = [() => rmSync(work, { recursive: true, force: true })];
  try {
    for (const dir of [src, share]) {
      const res = await mount('tmpfs', dir, { type: 'tmpfs', options: 'size=256m' });
      if (res.exitCode !== 0) throw new Error(`mount tmpfs at ${dir}: ${res.stderr}`);
      cleanup.unshift(() => umount(dir, { lazy: true }));
    }
    io.say(`demo: source ${src} (tmpfs), share ${share} (tmpfs standing in for NFS), private mount namespace`);
    mkdirSync(join(src, 'log'));
    mkdirSync(join(src, 'data'));
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(src, 'data', `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(src, 'data', `d${d}`, `f${f}`), `record ${d}/${f}\n`);
    }
    io.say('demo: 2,000 files created; starting the application (a writer appending to log/app.log every 50 ms)');
    const writer = startWriter(src);
    cleanup.unshift(() => void writer.kill('SIGKILL'));
    await sleep(300);

    io.say(`demo: livesync start ${src} ${share}`);
    const daemon = spawn(io.cli, ['start', src, share, '--state-dir', state, '--name', 'demo'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const d = daemon;
    cleanup.unshift(() => (d.exitCode === null ? void d.kill('SIGKILL') : undefined));
    const inSync = new Promise<void>((resolve, reject) => {
      let buf = '';
      d.stderr!.setEncoding('utf8');
      d.stderr!.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const line of lines) {
          let rec: { event?: string; msg?: string; state?: string };
          try {
            rec = JSON.parse(line) as typeof rec;
          } catch {
            continue;
          }
          if (['state', 'watch-ready', 'seed-done', 'error'].includes(rec.event ?? '')) io.say(`  livesync: ${rec.msg}`);
          if (rec.event === 'state' && rec.state === 'in-sync') resolve();
        }
      });
      d.on('exit', (code) => reject(new Error(`livesync start exited with ${code}`)));
    });
    await inSync;

    io.say('demo: the writer keeps writing; its last line on each side:');
    const t0 = Date.now();
    while (Date.now() - t0 < io.seconds * 1000) {
      await sleep(1000);
      io.say(`  source: ${lastLine(join(src, 'log', 'app.log'))}`);
      io.say(`  share : ${lastLine(join(share, 'log', 'app.log'))}`);
    }
    io.say(`demo: livesync cutover (freeze the writer, final delta, mount the share at ${src}, re-point, resume)`);
    const cut = await run(io.cli, ['cutover', '--state-dir', state, '--yes', '--json']);
    let report: { outcome?: string; freezeMs?: number; finalDelta?: { paths: number; syncMs: number } | null; message?: string } = {};
    try {
      report = JSON.parse(cut.stdout) as typeof report;
    } catch {
      io.say(`demo: cutover printed no report: ${cut.stderr.trim()}`);
    }
    io.say(`  cutover: ${report.outcome ?? 'failed'} (exit ${cut.exitCode}); freeze window ${report.freezeMs ?? '?'} ms; final delta ${report.finalDelta?.paths ?? '?'} paths in ${report.finalDelta?.syncMs ?? '?'} ms`);
    if (cut.exitCode !== 0) return cut.exitCode ?? 1;
    const sameFs = statSync(src).dev === statSync(share).dev;
    io.say(`demo: ${src} is now the share (same filesystem: ${sameFs ? 'yes' : 'NO'}); the writer keeps writing there:`);
    for (let i = 0; i < 3; i++) {
      await sleep(700);
      io.say(`  share: ${lastLine(join(share, 'log', 'app.log'))}`);
    }
    const old = join(state, 'demo', 'old', 'log', 'app.log');
    io.say(`  old tree (frozen copy kept at ${join(state, 'demo', 'old')}): ${lastLine(old)}`);
    writer.kill('SIGKILL');
    const numbers = readFileSync(join(share, 'log', 'app.log'), 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[1]));
    const gaps = numbers.filter((n, i) => i > 0 && n !== numbers[i - 1]! + 1).length;
    io.say(`demo: the writer's ${numbers.length} lines on the share are ${gaps === 0 ? 'gap-free: no write was lost' : `NOT gap-free (${gaps} gaps)`}`);
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    cleanup.unshift(() => umount(join(state, 'demo', 'old'), { lazy: true }), () => umount(src, { lazy: true }));
    io.say('demo: done; cleaning up (the namespace and its mounts disappear)');
    return gaps === 0 && sameFs ? 0 : 1;
  } finally {
    for (const step of cleanup) {
      try {
        await step();
      } catch {
        // best effort
      }
    }
  }
}
