/** Every command's definition (flags, help). Implementations load lazily from their concern folders. */
import type { Command } from 'commander';
import { startCommand } from './start.ts';
import { demoCommand } from './demo.ts';
import { statusCommand } from './status.ts';
import { flushCommand } from './flush.ts';
import { stopCommand } from './stop.ts';
import { verifyCommand } from './verify.ts';
import { psCommand } from './ps.ts';
import { repointCommand } from './repoint.ts';
import { cutoverCommand, recoverCommand } from './cutover.ts';

export const COMMANDS: Array<() => Command> = [
  startCommand,
  demoCommand,
  statusCommand,
  flushCommand,
  stopCommand,
  verifyCommand,
  psCommand,
  repointCommand,
  cutoverCommand,
  recoverCommand,
];
