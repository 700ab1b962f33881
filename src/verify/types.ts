/**
 * The verify concern's vocabulary: options of `verifyTrees`, the report it returns, and the serializable
 * records the walk workers send back. Pure types; imports nothing with side effects.
 *
 * Paths are RelPath binary strings (src/util/bpath.ts) until the report is rendered; the report itself carries
 * display-escaped paths (bpath.display) so it can be printed or serialized as JSON as is.
 */
import type { RelPath } from '../util/bpath.ts';

export type FileKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'char' | 'block';

/** What differs at one path. One path may carry several kinds (e.g. mode and mtime). */
export type DifferenceKind =
  | 'missing' // on the source, not on the target
  | 'extra' // on the target, not on the source
  | 'type' // file vs directory vs symlink...
  | 'size'
  | 'content' // same size, different bytes
  | 'mode' // permission bits incl. setuid/setgid/sticky
  | 'owner' // uid:gid
  | 'mtime' // at the coarser precision of the two sides
  | 'symlink' // link target
  | 'device' // major:minor of a device node
  | 'hardlink' // inode sharing inside the tree differs
  | 'xattr' // one extended attribute (ACLs are xattrs system.posix_acl_*)
  | 'unreadable'; // could not be read on one side (errno)

export interface Difference {
  /** display-escaped path relative to the roots ('.' is the root) */
  path: string;
  kind: DifferenceKind;
  /** the source's value, null when absent */
  source: string | null;
  /** the target's value, null when absent */
  target: string | null;
  /** extra context, e.g. the first differing byte */
  detail?: string;
}

export type InFlightReason =
  | 'dirty' // the caller's isInFlight said so (the mirror has it queued)
  | 'changed' // the source moved on (mtime/size/ctime/existence) between the two looks
  | 'settled'; // identical at the second look: the mirror was copying it

export interface InFlight {
  path: string;
  kinds: DifferenceKind[];
  reason: InFlightReason;
}

export interface VerifyCounts {
  files: number;
  dirs: number;
  symlinks: number;
  other: number;
  /** content bytes compared (counted once per file pair) */
  bytesHashed: number;
}

export interface VerifyReport {
  identical: boolean;
  source: string;
  target: string;
  compared: VerifyCounts;
  differences: Difference[];
  inFlight: InFlight[];
  /** mtime precision in ns: what each side keeps (from its ctimes) and what was compared */
  mtimePrecisionNs: { source: number; target: number; compared: number };
  /** how content was checked */
  content: { mode: 'none' | 'all' | 'sample' | 'paths'; files: number; samplePercent?: number; seed?: number };
  durationMs: number;
}

export interface VerifyProgress {
  phase: 'walk' | 'content' | 'recheck';
  /** entries examined so far */
  entries: number;
  bytesHashed: number;
  /** bytes queued for content comparison so far (final once the walk is done) */
  bytesToHash: number;
  walkDone: boolean;
}

export interface VerifyOptions {
  /** the reference tree (absolute or relative path) */
  source: string;
  /** the copy */
  target: string;
  /** compare the content of every regular file pair */
  checksum?: boolean;
  /** compare the content of this share (0-100) of the regular files, picked at random */
  samplePercent?: number;
  /** makes the sample reproducible; random when absent */
  sampleSeed?: number;
  /** globs (docs/verify.md); names starting with `.livesync` are always excluded */
  exclude?: readonly string[];
  /** parallel walkers (worker threads) and content readers; default: available parallelism */
  jobs?: number;
  /** compare extended attributes and ACLs (default true; needs native/build/xattr.node) */
  xattrs?: boolean;
  /** mtime precision in ns to compare at (coarsened to what each side keeps); default 'auto' */
  mtimePrecisionNs?: number | 'auto';
  /** verify only these paths (no recursion), content included: the cutover's final delta */
  paths?: readonly RelPath[];
  /** the mirror's own knowledge: true when `rel` is queued or being copied right now */
  isInFlight?: (rel: RelPath) => boolean;
  /** re-check differing paths once after this delay (ms); false: no re-check. Default 500. */
  recheckDelayMs?: number | false;
  /** do not compare the root directory's mtime (a running job's cookies move it) */
  ignoreRootMtime?: boolean;
  /**
   * do not descend into directories on another filesystem than the source root (a mount point is compared
   * itself, not its content), as the mirror's `rsync -x` does; default false
   */
  oneFileSystem?: boolean;
  onProgress?: (progress: VerifyProgress) => void;
  signal?: AbortSignal;
}

/** One side's view of an entry, as the walk records it (structured-clone safe). */
export interface EntryInfo {
  kind: FileKind;
  /** mode & 0o7777 */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** `${dev}:${ino}` */
  inode: string;
  nlink: number;
  rdev: number;
  /** symlinks: the target, as a binary string */
  link?: string;
  /** name -> value (hex), when xattrs are compared and present */
  xattrs?: Record<string, string>;
  /** errno of reading the xattrs, when it failed */
  xattrError?: string;
  /** the xattrs were not read: a ctime floor left them out (scan-native.ts XattrRead) */
  xattrsNotRead?: true;
  /** errno of reading the symlink, when it failed */
  linkError?: string;
}

/** A difference as the walk finds it, before precision filtering, re-check and rendering. */
export interface RawDifference {
  rel: RelPath;
  kind: DifferenceKind;
  source: string | null;
  target: string | null;
  detail?: string;
  /** mtime differences: both raw values, judged later at the final precision */
  mtimes?: { source: bigint; target: bigint };
  /** the source as the walk saw it (null: absent), to tell "in flight" at the re-check */
  look: Look | null;
}

/** What the re-check compares to decide whether the source moved on between two looks. */
export interface Look {
  kind: FileKind;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  inode: string;
}

/** A regular-file pair whose content must be compared. */
export interface ContentTask {
  rel: RelPath;
  size: number;
  look: Look;
}

/** A pair of paths that shares an inode with other paths on at least one side. */
export interface LinkRecord {
  rel: RelPath;
  /** inode keys `${dev}:${ino}` on each side */
  source: string;
  target: string;
  look: Look;
}

/** A source regular file or symlink with more than one link (the mirror's hard-link index is built from these). */
export interface MultiLink {
  rel: RelPath;
  /** `${dev}:${ino}` on the source */
  inode: string;
}

/**
 * Per side, the ctime (ns since the epoch) from which an entry's xattrs can have changed since both trees
 * last agreed: a pair whose ctimes are both below their side's floor has equal xattrs, and they are not read.
 */
export interface XattrFloor {
  source: bigint;
  target: bigint;
}

/** Distinct ctimes sampled per side (precision.ts decides from them what each side keeps). */
export interface CtimeSamples {
  source: bigint[];
  target: bigint[];
}
