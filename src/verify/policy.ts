/**
 * What verify compares and how it judges: tables, one row per rule, each with its reason. Pure data and tiny
 * pure functions; no I/O. compare.ts applies ATTRIBUTES, recheck.ts applies IN_FLIGHT_RULES.
 */
import type { DifferenceKind, EntryInfo, FileKind, InFlightReason } from './types.ts';

/** Names that are never compared, at any depth: livesync's own cookie and probe files. */
export const COOKIE_PREFIX = '.livesync';

/** Default pause before the one re-check of differing paths: long enough for a mirror batch to land. */
export const RECHECK_DELAY_MS = 500;

/** Content is compared in chunks of this size per side (large reads: fewer syscalls, still cache-friendly). */
export const CONTENT_CHUNK_BYTES = 1 << 20;

/** Directories sent to a walk worker per message, at most (amortizes messaging, keeps workers balanced). */
export const WALK_BATCH_DIRS = 64;

/** At most this many progress callbacks per second. */
export const PROGRESS_INTERVAL_MS = 250;

export interface AttributeRule {
  kind: DifferenceKind;
  /** file kinds the rule applies to (both sides have the same kind when it runs) */
  appliesTo: readonly FileKind[];
  same: (a: EntryInfo, b: EntryInfo) => boolean;
  show: (e: EntryInfo) => string;
}

const ALL: readonly FileKind[] = ['file', 'dir', 'symlink', 'fifo', 'socket', 'char', 'block'];

/**
 * Attribute checks for two entries of the same kind. mtime is listed here but judged later: the walk only
 * records raw ns values, and verify.ts compares them at the coarser precision of the two sides.
 */
export const ATTRIBUTES: readonly AttributeRule[] = [
  // Directory sizes are filesystem bookkeeping and symlink sizes are their target's length (checked below).
  { kind: 'size', appliesTo: ['file'], same: (a, b) => a.size === b.size, show: (e) => String(e.size) },
  // Symlink permissions are always 0777 on Linux and cannot be changed, so they carry no information.
  {
    kind: 'mode',
    appliesTo: ['file', 'dir', 'fifo', 'socket', 'char', 'block'],
    same: (a, b) => a.perm === b.perm,
    show: (e) => `0${e.perm.toString(8).padStart(3, '0')}`,
  },
  // Numeric ids, not names: the share may be mounted where the names map differently (idmap, root_squash).
  { kind: 'owner', appliesTo: ALL, same: (a, b) => a.uid === b.uid && a.gid === b.gid, show: (e) => `${e.uid}:${e.gid}` },
  // The link's bytes, exactly (binary strings compare byte for byte).
  { kind: 'symlink', appliesTo: ['symlink'], same: (a, b) => a.link === b.link, show: (e) => e.link ?? '' },
  // A device node is its major:minor number.
  { kind: 'device', appliesTo: ['char', 'block'], same: (a, b) => a.rdev === b.rdev, show: (e) => showDevice(e.rdev) },
];

function showDevice(rdev: number): string {
  // glibc's gnu_dev_major/gnu_dev_minor encoding of a 64-bit dev_t
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** Extended attributes that are not compared, and why. */
export const IGNORED_XATTRS: ReadonlyMap<string, string> = new Map([
  // NFSv4 renders the server's ACL as this attribute: derived from mode and POSIX ACLs, not stored data.
  ['system.nfs4_acl', 'derived by the NFSv4 server'],
  ['system.nfs4_dacl', 'derived by the NFSv4 server'],
  ['system.nfs4_sacl', 'derived by the NFSv4 server'],
  // SELinux labels are assigned per filesystem by policy (a share is labelled nfs_t), so they differ by design.
  ['security.selinux', 'assigned by SELinux policy per filesystem'],
]);

/** errnos of reading xattrs that mean "this filesystem has none" rather than a failure. */
export const XATTR_NONE_ERRNOS: ReadonlySet<string> = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENODATA']);

export interface InFlightFacts {
  /** the caller (the mirror) says the path is queued or being copied */
  dirty: boolean;
  /** source type/size/mtime/ctime/inode or existence changed between the two looks */
  sourceChanged: boolean;
  /** the second look found no difference */
  nowIdentical: boolean;
}

/** First matching row decides whether a differing path is in flight (and why) or a real difference (null). */
export const IN_FLIGHT_RULES: ReadonlyArray<{ when: (f: InFlightFacts) => boolean; verdict: InFlightReason | null }> = [
  // The mirror knows best: a queued or in-progress path is expected to differ.
  { when: (f) => f.dirty, verdict: 'dirty' },
  // The source moved on while we looked: the copy cannot be judged yet.
  { when: (f) => f.sourceChanged, verdict: 'changed' },
  // The target caught up with an unchanged source: it was being copied at the first look.
  { when: (f) => f.nowIdentical, verdict: 'settled' },
  // Still different with a still source: a real difference.
  { when: () => true, verdict: null },
];

export function inFlightVerdict(facts: InFlightFacts): InFlightReason | null {
  for (const rule of IN_FLIGHT_RULES) if (rule.when(facts)) return rule.verdict;
  return null;
}
