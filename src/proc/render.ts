/**
 * Text and JSON views of plans and re-point reports (`livesync ps`, `livesync repoint`). Pure: data in,
 * string out. Paths are shown with src/util/bpath.ts `display` (invalid UTF-8 as \xNN).
 */
import { display } from '../util/bpath.ts';
import type { FreezeResult, Item, Judged, Plan, ProcPlan, RepointResult, ThawResult } from './types.ts';

const ACCESS = ['r', 'w', 'rw'];
const FLAG_NAMES: Array<[number, string]> = [
  [0o2000, 'append'],
  [0o4000, 'nonblock'],
  [0o40000, 'direct'],
  [0o4010000, 'sync'],
  [0o10000, 'dsync'],
  [0o10000000, 'path'],
  [0o2000000, 'cloexec'],
];

export function flagText(flags: number): string {
  const names = [ACCESS[flags & 3] ?? '?'];
  for (const [bit, name] of FLAG_NAMES) if ((flags & bit) === bit) names.push(name);
  return names.join(',');
}

const where = (rel: string | null, path: string): string => (rel === null ? display(path) : display(rel) || '.');

export function itemText(item: Item): string {
  switch (item.kind) {
    case 'cwd':
      return `cwd      ${where(item.rel, item.path)}${item.tids.length > 1 ? ` (threads ${item.tids.join(',')})` : ''}${item.deleted ? ' (deleted)' : ''}`;
    case 'root':
      return `root     ${where(item.rel, item.path)}`;
    case 'exe':
      return `exe      ${where(item.rel, item.path)}${item.deleted ? ' (deleted)' : ''}`;
    case 'fd': {
      const offset = item.type === 'file' ? ` @${item.pos}` : '';
      const locks = item.locks.length > 0 ? ` locks:${item.locks.map((l) => `${l.kind}/${l.access}`).join(',')}` : '';
      return `fd ${String(item.fd).padEnd(5)} ${where(item.rel, item.path)}${item.deleted ? ' (deleted)' : ''} [${item.type} ${flagText(item.flags)}${offset}${locks}]`;
    }
    case 'socket':
      return `fd ${String(item.fd).padEnd(5)} unix socket bound at ${where(item.rel, item.path)}`;
    case 'map':
      return `map      ${where(item.rel, item.path)}${item.deleted ? ' (deleted)' : ''} [${item.perms.join(' ')}]`;
    case 'inotify':
      return `fd ${String(item.fd).padEnd(5)} inotify: ${item.watches.map((w) => `wd ${w.wd} ${w.path === null ? '?' : where(w.rel, w.path)}`).join('; ')}`;
    case 'lock':
      return `lock     ${item.lock.kind} ${item.lock.access} on inode ${item.lock.ino}`;
  }
}

function judgedLine(j: Judged): string {
  const what = itemText(j.item);
  const verdict = j.verdict === 'movable' ? `→ ${j.text}` : j.verdict === 'stays' ? `stays: ${j.text}` : `BLOCKER: ${j.text}`;
  return `    ${what.padEnd(60)} ${verdict}`;
}

export function processText(p: ProcPlan): string {
  const head = `${String(p.info.pid).padStart(7)}  ${p.info.comm.padEnd(15)} uid ${String(p.info.uid).padEnd(5)} ${p.verdict.toUpperCase()}`;
  const why = p.blockers.length > 0 ? ` (${p.blockers.map((b) => b.text).join('; ')})` : '';
  const notes = p.notes.map((n) => `    note: ${n}`);
  return [head + why, ...p.items.map(judgedLine), ...notes].join('\n');
}

export function planText(plan: Plan): string {
  const t = plan.tree;
  const count = (v: string): number => plan.processes.filter((p) => p.verdict === v).length;
  const head =
    `${display(t.path)}: mount ${t.mntId}, device ${t.dev}${t.mountRoot ? ' (mount root)' : ''}\n` +
    `${plan.processes.length} process(es) hold something here: ${count('movable')} movable, ${count('stays')} only keep it busy, ${count('blocker')} blocker(s)`;
  if (plan.processes.length === 0) return `${head}\n`;
  return `${head}\n\n${plan.processes.map(processText).join('\n\n')}\n`;
}

function jsonItem(j: Judged): Record<string, unknown> {
  const item: Record<string, unknown> = { ...j.item };
  for (const key of ['path', 'rel'] as const) if (typeof item[key] === 'string') item[key] = display(item[key] as string);
  if (j.item.kind === 'fd') item['flagNames'] = flagText(j.item.flags);
  if (j.item.kind === 'inotify') item['watches'] = j.item.watches.map((w) => ({ ...w, path: w.path === null ? null : display(w.path), rel: w.rel === null ? null : display(w.rel) }));
  return { verdict: j.verdict, action: j.action, reason: j.reason, text: j.text, item };
}

export function planJson(plan: Plan): Record<string, unknown> {
  return {
    tree: { ...plan.tree, path: display(plan.tree.path) },
    processes: plan.processes.map((p) => ({ ...p.info, verdict: p.verdict, blockers: p.blockers, notes: p.notes, items: p.items.map(jsonItem) })),
    durationMs: Math.round(plan.durationMs),
  };
}

export function freezeFailureText(f: Extract<FreezeResult, { ok: false }>): string {
  return [`freeze failed (${f.reason}): ${f.message}`, ...f.processes.map((p) => `  ${p.pid} ${p.comm}: ${p.detail}`)].join('\n');
}

export function repointText(r: RepointResult, t: ThawResult | undefined, frozenMs: number): string {
  const m = r.moved;
  const lines = [
    `${r.ok ? 're-pointed' : 're-point INCOMPLETE'}: ${m.cwd} cwd, ${m.fds} fd, ${m.watches} inotify fd, ${m.locks} lock(s) in ${r.durationMs.toFixed(1)} ms`,
    ...r.problems.map((p) => `  problem: pid ${p.pid} ${p.comm} ${p.item}: ${p.reason}: ${p.detail}`),
    ...r.warnings.map((w) => `  warning: ${w}`),
  ];
  if (t) lines.push(`thawed ${t.thawed.length} process(es)${t.gone.length ? `, ${t.gone.length} gone` : ''}${t.forced ? ' (helper restarted to release all)' : ''}; frozen ${frozenMs.toFixed(1)} ms`);
  return `${lines.join('\n')}\n`;
}
