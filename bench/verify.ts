/**
 * verify benchmarks (issue #7), medians of RUNS, each beside its anchor measured in the same run:
 *   stats-only verify of two identical trees (1M files in 10k dirs by default)  vs  `rsync -a -n --delete -i`
 *     (and `rsync -aHAX -n --delete -i`, which compares what verify compares: hard links, ACLs, xattrs)
 *   --checksum of 1 GiB (64 files of 16 MiB)  vs  the read speed of one side (`cat`) and `sha256sum`
 * Trees live on tmpfs mounts (bench/tools.ts scratch) in a private mount namespace. `benchVerify()` is the
 * section for bench/run.ts; run standalone with `node bench/verify.ts` (as root).
 * Env: BENCH_RUNS (3), BENCH_VERIFY_FILES (1000000), BENCH_VERIFY_MIB (1024).
 */
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { copyFileSync, mkdirSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CLI } from '../test/helpers/daemon.ts';
import { median } from './probe.ts';
import { scratch, timeCommand } from './tools.ts';

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

interface VerifyRun {
  ms: number;
  entries: number;
  identical: boolean;
}

function timeVerify(args: string[]): VerifyRun {
  const t0 = performance.now();
  const res = spawnSync(CLI, ['verify', '--json', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (res.status !== 0) throw new Error(`livesync verify ${args.join(' ')} exited ${res.status}: ${res.stderr}${res.stdout.slice(0, 2000)}`);
  const report = JSON.parse(res.stdout) as { identical: boolean; compared: { files: number; dirs: number } };
  return { ms, entries: report.compared.files + report.compared.dirs, identical: report.identical };
}

/** rsync's dry run must also find nothing, or the comparison is meaningless. */
function timeRsyncDry(flags: string, a: string, b: string): number {
  const t0 = performance.now();
  const res = spawnSync('rsync', [flags, '-n', '--delete', '-i', `${a}/`, `${b}/`], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  if (res.status !== 0) throw new Error(`rsync ${flags} -n failed: ${res.stderr}`);
  if (res.stdout.trim() !== '') throw new Error(`rsync ${flags} -n found differences: ${res.stdout.slice(0, 500)}`);
  return ms;
}

const s = (ms: number): string => (ms / 1000).toFixed(2);
const gibps = (bytes: number, ms: number): string => ((bytes / 2 ** 30) / (ms / 1000)).toFixed(2);

export async function benchVerify(): Promise<string> {
  const rows: string[] = [];
  const a = scratch('verify-a', '8g');
  const b = scratch('verify-b', '8g');
  try {
    const t0 = performance.now();
    await buildTwin(a.path, b.path, FILES);
    process.stderr.write(`bench verify: built 2 x ${FILES} files in ${s(performance.now() - t0)} s\n`);
    const rsyncA: number[] = [];
    const rsyncHAX: number[] = [];
    const verify: VerifyRun[] = [];
    const verifyNoX: VerifyRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      rsyncA.push(timeRsyncDry('-a', a.path, b.path));
      verify.push(timeVerify(['--source', a.path, '--target', b.path]));
      verifyNoX.push(timeVerify(['--source', a.path, '--target', b.path, '--no-xattrs']));
      rsyncHAX.push(timeRsyncDry('-aHAX', a.path, b.path));
    }
    if (!verify.every((v) => v.identical)) throw new Error('verify reported differences on identical trees');
    const anchor = median(rsyncA);
    const entries = verify[0]?.entries ?? 0;
    const row = (what: string, ms: number): string => `| ${what} | ${s(ms)} | ${Math.round(entries / (ms / 1000)).toLocaleString('en')} | ${(ms / anchor).toFixed(2)} |`;
    rows.push(
      `| stats-only, ${FILES.toLocaleString('en')} identical files in ${Math.ceil(FILES / PER_DIR).toLocaleString('en')} dirs (tmpfs, medians of ${RUNS}) | s | entries/s | vs rsync -a -n |`,
      '|---|---|---|---|',
      row('`rsync -a -n --delete -i` (anchor)', anchor),
      row('`rsync -aHAX -n --delete -i` (same attributes as verify)', median(rsyncHAX)),
      row('`livesync verify` (type, size, mode, owner, mtime ns, links, xattrs+ACLs)', median(verify.map((v) => v.ms))),
      row('`livesync verify --no-xattrs`', median(verifyNoX.map((v) => v.ms))),
    );
  } finally {
    a.dispose();
    b.dispose();
  }

  const ca = scratch('verify-ca', `${MIB + 256}m`);
  const cb = scratch('verify-cb', `${MIB + 256}m`);
  try {
    const files = buildContent(ca.path, cb.path, MIB);
    const bytes = MIB * 2 ** 20;
    const cat: number[] = [];
    const sha: number[] = [];
    const check: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      cat.push(timeCommand('cat', files));
      sha.push(timeCommand('sha256sum', files));
      check.push(timeVerify(['--source', ca.path, '--target', cb.path, '--checksum']).ms);
    }
    const anchor = median(cat);
    const row = (what: string, ms: number): string => `| ${what} | ${s(ms)} | ${gibps(bytes, ms)} | ${(anchor / ms).toFixed(2)} |`;
    rows.push(
      '',
      `| content, ${MIB} MiB in ${files.length} files (tmpfs, medians of ${RUNS}) | s | GiB/s per side | speed vs cat |`,
      '|---|---|---|---|',
      row('`cat` of one side (read speed, anchor)', anchor),
      row('`sha256sum` of one side', median(sha)),
      row('`livesync verify --checksum` (reads both sides)', median(check)),
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
