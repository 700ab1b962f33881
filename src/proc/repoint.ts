/**
 * Re-point a frozen set onto a new root: check the new root has every target (a process missing one is
 * skipped whole, never half-moved), size and open the injection sessions (one helper call), run the whole
 * program (one helper call), blame failures on the first op of each chain that failed, then verify through
 * /proc (verify.ts). Only while frozen: the processes run again only at thaw.
 */
import { statId } from '../sys/procfs.ts';
import { HelperFailure, type OpResult } from '../sys/ptrace.ts';
import { display } from '../util/bpath.ts';
import type { HelperHolder } from './holder.ts';
import { emitRepoint } from './inject.ts';
import { Program, openOps, type Chain } from './program.ts';
import { resolveTree, under } from './tree.ts';
import { verifyRepoint } from './verify.ts';
import type { Frozen, ProcPlan, RepointProblem, RepointResult } from './types.ts';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_PATH = 0o10000000;
const O_APPEND = 0o2000;

export interface RepointOptions {
  /** the new root: the tree's relative paths are resolved under it */
  toRoot: string;
}

/** Targets on the new root that are missing, of another type, or shorter than the offset to restore. */
function precheck(p: ProcPlan, toRoot: string): RepointProblem[] {
  const out: RepointProblem[] = [];
  const add = (item: string, reason: RepointProblem['reason'], detail: string): void => {
    out.push({ pid: p.info.pid, comm: p.info.comm, item, reason, detail });
  };
  for (const j of p.items) {
    if (j.verdict !== 'movable') continue;
    const it = j.item;
    const wants: Array<{ rel: string | null; type: number; pos?: number; label: string }> = [];
    if (it.kind === 'cwd') wants.push({ rel: it.rel, type: S_IFDIR, label: `cwd ${display(it.rel ?? '')}` });
    if (it.kind === 'fd' && it.type === 'dir') wants.push({ rel: it.rel, type: S_IFDIR, label: `fd ${it.fd}` });
    // offsets matter to readers and positioned writers; an O_APPEND writer always writes at the end (a log
    // truncated by copytruncate is shorter than its writer's offset, and that is fine)
    if (it.kind === 'fd' && it.type === 'file') wants.push({ rel: it.rel, type: S_IFREG, pos: it.flags & (O_PATH | O_APPEND) ? 0 : it.pos, label: `fd ${it.fd}` });
    if (it.kind === 'inotify') for (const w of it.watches) if (w.rel !== null) wants.push({ rel: w.rel, type: -1, label: `inotify wd ${w.wd}` });
    for (const want of wants) {
      if (want.rel === null) {
        add(want.label, 'no-relative-path', 'no path relative to the old tree');
        continue;
      }
      const id = statId(Buffer.from(under(toRoot, want.rel), 'latin1'));
      if (!id) add(want.label, 'missing-on-new-root', `${display(want.rel)} does not exist on the new root`);
      else if (want.type !== -1 && (id.mode & S_IFMT) !== want.type) add(want.label, 'type-changed', `${display(want.rel)} is of another type on the new root`);
      else if (want.pos !== undefined && id.size < want.pos) add(want.label, 'copy-shorter-than-offset', `${display(want.rel)}: ${id.size} bytes on the new root, offset ${want.pos}`);
    }
  }
  return out;
}

/** The first op of a chain that failed, was skipped, or returned something else than expected. */
function blame(chain: Chain, results: OpResult[], sessionErrors: Map<number, string>): RepointProblem | undefined {
  const base = { pid: chain.pid, comm: chain.comm, item: chain.item };
  if (chain.missing !== undefined) {
    const errno = sessionErrors.get(chain.missing) ?? 'unknown';
    return { ...base, reason: 'session-failed', detail: `could not start injecting into thread ${chain.missing} (${errno})` };
  }
  if (chain.ops.length === 0) return { ...base, reason: 'inject-failed', detail: 'nothing was injected' };
  for (const k of chain.ops) {
    const r = results[k];
    if (!r || r.status === 'skipped') return { ...base, reason: 'inject-failed', detail: `step ${k} skipped after an earlier failure` };
    if (r.status === 'failed') return { ...base, reason: 'inject-failed', detail: `step ${k} failed: ${r.errno}` };
    const want = chain.expect.get(k);
    if (want !== undefined && r.value !== want) return { ...base, reason: 'inject-failed', detail: `step ${k} returned ${r.value}, expected ${want}` };
  }
  return undefined;
}

export async function repoint(holder: HelperHolder, frozen: Frozen, options: RepointOptions): Promise<RepointResult> {
  const started = performance.now();
  const moved = { cwd: 0, fds: 0, watches: 0, locks: 0 };
  const done = (problems: RepointProblem[], warnings: string[] = []): RepointResult => ({
    ok: problems.length === 0,
    moved,
    problems,
    warnings,
    durationMs: performance.now() - started,
  });
  const target = resolveTree(options.toRoot);
  if (!target.ok) return done([{ pid: 0, comm: '', item: options.toRoot, reason: 'bad-new-root', detail: target.message }]);
  const toRoot = target.tree.path;
  const problems: RepointProblem[] = [];
  const procs: ProcPlan[] = [];
  for (const p of frozen.processes) {
    const found = precheck(p, toRoot);
    problems.push(...found);
    if (found.length === 0) procs.push(p);
  }
  try {
    const sizing = new Program(new Map(), true);
    emitRepoint(sizing, procs, toRoot);
    const { ops, order } = openOps(sizing.sessions.values());
    const opened = await holder.helper.batch(ops, ops.length);
    const sessions = new Map<number, (typeof order)[number]>();
    const sessionErrors = new Map<number, string>();
    order.forEach((s, i) => {
      const r = opened[i];
      if (r?.status === 'ok') {
        s.addr = r.value;
        sessions.set(s.tid, s);
      } else sessionErrors.set(s.tid, r?.status === 'failed' ? r.errno : 'skipped');
    });
    const prog = new Program(sessions, false);
    emitRepoint(prog, procs, toRoot);
    for (const s of sessions.values()) prog.end(s);
    const results = await holder.helper.batch(prog.ops, prog.count);
    for (const chain of prog.chains) {
      const problem = blame(chain, results, sessionErrors);
      if (problem) problems.push(problem);
      else moved[chain.kind === 'cwd' ? 'cwd' : chain.kind === 'fd' ? 'fds' : chain.kind === 'watch' ? 'watches' : 'locks']++;
    }
    problems.push(...(await verifyRepoint(holder.helper, frozen.tree, target.tree, procs)));
  } catch (err) {
    if (!(err instanceof HelperFailure)) throw err;
    problems.push({ pid: 0, comm: '', item: 'helper', reason: 'helper-failed', detail: err.message });
  }
  return done(dedupe(problems));
}

/** One line per (pid, item, reason): the injection failure and its /proc confirmation say the same thing. */
function dedupe(problems: RepointProblem[]): RepointProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.pid}\0${p.item.split(' ').slice(0, 2).join(' ')}\0${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
