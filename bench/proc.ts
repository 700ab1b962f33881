/**
 * Process freeze + re-point + thaw (issue #5), side by side with the article's gdb way in the same run:
 *   livesync (ptrace injection): N processes, each with its cwd in the tree and 3 open files (O_APPEND,
 *     read-only, read-write), moved from tmpfs A to tmpfs B and back; the window timed is from the freeze
 *     call to the end of the thaw (the plan is made before, as the cutover does); medians of RUNS.
 *   article: kill -STOP all, kill -CONT all, then one `gdb -p PID -batch -ex 'call (int) chdir("...")'` per
 *     process (cwd only). 1 and 10 processes.
 * Targets (issue #5): 10 processes <= 0.05 s, 100 processes <= 0.3 s.
 * Standalone: `node bench/proc.ts` (re-runs itself in a private mount namespace as root).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ProcMover } from '../src/proc/mover.ts';
import { inPrivateMountNs, unshareCommand } from '../src/sys/mount-ns.ts';
import { median } from './probe.ts';
import { scratch } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

function holders(root: string, n: number): ChildProcess[] {
  const kids: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(root, `p${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data'), 'x'.repeat(1000));
    writeFileSync(join(dir, 'rw'), 'y'.repeat(1000));
    // cwd in the tree, fd 3 O_APPEND, fd 4 read-only, fd 5 read-write; exec keeps them in one sleep process
    kids.push(spawn('bash', ['-c', 'exec 3>>log 4<data 5<>rw; exec sleep 1000'], { cwd: dir, stdio: 'ignore' }));
  }
  return kids;
}

async function settle(kids: ChildProcess[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (kids.every((k) => readlinkSync(`/proc/${k.pid}/exe`).endsWith('/sleep'))) return;
    await sleep(10);
  }
}

interface Timing {
  total: number;
  freeze: number;
  repoint: number;
  thaw: number;
}

async function livesyncRuns(n: number): Promise<Timing[]> {
  const a = scratch('proc-a', '256m');
  const b = scratch('proc-b', '256m');
  const kids = holders(a.path, n);
  try {
    await settle(kids);
    execFileSync('cp', ['-a', `${a.path}/.`, `${b.path}/`]);
    await using mover = await ProcMover.open();
    const out: Timing[] = [];
    for (let run = 0; run < RUNS + 1; run++) {
      const [from, to] = run % 2 === 0 ? [a.path, b.path] : [b.path, a.path];
      const planned = await mover.plan(from);
      if (!planned.ok) throw new Error(planned.message);
      const t0 = performance.now();
      const frozen = await mover.freeze(planned.plan);
      if (!frozen.ok) throw new Error(`freeze: ${frozen.message}`);
      const t1 = performance.now();
      const moved = await mover.repoint(frozen.frozen, { toRoot: to });
      const t2 = performance.now();
      await mover.thaw(frozen.frozen);
      const t3 = performance.now();
      if (!moved.ok) throw new Error(`repoint: ${JSON.stringify(moved.problems.slice(0, 3))}`);
      if (frozen.frozen.processes.length !== n) throw new Error(`froze ${frozen.frozen.processes.length} of ${n}`);
      if (run > 0) out.push({ total: t3 - t0, freeze: t1 - t0, repoint: t2 - t1, thaw: t3 - t2 }); // run 0 warms up
    }
    return out;
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    await sleep(50);
    a.dispose();
    b.dispose();
  }
}

/** C string literal for gdb: every byte outside printable ASCII (and quote, backslash) as an octal escape. */
function gdbString(path: string): string {
  return `"${Array.from(Buffer.from(path), (c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, '0')}`)).join('')}"`;
}

async function gdbRuns(n: number): Promise<{ seconds: number[]; failed: number }> {
  const a = scratch('gdb-a', '64m');
  const b = scratch('gdb-b', '64m');
  const kids = holders(a.path, n);
  const seconds: number[] = [];
  let failed = 0;
  try {
    await settle(kids);
    execFileSync('cp', ['-a', `${a.path}/.`, `${b.path}/`]);
    for (let run = 0; run < Math.min(RUNS, 3); run++) {
      const to = run % 2 === 0 ? b.path : a.path;
      const t0 = performance.now();
      for (const k of kids) process.kill(k.pid!, 'SIGSTOP');
      for (const k of kids) process.kill(k.pid!, 'SIGCONT'); // the article resumes before gdb attaches
      kids.forEach((k, i) => {
        spawnSync('gdb', ['-q', '-p', String(k.pid), '-batch', '-ex', `call (int) chdir(${gdbString(join(to, `p${i}`))})`], { stdio: 'ignore' });
      });
      seconds.push((performance.now() - t0) / 1000);
      kids.forEach((k, i) => {
        if (readlinkSync(`/proc/${k.pid}/cwd`) !== join(to, `p${i}`)) failed++;
      });
    }
    return { seconds, failed };
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    await sleep(50);
    a.dispose();
    b.dispose();
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

export async function benchProc(): Promise<string> {
  const rows: string[] = [
    '| method | processes | moved per process | freeze + re-point + thaw, median | freeze / re-point / thaw | per process | target | vs article, same count |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const gdb1 = await gdbRuns(1);
  const gdb10 = await gdbRuns(10);
  const perGdb = median(gdb10.seconds) / 10;
  for (const [n, target] of [
    [10, 0.05],
    [100, 0.3],
  ] as const) {
    const t = await livesyncRuns(n);
    const total = median(t.map((x) => x.total));
    const parts = `${median(t.map((x) => x.freeze)).toFixed(1)} / ${median(t.map((x) => x.repoint)).toFixed(1)} / ${median(t.map((x) => x.thaw)).toFixed(1)} ms`;
    const ok = total / 1000 <= target ? 'met' : 'MISSED';
    const vs = `${((perGdb * n) / (total / 1000)).toFixed(0)}× faster${n === 10 ? '' : ' (article: 10 × its 10-process time)'}`;
    rows.push(`| livesync (ptrace injection) | ${n} | cwd + 3 fds | ${s(total)} | ${parts} | ${(total / n).toFixed(2)} ms | ≤ ${target} s (${ok}) | ${vs} |`);
  }
  for (const [n, r] of [
    [1, gdb1],
    [10, gdb10],
  ] as const) {
    const note = r.failed > 0 ? ` (${r.failed} chdir not done)` : '';
    const m = median(r.seconds);
    rows.push(`| article: STOP/CONT, then one \`gdb -p PID -batch -ex 'call (int) chdir(...)'\` each | ${n} | cwd only | ${m.toFixed(3)} s${note} | — | ${((m * 1000) / n).toFixed(0)} ms | — | — |`);
  }
  return rows.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench/proc: needs root (ptrace, tmpfs mounts)\n');
    process.exit(3);
  }
  if (!inPrivateMountNs()) {
    const cmd = unshareCommand([process.execPath, fileURLToPath(import.meta.url)]);
    const res = spawnSync(cmd.file, cmd.args, { stdio: 'inherit', env: cmd.env });
    process.exit(res.status ?? 1);
  }
  process.stdout.write(`${await benchProc()}\n`);
}
