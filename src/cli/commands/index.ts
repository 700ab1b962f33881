/** Every command's definition (flags, help). Implementations load lazily from their concern folders. */
import type { Command } from 'commander';

export const COMMANDS: Array<() => Command> = [];
