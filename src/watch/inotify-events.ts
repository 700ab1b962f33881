/**
 * The inotify ABI as data: event bits, the watch mask we ask for (with the reason for every bit), the parser
 * of raw `struct inotify_event` records, and the table saying what each kind of event means for the mirror.
 * Pure: no I/O. The watcher (inotify-watcher.ts) reads the fd and applies the table.
 */
import { endianness } from 'node:os';

// <sys/inotify.h> (stable Linux ABI)
export const IN_ACCESS = 0x1;
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_CLOSE_WRITE = 0x8;
export const IN_MOVED_FROM = 0x40;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_DELETE = 0x200;
export const IN_DELETE_SELF = 0x400;
export const IN_MOVE_SELF = 0x800;
export const IN_UNMOUNT = 0x2000;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;
export const IN_ONLYDIR = 0x1000000;
export const IN_DONT_FOLLOW = 0x2000000;
export const IN_EXCL_UNLINK = 0x4000000;
export const IN_ISDIR = 0x40000000;

/**
 * One mask for every directory watch. Every bit, and why:
 * - IN_CREATE: files, dirs, symlinks, hard links and device nodes appearing (a new dir gets its own watch).
 * - IN_MODIFY: a write(). Needed because a file held open and written continuously (logs, databases) never
 *   produces IN_CLOSE_WRITE; consecutive writes coalesce into one change per read buffer.
 * - IN_CLOSE_WRITE: the last write is done; also the only event for writes through mmap.
 * - IN_ATTRIB: chmod, chown, utimes, xattrs, link count (a new hard link to a file).
 * - IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO: names disappearing and renames (paired by cookie).
 * - IN_DELETE_SELF, IN_MOVE_SELF: needed on the root (root-gone); on other dirs the parent already reports it.
 * - IN_DONT_FOLLOW: never watch through a symlink (rsync -a copies symlinks as links; the target may lie outside).
 * - IN_ONLYDIR: if the name was replaced by a file between listing and add_watch, fail with ENOTDIR instead of
 *   watching a file.
 * - IN_EXCL_UNLINK: no events for files already unlinked but still open (a deleted temp file written
 *   forever would flood events for a name that no longer exists, or that now names another file).
 * Not asked: IN_ACCESS, IN_OPEN, IN_CLOSE_NOWRITE (reads change nothing). Not IN_MASK_CREATE: re-adding a
 * watched directory must return its existing wd, which is how the watcher proves a directory's identity.
 */
export const WATCH_MASK =
  IN_CREATE |
  IN_MODIFY |
  IN_CLOSE_WRITE |
  IN_ATTRIB |
  IN_DELETE |
  IN_MOVED_FROM |
  IN_MOVED_TO |
  IN_DELETE_SELF |
  IN_MOVE_SELF |
  IN_DONT_FOLLOW |
  IN_ONLYDIR |
  IN_EXCL_UNLINK;

export interface RawEvent {
  wd: number;
  mask: number;
  cookie: number;
  /** name inside the watched directory as a binary string; '' for events on the directory itself */
  name: string;
  /** performance.now() when the record was read (for the move-pairing hold) */
  readAt: number;
}

const EVENT_HEADER_BYTES = 16;
const LITTLE = endianness() === 'LE';

/** Parses a buffer of whole `struct inotify_event` records (the kernel never splits a record across reads). */
export function parseEvents(buf: Buffer, readAt: number): RawEvent[] {
  const events: RawEvent[] = [];
  let offset = 0;
  while (offset + EVENT_HEADER_BYTES <= buf.length) {
    const wd = LITTLE ? buf.readInt32LE(offset) : buf.readInt32BE(offset);
    const mask = LITTLE ? buf.readUInt32LE(offset + 4) : buf.readUInt32BE(offset + 4);
    const cookie = LITTLE ? buf.readUInt32LE(offset + 8) : buf.readUInt32BE(offset + 8);
    const len = LITTLE ? buf.readUInt32LE(offset + 12) : buf.readUInt32BE(offset + 12);
    const start = offset + EVENT_HEADER_BYTES;
    let name = '';
    if (len > 0) {
      const nul = buf.indexOf(0, start);
      const end = nul < 0 || nul > start + len ? start + len : nul;
      name = buf.toString('latin1', start, end);
    }
    events.push({ wd, mask, cookie, name, readAt });
    offset = start + len;
  }
  return events;
}

export type EventAction =
  | 'overflow'
  | 'watch-gone'
  | 'ignore'
  | 'self-deleted'
  | 'self-moved'
  | 'moved-from'
  | 'moved-to'
  | 'new-dir'
  | 'delete'
  | 'change';

/**
 * What an event means, first matching row wins. `isDir` rows match only with IN_ISDIR set (null: either).
 */
export const EVENT_POLICY: ReadonlyArray<{ bits: number; isDir: boolean | null; action: EventAction }> = [
  // the kernel queue overflowed (wd -1): events were lost, rescan everything, watches stay
  { bits: IN_Q_OVERFLOW, isDir: null, action: 'overflow' },
  // the watch is gone: its dir was deleted, its fs unmounted, or we removed it
  { bits: IN_IGNORED, isDir: null, action: 'watch-gone' },
  // the fs under a watched dir was unmounted; IN_IGNORED follows and handles it
  { bits: IN_UNMOUNT, isDir: null, action: 'ignore' },
  // the watched dir itself was deleted (the root: root-gone; others: the parent reported IN_DELETE)
  { bits: IN_DELETE_SELF, isDir: null, action: 'self-deleted' },
  // the watched dir itself was renamed (the root: root-gone; others: the parent reported the move)
  { bits: IN_MOVE_SELF, isDir: null, action: 'self-moved' },
  // first half of a rename; paired with IN_MOVED_TO by cookie before this table is consulted
  { bits: IN_MOVED_FROM, isDir: null, action: 'moved-from' },
  // second half of a rename, or something moved in from outside the tree
  { bits: IN_MOVED_TO, isDir: null, action: 'moved-to' },
  // a directory appeared: watch it first, then list it, then report the whole subtree
  { bits: IN_CREATE, isDir: true, action: 'new-dir' },
  // a file, symlink, hard link or device node appeared
  { bits: IN_CREATE, isDir: false, action: 'change' },
  // a name disappeared
  { bits: IN_DELETE, isDir: null, action: 'delete' },
  // content or metadata changed (for the watched dir itself when the name is empty)
  { bits: IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB, isDir: null, action: 'change' },
];

export function actionOf(mask: number): EventAction {
  const isDir = (mask & IN_ISDIR) !== 0;
  for (const row of EVENT_POLICY) {
    if ((mask & row.bits) === 0) continue;
    if (row.isDir !== null && row.isDir !== isDir) continue;
    return row.action;
  }
  return 'ignore';
}
