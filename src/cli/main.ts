#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config.ts';
import { HplbError } from '../errors.ts';
import { applyCommand } from './apply-command.ts';
import { describeForCli } from './cli-errors.ts';
import { planCommand, type CliIo } from './plan-command.ts';

/**
 * Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or an invalid/infeasible problem. `env` sets
 * the request limits exactly as for the service (MAX_LAYERS, MAX_TIME_LIMIT_MS, ...).
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<number> {
  let limits: ReturnType<typeof loadConfig>;
  try {
    limits = loadConfig(env);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const program = new Command('hplb')
    .description('sparsity-aware head placement for LLM attention (S-HPLB)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addCommand(planCommand(io, limits))
    .addCommand(applyCommand(io));
  for (const command of program.commands)
    command.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof HplbError) {
      io.err(`${describeForCli(error)}\n`);
      return 2;
    }
    io.err(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const code = await runCli(
    process.argv.slice(2),
    { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
    process.env,
  );
  process.exitCode = code;
}
