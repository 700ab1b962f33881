/**
 * verify benchmarks (issue #7), medians of RUNS, each beside its anchor measured in the same run:
 *   stats-only verify of two identical trees (1M files in 10k dirs by default)  vs  `rsync -a -n --delete -i`
 *     (and `rsync -aHAX -n --delete -i`, which compares what verify compares: hard links, ACLs, xattrs)
 *   --checksum of 1 GiB (64 files of 16 MiB) per side  vs  reading both sides with `cat` (the read speed for
 *     the same bytes), and `sha256sum` of one side
 * Each row gives wall-clock seconds and CPU seconds (user+sys, from /usr/bin/time): on a shared 2-core machine
 * the wall clock of a 2-thread tool suffers most from other load, the CPU seconds much less.
 * Trees live on tmpfs mounts (bench/tools.ts scratch) in a private mount namespace. `benchVerify()` is the
 * section for bench/run.ts; run standalone with `node bench/verify.ts` (as root).
 * Env: BENCH_RUNS (3), BENCH_VERIFY_FILES (1000000), BENCH_VERIFY_MIB (1024).
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { copyFileSync, mkdirSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CLI } from '../test/helpers/daemon.ts';
import { median } from './probe.ts';
import { scratch } from './tools.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const FILES = Number(process.env['BENCH_VERIFY_FILES'] ?? 1_000_000);
const MIB = Number(process.env['BENCH_VERIFY_MIB'] ?? 1024);
const PER_DIR = 100;
/** a fixed past time, so both trees carry identical mtimes (s) */
const EPOCH_S = 1_700_000_000;

interface GenJob {
  role: 'verify-bench-tree';
  root: string;
  files: number;
}

/** root/dNNN/eNNNNN/fNN: `files` files, 100 per leaf dir, 100 leaf dirs per middle dir; 1 file in 10 non-empty. */
function buildTree(root: string, files: number): void {
  const leaves = Math.ceil(files / PER_DIR);
  let mid = '';
  const stamp = (path: string, i: number): void => utimesSync(path, EPOCH_S, EPOCH_S + (i % 1000) / 1000);
  for (let leaf = 0; leaf < leaves; leaf++) {
    if (leaf % PER_DIR === 0) {
      if (mid) stamp(mid, leaf);
      mid = join(root, `d${Math.floor(leaf / PER_DIR)}`);
    }
    const dir = join(mid, `e${leaf}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < PER_DIR && leaf * PER_DIR + f < files; f++) {
      const i = leaf * PER_DIR + f;
      const path = join(dir, `f${f}`);
      writeFileSync(path, i % 10 === 0 ? 'x'.repeat(i % 97) : '');
      stamp(path, i);
    }
    stamp(dir, leaf);
  }
  if (mid) stamp(mid, leaves);
  stamp(root, 0);
}

if (!isMainThread && (workerData as GenJob | null)?.role === 'verify-bench-tree') {
  const job = workerData as GenJob;
  buildTree(job.root, job.files);
  parentPort?.postMessage('done');
}

/** Both trees at once, one worker thread each (tree building is syscall-bound; 2 cores). */
async function buildTwin(a: string, b: string, files: number): Promise<void> {
  await Promise.all(
    [a, b].map(
      (root) =>
        new Promise<void>((done, fail) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { role: 'verify-bench-tree', root, files } satisfies GenJob });
          w.once('message', () => void w.terminate().then(() => done()));
          w.once('error', fail);
        }),
    ),
  );
}

function buildContent(a: string, b: string, mib: number): string[] {
  const size = 16 << 20;
  const buf = Buffer.allocUnsafe(size);
  const names: string[] = [];
  for (let i = 0; i < Math.ceil(mib / 16); i++) {
    randomFillSync(buf);
    const name = `blob${i}`;
    writeFileSync(join(a, name), buf);
    copyFileSync(join(a, name), join(b, name));
    utimesSync(join(a, name), EPOCH_S, EPOCH_S);
    utimesSync(join(b, name), EPOCH_S, EPOCH_S);
    names.push(join(a, name));
  }
  utimesSync(a, EPOCH_S, EPOCH_S);
  utimesSync(b, EPOCH_S, EPOCH_S);
  return names;
}

interface Timed {
  ms: number;
  /** user + sys CPU ms of the command and its children */
  cpuMs: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time; throws unless it exits 0. `discard`: send stdout to /dev/null. */
function timed(file: string, args: string[], discard = false): Timed {
  const t0 = performance.now();
  const res = spawnSync('/usr/bin/time', ['-f', '\ncpu %U %S', file, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', discard ? 'ignore' : 'pipe', 'pipe'],
  });
  const ms = performance.now() - t0;
  if (res.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${res.status}: ${res.stderr.slice(-2000)}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(res.stderr);
  return { ms, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN, stdout: res.stdout ?? '' };
}

function timeVerify(args: string[]): Timed & { entries: number } {
  const run = timed(CLI, ['verify', '--json', ...args]);
  const report = JSON.parse(run.stdout) as { identical: boolean; compared: { files: number; dirs: number } };
  if (!report.identical) throw new Error(`verify reported differences on identical trees: ${run.stdout.slice(0, 1000)}`);
  return { ...run, entries: report.compared.files + report.compared.dirs };
}

/** rsync's dry run must also find nothing, or the comparison is meaningless. */
function timeRsyncDry(flags: string, a: string, b: string): Timed {
  const run = timed('rsync', [flags, '-n', '--delete', '-i', `${a}/`, `${b}/`]);
  if (run.stdout.trim() !== '') throw new Error(`rsync ${flags} -n found differences: ${run.stdout.slice(0, 500)}`);
  return run;
}

const s = (ms: number): string => (ms / 1000).toFixed(2);
const gibps = (bytes: number, ms: number): string => ((bytes / 2 ** 30) / (ms / 1000)).toFixed(2);
const med = (runs: Timed[], key: 'ms' | 'cpuMs'): number => median(runs.map((r) => r[key]));

export async function benchVerify(): Promise<string> {
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const rows: string[] = [`Machine: ${availableParallelism()} CPUs, load average at start ${load} (others' load slows a 2-thread tool's wall clock most).`, ''];
  const a = scratch('verify-a', '8g');
  const b = scratch('verify-b', '8g');
  try {
    const t0 = performance.now();
    await buildTwin(a.path, b.path, FILES);
    process.stderr.write(`bench verify: built 2 x ${FILES} files in ${s(performance.now() - t0)} s\n`);
    const rsyncA: Timed[] = [];
    const rsyncHAX: Timed[] = [];
    const verify: Array<Timed & { entries: number }> = [];
    const verifyNoX: Timed[] = [];
    for (let r = 0; r < RUNS; r++) {
      rsyncA.push(timeRsyncDry('-a', a.path, b.path));
      verify.push(timeVerify(['--source', a.path, '--target', b.path]));
      verifyNoX.push(timeVerify(['--source', a.path, '--target', b.path, '--no-xattrs']));
      rsyncHAX.push(timeRsyncDry('-aHAX', a.path, b.path));
    }
    const anchor = med(rsyncA, 'ms');
    const anchorCpu = med(rsyncA, 'cpuMs');
    const entries = verify[0]?.entries ?? 0;
    const row = (what: string, runs: Timed[]): string => {
      const ms = med(runs, 'ms');
      const cpu = med(runs, 'cpuMs');
      return `| ${what} | ${s(ms)} | ${Math.round(entries / (ms / 1000)).toLocaleString('en')} | ${(ms / anchor).toFixed(2)} | ${s(cpu)} | ${(cpu / anchorCpu).toFixed(2)} |`;
    };
    rows.push(
      `| stats-only, ${FILES.toLocaleString('en')} identical files in ${Math.ceil(FILES / PER_DIR).toLocaleString('en')} dirs (tmpfs, medians of ${RUNS}) | wall s | entries/s | wall vs rsync -a -n | CPU s | CPU vs rsync -a -n |`,
      '|---|---|---|---|---|---|',
      row('`rsync -a -n --delete -i` (anchor)', rsyncA),
      row('`rsync -aHAX -n --delete -i` (the attributes verify compares)', rsyncHAX),
      row('`livesync verify` (type, size, mode, owner, ns mtime, hard links, xattrs + ACLs)', verify),
      row('`livesync verify --no-xattrs`', verifyNoX),
    );
  } finally {
    a.dispose();
    b.dispose();
  }

  const ca = scratch('verify-ca', `${MIB + 256}m`);
  const cb = scratch('verify-cb', `${MIB + 256}m`);
  try {
    const files = buildContent(ca.path, cb.path, MIB);
    const both = [...files, ...files.map((f) => join(cb.path, f.slice(ca.path.length + 1)))];
    const bytes = MIB * 2 ** 20;
    const cat: Timed[] = [];
    const sha: Timed[] = [];
    const check: Timed[] = [];
    const fixed: Timed[] = [];
    for (let r = 0; r < RUNS; r++) {
      fixed.push(timeVerify(['--source', ca.path, '--target', cb.path]));
      cat.push(timed('cat', both, true));
      sha.push(timed('sha256sum', files, true));
      check.push(timeVerify(['--source', ca.path, '--target', cb.path, '--checksum']));
    }
    const anchor = med(cat, 'ms');
    const row = (what: string, runs: Timed[], read: number): string => {
      const ms = med(runs, 'ms');
      return `| ${what} | ${s(ms)} | ${gibps(read, ms)} | ${(anchor / ms).toFixed(2)} | ${s(med(runs, 'cpuMs'))} |`;
    };
    rows.push(
      '',
      `| content, ${MIB} MiB per side in ${files.length} files (tmpfs, medians of ${RUNS}) | wall s | GiB/s read | speed vs cat | CPU s |`,
      '|---|---|---|---|---|',
      row('`cat` of both sides (the read speed, anchor)', cat, 2 * bytes),
      row('`sha256sum` of one side', sha, bytes),
      row('`livesync verify --checksum` (reads and compares both sides)', check, 2 * bytes),
    );
    const contentMs = med(check, 'ms') - med(fixed, 'ms');
    rows.push(
      `| of which start-up and walk (\`livesync verify\` without --checksum: ${s(med(fixed, 'ms'))} s); content alone | ${s(contentMs)} | ${gibps(2 * bytes, contentMs)} | ${(anchor / contentMs).toFixed(2)} | |`,
    );
  } finally {
    ca.dispose();
    cb.dispose();
  }
  return rows.join('\n');
}

/** In a private mount namespace: ours differs from init's, or we re-executed ourselves under unshare. */
function privateNs(): boolean {
  if (process.env['LIVESYNC_BENCH_NS'] === '1') return true;
  try {
    return readlinkSync('/proc/self/ns/mnt') !== readlinkSync('/proc/1/ns/mnt');
  } catch {
    return false; // /proc/1 unreadable (no CAP_SYS_PTRACE): re-execute under unshare to be sure
  }
}

if (isMainThread && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench verify: needs root (tmpfs mounts in a private mount namespace)\n');
    process.exit(3);
  }
  if (!privateNs()) {
    const res = spawnSync('unshare', ['--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url)], {
      stdio: 'inherit',
      env: { ...process.env, LIVESYNC_BENCH_NS: '1' },
    });
    process.exit(res.status ?? 1);
  }
  process.stdout.write(`${await benchVerify()}\n`);
}
