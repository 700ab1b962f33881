import { InternalError } from '../errors/errors.ts';

/** Exhaustiveness check for switches over unions. */
export function unreachable(value: never): never {
  throw new InternalError(`unexpected value ${JSON.stringify(value)}`);
}
