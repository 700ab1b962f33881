/**
 * The text `livesync status --json` prints: the snapshot pretty-printed, one trailing newline. One function for
 * both producers of that text, so they cannot drift apart: the Node CLI (src/status/show.ts) and the daemon's
 * `status-text` control method (src/control/server.ts), whose reply the C client of bin/livesync
 * (native/status-client.c) copies to stdout byte for byte.
 */
import type { StatusSnapshot } from './snapshot.ts';

export function statusJsonText(snapshot: StatusSnapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}
