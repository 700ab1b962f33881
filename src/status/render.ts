/**
 * The human status view: a StatusSnapshot as a few lines that fit one screen, lag first. Pure (text in, text
 * out); the terminal handling (refresh in place) is in src/status/show.ts.
 */
import { forTerminal } from './printable.ts';
import type { StatusSnapshot } from './snapshot.ts';
import { STATE_INFO } from './states.ts';

const SPARK = '▁▂▃▄▅▆▇█';
/** failing paths and unwatched dirs shown by name; the rest are counted */
const LIST_SHOWN = 3;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const pad = (n: number): string => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${pad((s % 86400) / 3600)}h`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ago(at: number | null, now: number): string {
  return at === null ? 'never' : `${formatDuration(Math.max(0, now - at))} ago`;
}

/**
 * A unicode sparkline of `samples` squeezed into `width` cells (each cell shows the highest sample it covers).
 * Empty cells (no data yet) are blanks; 0 is the lowest bar, the window's maximum the highest.
 */
export function sparkline(samples: ReadonlyArray<number | null>, width: number): string {
  const cells = Math.max(1, Math.min(width, samples.length));
  const per = samples.length / cells;
  const values: Array<number | null> = [];
  for (let c = 0; c < cells; c++) {
    let best: number | null = null;
    for (let i = Math.floor(c * per); i < Math.floor((c + 1) * per); i++) {
      const v = samples[i];
      if (v !== null && v !== undefined) best = Math.max(best ?? 0, v);
    }
    values.push(best);
  }
  const max = Math.max(1, ...values.map((v) => v ?? 0));
  return values.map((v) => (v === null ? ' ' : v === 0 ? SPARK[0] : SPARK[Math.max(1, Math.ceil((v / max) * (SPARK.length - 1)))])).join('');
}

function failureLines(s: StatusSnapshot): string[] {
  if (s.failedPathCount === 0 && s.batchFailures === 0) return ['  failures   none'];
  const lines = [`  failures   ${formatCount(s.failedPathCount)} paths failing, ${formatCount(s.batchFailures)} batch failures`];
  for (const f of s.failedPaths.slice(0, LIST_SHOWN)) lines.push(`             ${f.path}: ${f.error} (${f.attempts} attempts)`);
  if (s.failedPathCount > LIST_SHOWN) lines.push(`             ... and ${formatCount(s.failedPathCount - LIST_SHOWN)} more (livesync status --json)`);
  return lines;
}

function seedLine(s: StatusSnapshot): string[] {
  if (s.seed === null) return [];
  const { files, bytes, rate, etaS, percent } = s.seed;
  const pct = percent === null ? '' : `, ${percent.toFixed(0)} %`;
  const eta = etaS === null ? '' : `, ETA ${formatDuration(etaS * 1000)}`;
  return [`  seed       ${formatCount(files)} files, ${formatBytes(bytes)} at ${formatBytes(rate)}/s${pct}${eta}`];
}

export interface RenderOptions {
  /** terminal width: lines are cut to it */
  columns: number;
  /** add the lag sparkline (needs snapshot.lagHistory) */
  sparkline: boolean;
}

/** The status as lines (no trailing newline), lag first. */
export function renderStatus(s: StatusSnapshot, options: RenderOptions): string[] {
  const now = s.at;
  const info = STATE_INFO[s.state];
  const heartbeat = s.heartbeatLagMs === null ? '' : `   heartbeat ${formatDuration(s.heartbeatLagMs)}`;
  const lines = [
    `lag ${formatDuration(s.lagMs)}${heartbeat}   ${s.name}: ${s.state}${info.healthy ? '' : ' (!)'}, ${s.stateReason ?? info.summary}`,
    `  queue      ${formatCount(s.pendingPaths)} pending, ${formatCount(s.inFlightPaths)} in flight`,
    `  synced     ${formatCount(s.syncedFiles)} files, ${formatBytes(s.syncedBytes)} in ${formatCount(s.batches)} batches; last ${ago(s.lastSyncAt, now)}`,
    `  rate       ${formatCount(s.throughput.filesPerS)} files/s, ${formatBytes(s.throughput.bytesPerS)}/s, ${formatCount(s.throughput.changesPerS)} changes/s (last ${s.throughput.windowS} s)`,
    ...seedLine(s),
    `  watches    ${formatCount(s.watchedDirs)} dirs, ${formatCount(s.unwatchedDirs)} unwatched, ${formatCount(s.overflows)} overflows`,
    ...s.unwatched.slice(-LIST_SHOWN).map((u) => `             unwatched ${u.path} (${u.errno}): rescanned periodically`),
    ...failureLines(s),
  ];
  if (s.lastError !== null) lines.push(`  last error ${ago(s.lastError.at, now)}: ${s.lastError.message}`);
  const up = s.startedAt === null ? '' : `, up ${formatDuration(now - s.startedAt)}`;
  lines.push(`  job        ${s.source} -> ${s.target} (pid ${s.pid ?? '?'}${up}${s.watcher === null ? '' : `, ${s.watcher}`})`);
  if (options.sparkline && s.lagHistory !== undefined) {
    // A job younger than the history window: show only the seconds it has lived.
    const all = s.lagHistory.samplesMs;
    const first = all.findIndex((v) => v !== null);
    const samples = first < 0 ? [] : all.slice(first);
    const spanS = Math.round((samples.length * s.lagHistory.intervalMs) / 1000);
    const label = `  lag, last ${spanS >= 120 ? `${Math.round(spanS / 60)} min` : `${spanS} s`} `;
    const max = Math.max(0, ...samples.map((v) => v ?? 0));
    const tail = ` max ${formatDuration(max)}`;
    const width = Math.max(10, options.columns - label.length - tail.length - 1);
    lines.push(`${label}${sparkline(samples, width)}${tail}`);
  }
  return lines.map(forTerminal).map((line) => (line.length > options.columns ? `${line.slice(0, Math.max(1, options.columns - 1))}…` : line));
}
