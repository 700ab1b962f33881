/**
 * Exit codes: the one table scripts can rely on (documented in docs/errors.md). Codes 5 and 6 stay distinct
 * so a script can tell "safe, as before" from "a human must act".
 */
export const ExitCode = {
  ok: 0,
  /** A bug in livesync: the message carries a report hint. */
  internal: 1,
  /** Bad flags or arguments; nothing was changed. */
  usage: 2,
  /** Invalid configuration or environment (missing tool, limit too low); nothing was changed. */
  config: 3,
  /** A precondition failed (not in sync, blockers, lag too high); nothing was changed. */
  precondition: 4,
  /** The operation failed and was fully rolled back. */
  rolledBack: 5,
  /** Failed or completed with problems after the commit point; an operator must act (see the message). */
  needsAction: 6,
  /** The daemon is not running or the control socket does not answer. */
  unreachable: 7,
  /** `verify` found differences. */
  differences: 8,
  /** The job is halted or degraded (flush, status --check). */
  unhealthy: 9,
  /** A timeout expired (flush, cutover preflight). */
  timeout: 10,
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
