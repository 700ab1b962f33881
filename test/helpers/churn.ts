/**
 * Seeded random churn on a live tree (lsyncd's churn test idea): creates, rewrites (same size within one
 * second included), appends, deletes, renames of files and directories, deep trees, deletes of whole subtrees,
 * chmod, utimes, symlinks, hard links, FIFOs, xattrs — with hostile names (spaces, newlines, leading dashes,
 * invalid UTF-8, 255-byte names). SEED env var or the `seed` option reproduces a run; tests print it on failure.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { Buffer } from 'node:buffer';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Names Linux allows and naive tools break on. Buffers, because some are not UTF-8. */
export const HOSTILE_NAMES: Buffer[] = [
  Buffer.from('with space'),
  Buffer.from('new\nline'),
  Buffer.from('-leading-dash'),
  Buffer.from('--delete'),
  Buffer.from([0x69, 0x6e, 0x76, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]), // invalid UTF-8
  Buffer.from('x'.repeat(248)), // + a '-N' suffix in churn; populate() also writes an exact 255-byte name
  Buffer.from('ünïcödé-名前'),
  Buffer.from('tab\there'),
  Buffer.from('star*[?]{}'),
  Buffer.from(' leading-space'),
];

/** The longest name Linux allows: 255 bytes. */
export const LONGEST_NAME = Buffer.from('y'.repeat(255));

/** argv strings are UTF-8: a name that is not valid UTF-8 cannot be passed to a tool by path. */
function utf8(p: Buffer): string | null {
  const text = p.toString('utf8');
  return Buffer.from(text, 'utf8').equals(p) ? text : null;
}

const join = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, Buffer.from('/'), name]);

export interface ChurnOptions {
  root: string;
  ops: number;
  seed: number;
  /** allow FIFOs, xattrs, hard links (spawns or special files) */
  special?: boolean;
  /**
   * Told about every operation that succeeded, in order, with the absolute paths it touched (a rename: from,
   * to; a hard link: existing, new). For debugging a lost change: grep the log for the stale path.
   */
  onOp?: (kind: string, paths: Buffer[]) => void;
}

/** Runs `ops` random operations synchronously. Returns counts per operation kind. */
export function churn(options: ChurnOptions): Record<string, number> {
  const rand = rng(options.seed);
  const root = Buffer.from(options.root);
  const dirs: Buffer[] = [root];
  const files: Buffer[] = [];
  const counts: Record<string, number> = {};
  const pick = <T>(list: T[]): T | undefined => list[Math.floor(rand() * list.length)];
  /** paths the current operation touched (for onOp) */
  let touched: Buffer[] = [];
  const t = (...paths: Buffer[]): Buffer => {
    touched.push(...paths);
    return paths[paths.length - 1]!;
  };
  let n = 0;
  const name = (): Buffer => (rand() < 0.15 ? Buffer.concat([pick(HOSTILE_NAMES)!, Buffer.from(`-${n++}`)]) : Buffer.from(`f${n++}`));
  const alive = (p: Buffer): boolean => {
    try {
      fs.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  const ops: Array<[string, number, () => void]> = [
    ['create', 25, () => {
      const p = t(join(pick(dirs)!, name()));
      fs.writeFileSync(p, Buffer.alloc(Math.floor(rand() * 4096), n & 0xff));
      files.push(p);
    }],
    ['rewrite-same-size', 12, () => {
      const p = t(pick(files)!);
      const size = fs.statSync(p).size;
      fs.writeFileSync(p, Buffer.alloc(size, Math.floor(rand() * 256)));
    }],
    ['append', 8, () => fs.appendFileSync(t(pick(files)!), 'more\n')],
    ['delete', 8, () => {
      const i = Math.floor(rand() * files.length);
      fs.rmSync(t(files[i]!), { force: true });
      files.splice(i, 1);
    }],
    ['mkdir-deep', 6, () => {
      let d = pick(dirs)!;
      const depth = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < depth; i++) {
        d = t(join(d, name()));
        fs.mkdirSync(d);
        dirs.push(d);
      }
      const f = t(join(d, name()));
      fs.writeFileSync(f, 'deep');
      files.push(f);
    }],
    ['rename-file', 8, () => {
      const i = Math.floor(rand() * files.length);
      const to = join(pick(dirs)!, name());
      fs.renameSync(t(files[i]!), t(to));
      files[i] = to;
    }],
    ['rename-dir', 3, () => {
      const i = 1 + Math.floor(rand() * (dirs.length - 1));
      const from = dirs[i]!;
      const parent = pick(dirs)!;
      if (parent.subarray(0, from.length + 1).equals(Buffer.concat([from, Buffer.from('/')])) || parent.equals(from)) return;
      const to = join(parent, name());
      fs.renameSync(t(from), t(to));
      const re = (p: Buffer): Buffer => (p.equals(from) || p.subarray(0, from.length + 1).equals(Buffer.concat([from, Buffer.from('/')])) ? Buffer.concat([to, p.subarray(from.length)]) : p);
      for (let k = 0; k < dirs.length; k++) dirs[k] = re(dirs[k]!);
      for (let k = 0; k < files.length; k++) files[k] = re(files[k]!);
    }],
    ['delete-subtree', 2, () => {
      const i = 1 + Math.floor(rand() * (dirs.length - 1));
      const victim = dirs[i]!;
      fs.rmSync(t(victim), { recursive: true, force: true });
      const under = (p: Buffer): boolean => p.equals(victim) || p.subarray(0, victim.length + 1).equals(Buffer.concat([victim, Buffer.from('/')]));
      for (let k = dirs.length - 1; k >= 1; k--) if (under(dirs[k]!)) dirs.splice(k, 1);
      for (let k = files.length - 1; k >= 0; k--) if (under(files[k]!)) files.splice(k, 1);
    }],
    ['chmod', 4, () => fs.chmodSync(t(pick(files)!), rand() < 0.5 ? 0o600 : 0o755)],
    ['utimes', 3, () => {
      const when = new Date(Date.now() - Math.floor(rand() * 1e9));
      fs.utimesSync(t(pick(files)!), when, when);
    }],
    ['chown', 2, () => fs.chownSync(t(pick(files)!), 1000 + Math.floor(rand() * 3), 1000)],
    ['symlink', 3, () => {
      const p = t(join(pick(dirs)!, name()));
      fs.symlinkSync(rand() < 0.5 ? Buffer.from('../dangling target') : pick(files)!, p);
      files.push(p);
    }],
    ['hardlink', options.special ? 2 : 0, () => {
      const p = join(pick(dirs)!, name());
      fs.linkSync(t(pick(files)!), t(p));
      files.push(p);
    }],
    ['fifo', options.special ? 1 : 0, () => {
      const p = t(join(pick(dirs)!, Buffer.from(`fifo${n++}`)));
      const text = utf8(p);
      if (text !== null) execFileSync('mkfifo', [text], { stdio: 'ignore' });
    }],
    ['xattr', options.special ? 1 : 0, () => {
      const p = t(pick(files)!);
      if (fs.lstatSync(p).isSymbolicLink()) return;
      const text = utf8(p);
      if (text !== null) execFileSync('setfattr', ['-n', 'user.livesync', '-v', `v${n++}`, text], { stdio: 'ignore' });
    }],
  ];
  const total = ops.reduce((a, [, w]) => a + w, 0);
  for (let i = 0; i < options.ops; i++) {
    let r = rand() * total;
    const op = ops.find(([, w]) => (r -= w) < 0) ?? ops[0]!;
    const needsFile = op[0] !== 'create' && op[0] !== 'mkdir-deep' && op[0] !== 'fifo';
    if (needsFile && files.length === 0) continue;
    if ((op[0] === 'rename-dir' || op[0] === 'delete-subtree') && dirs.length < 2) continue;
    try {
      if (needsFile && op[0] !== 'delete' && op[0] !== 'rename-dir' && op[0] !== 'delete-subtree') {
        const f = files.find(alive);
        if (!f) continue;
      }
      touched = [];
      op[2]();
      counts[op[0]] = (counts[op[0]] ?? 0) + 1;
      options.onOp?.(op[0], touched);
    } catch (err) {
      // A random op can hit a file that a symlink points nowhere, a symlink chmod, a renamed-away path: skip it.
      const code = (err as { code?: string }).code;
      if (!['ENOENT', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENOTEMPTY', 'ELOOP', 'ENAMETOOLONG'].includes(code ?? '') && !(err as Error).message.includes('Command failed')) throw err;
    }
  }
  return counts;
}

/** Populates a tree of `files` files in `dirs` directories, with the hostile names at the top. */
export function populate(root: string, files: number, dirs: number): void {
  const r = Buffer.from(root);
  for (const h of [...HOSTILE_NAMES, LONGEST_NAME]) fs.writeFileSync(join(r, h), h);
  fs.mkdirSync(join(r, Buffer.concat([HOSTILE_NAMES[1]!, Buffer.from('-dir')])), { recursive: true });
  for (let d = 0; d < dirs; d++) {
    const dir = `${root}/d${d}`;
    fs.mkdirSync(dir, { recursive: true });
    const per = Math.ceil(files / dirs);
    for (let f = 0; f < per; f++) fs.writeFileSync(`${dir}/file${f}`, `content ${d}/${f}\n`);
  }
}
