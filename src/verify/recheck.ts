/**
 * The one re-check of differing paths, for trees that may be changing (a running mirror). Each differing path
 * is first offered to the caller's isInFlight; the others are looked at again once, after one short delay for
 * all of them. IN_FLIGHT_RULES (policy.ts) then decides: in flight (dirty / changed / settled) or a real
 * difference. Differences that persist keep their first-look values.
 */
import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RelPath } from '../util/bpath.ts';
import { compareEntries, lookOf, sameLook } from './compare.ts';
import { compareContent } from './content.ts';
import { readDir, readEntry, under, type EntryRead } from './entry-io.ts';
import { CONTENT_CHUNK_BYTES, inFlightVerdict } from './policy.ts';
import { sameAtPrecision } from './precision.ts';
import type { DifferenceKind, InFlightReason, Look, RawDifference } from './types.ts';

export interface RecheckContext {
  sourceRoot: string;
  targetRoot: string;
  xattrs: boolean;
  precisionNs: number;
  isInFlight: ((rel: RelPath) => boolean) | undefined;
  delayMs: number | false;
  signal: AbortSignal | undefined;
}

export interface InFlightRaw {
  rel: RelPath;
  kinds: DifferenceKind[];
  reason: InFlightReason;
}

export interface RecheckOutcome {
  differences: RawDifference[];
  inFlight: InFlightRaw[];
}

function groupByPath(diffs: readonly RawDifference[]): Map<RelPath, RawDifference[]> {
  const groups = new Map<RelPath, RawDifference[]>();
  for (const d of diffs) {
    const group = groups.get(d.rel);
    if (group) group.push(d);
    else groups.set(d.rel, [d]);
  }
  return groups;
}

const kindsOf = (group: readonly RawDifference[]): DifferenceKind[] => [...new Set(group.map((d) => d.kind))];

export async function recheck(diffs: readonly RawDifference[], ctx: RecheckContext): Promise<RecheckOutcome> {
  const outcome: RecheckOutcome = { differences: [], inFlight: [] };
  const pending: Array<[RelPath, RawDifference[]]> = [];
  for (const [rel, group] of groupByPath(diffs)) {
    if (ctx.isInFlight?.(rel)) outcome.inFlight.push({ rel, kinds: kindsOf(group), reason: 'dirty' });
    else if (ctx.delayMs === false) outcome.differences.push(...group);
    else pending.push([rel, group]);
  }
  if (pending.length === 0 || ctx.delayMs === false) return outcome;
  await sleep(ctx.delayMs, undefined, { signal: ctx.signal });
  const scratch: [Buffer, Buffer] = [Buffer.allocUnsafe(CONTENT_CHUNK_BYTES), Buffer.allocUnsafe(CONTENT_CHUNK_BYTES)];
  for (const [rel, group] of pending) {
    const second = await secondLook(rel, group, ctx, scratch);
    const verdict = inFlightVerdict({ dirty: false, sourceChanged: second.sourceChanged, nowIdentical: second.remaining.length === 0 });
    if (verdict === null) outcome.differences.push(...second.remaining);
    else outcome.inFlight.push({ rel, kinds: kindsOf(group), reason: verdict });
  }
  return outcome;
}

function lookNow(read: EntryRead): Look | null | undefined {
  if (read.state === 'present') return lookOf(read.info);
  return read.state === 'absent' ? null : undefined;
}

async function secondLook(
  rel: RelPath,
  group: readonly RawDifference[],
  ctx: RecheckContext,
  scratch: [Buffer, Buffer],
): Promise<{ sourceChanged: boolean; remaining: RawDifference[] }> {
  const s = readEntry(under(ctx.sourceRoot, rel), ctx.xattrs);
  const t = readEntry(under(ctx.targetRoot, rel), ctx.xattrs);
  const now = lookNow(s);
  const first = group[0]?.look ?? null;
  const sourceChanged = now !== undefined && !sameLook(first, now);

  const fresh: RawDifference[] = [];
  if (s.state === 'error' || t.state === 'error') {
    fresh.push({ rel, kind: 'unreadable', source: null, target: null, look: null });
  } else {
    const si = s.state === 'present' ? s.info : undefined;
    const ti = t.state === 'present' ? t.info : undefined;
    compareEntries(rel, si, ti, { xattrs: ctx.xattrs, skipMtime: false }, fresh);
    const settledAttrs = !fresh.some((d) => d.kind === 'type' || d.kind === 'size' || d.kind === 'missing' || d.kind === 'extra');
    if (si?.kind === 'file' && settledAttrs && group.some((d) => d.kind === 'content' || d.detail === 'read')) {
      const diff = await compareContent(ctx.sourceRoot, ctx.targetRoot, { rel, size: si.size, look: lookOf(si) }, scratch, () => {});
      if (diff) fresh.push(diff);
    }
  }
  const still = new Set(
    fresh.filter((d) => !(d.kind === 'mtime' && d.mtimes && sameAtPrecision(d.mtimes.source, d.mtimes.target, ctx.precisionNs))).map((d) => d.kind),
  );
  const listable = (): boolean => readDir(under(ctx.sourceRoot, rel), false).ok && readDir(under(ctx.targetRoot, rel), false).ok;
  const remaining = group.filter((d) => {
    if (d.kind === 'hardlink') return true; // a structure across paths: not re-judged from one path
    if (d.kind === 'unreadable' && d.detail === 'readdir') return !listable();
    return still.has(d.kind);
  });
  return { sourceChanged, remaining };
}
