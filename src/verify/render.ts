/**
 * Turns raw findings into the report's printable records, and the report into text, pure. Every path and
 * value passes through bpath.display, so hostile names (newlines, leading dashes, invalid UTF-8) print as
 * one escaped line each.
 */
import { display, type RelPath } from '../util/bpath.ts';
import type { InFlightRaw } from './recheck.ts';
import { showTime } from './precision.ts';
import type { Difference, DifferenceKind, InFlight, RawDifference, VerifyProgress, VerifyReport } from './types.ts';

/** Order of kinds within one path: existence first, then the most telling attribute. */
const KIND_ORDER: readonly DifferenceKind[] = [
  'unreadable', 'missing', 'extra', 'type', 'size', 'content', 'symlink', 'device', 'hardlink', 'mode', 'owner', 'mtime', 'xattr',
];

/** Printable ASCII without quotes or backslashes displays as itself: skip the decoder (1M-difference reports). */
const PLAIN = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

function escape(text: string): string {
  return PLAIN.test(text) ? text : display(text);
}

export function showPath(rel: RelPath): string {
  return rel === '' ? '.' : escape(rel);
}

export function toDifference(d: RawDifference): Difference {
  const source = d.mtimes ? showTime(d.mtimes.source) : d.source;
  const target = d.mtimes ? showTime(d.mtimes.target) : d.target;
  const out: Difference = {
    path: showPath(d.rel),
    kind: d.kind,
    source: source === null ? null : escape(source),
    target: target === null ? null : escape(target),
  };
  if (d.detail !== undefined) out.detail = d.detail;
  return out;
}

export function sortRaw<T extends { rel: RelPath; kind?: DifferenceKind }>(items: T[]): T[] {
  const rank = (k: DifferenceKind | undefined): number => (k === undefined ? 0 : KIND_ORDER.indexOf(k));
  return items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : rank(a.kind) - rank(b.kind)));
}

export function toInFlight(f: InFlightRaw): InFlight {
  return { path: showPath(f.rel), kinds: f.kinds, reason: f.reason };
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function precision(ns: number): string {
  const UNITS: Array<[number, string]> = [[1_000_000_000, 's'], [1_000_000, 'ms'], [1_000, 'us'], [1, 'ns']];
  const [div, unit] = UNITS.find(([d]) => ns % d === 0) ?? [1, 'ns'];
  return `${ns / div} ${unit}`;
}

/** The human report: a summary, then one line per difference and per in-flight path. */
export function renderText(report: VerifyReport): string {
  const c = report.compared;
  const lines: string[] = [];
  lines.push(`verify ${report.source} -> ${report.target}`);
  const content =
    report.content.mode === 'none'
      ? 'metadata only'
      : `content of ${report.content.files} files (${bytes(c.bytesHashed)})${report.content.mode === 'sample' ? `, sample ${report.content.samplePercent}% seed ${report.content.seed}` : ''}`;
  lines.push(
    `  compared ${c.files} files, ${c.dirs} dirs, ${c.symlinks} symlinks, ${c.other} other; ${content}; ` +
      `mtime at ${precision(report.mtimePrecisionNs.compared)}; ${(report.durationMs / 1000).toFixed(2)} s`,
  );
  for (const d of report.differences) {
    const detail = d.detail === undefined ? '' : `  (${d.detail})`;
    lines.push(`  ${d.kind.padEnd(10)} ${d.path}\n      source: ${d.source ?? '(absent)'}\n      target: ${d.target ?? '(absent)'}${detail}`);
  }
  for (const f of report.inFlight) lines.push(`  in flight  ${f.path}  (${f.kinds.join(', ')}; ${f.reason})`);
  const paths = new Set(report.differences.map((d) => d.path)).size;
  lines.push(
    report.identical
      ? `identical${report.inFlight.length > 0 ? ` (${report.inFlight.length} paths in flight, not compared)` : ''}`
      : `DIFFERENT: ${report.differences.length} differences at ${paths} paths${report.inFlight.length > 0 ? `, ${report.inFlight.length} in flight` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** One progress line for a terminal (no newline): entries walked, content compared, rate. */
export function progressLine(p: VerifyProgress, elapsedMs: number): string {
  const parts = [`verify: ${p.phase}`, `${p.entries} entries${p.walkDone ? '' : '...'}`];
  if (p.bytesToHash > 0) {
    const pct = p.walkDone ? ` (${Math.floor((100 * p.bytesHashed) / p.bytesToHash)}%)` : '';
    const rate = elapsedMs > 0 ? `, ${bytes((p.bytesHashed * 1000) / elapsedMs)}/s` : '';
    parts.push(`content ${bytes(p.bytesHashed)} of ${bytes(p.bytesToHash)}${pct}${rate}`);
  }
  return parts.join(', ');
}
