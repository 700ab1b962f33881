/**
 * Errors at the edges. A ToolError is an expected failure with a stable code, a one-line message naming the
 * problem, a hint naming the fix, and the exit code the CLI will use. Anything else that reaches the CLI edge
 * is a bug (InternalError or an unknown throw) and exits 1 with a report hint.
 */
import { ExitCode, type ExitCodeValue } from './exit-codes.ts';

export interface ToolErrorOptions {
  hint?: string;
  exitCode?: ExitCodeValue;
  cause?: unknown;
}

export class ToolError extends Error {
  override name = 'ToolError';
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCodeValue;

  constructor(code: `E_${string}`, message: string, options: ToolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.usage;
  }
}

export class InternalError extends Error {
  override name = 'InternalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`Internal error: ${message}`, options);
  }
}

export function usageError(code: `E_${string}`, message: string, hint?: string): ToolError {
  return new ToolError(code, message, { hint, exitCode: ExitCode.usage });
}

/** Text of an unknown thrown value, for logs. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** errno code of a Node system error, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** A command finished and already printed its result, but must exit non-zero (e.g. verify found differences). */
export class QuietExit extends Error {
  override name = 'QuietExit';
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}
