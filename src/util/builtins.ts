/**
 * Node built-ins loaded on first use. Importing node:crypto up front evaluates all its lazy exports (~6 ms of
 * every CLI start, measured on `livesync status`, whose fast path must stay close to Node's own start-up).
 */
export const crypto = (): typeof import('node:crypto') => process.getBuiltinModule('node:crypto');
