import { EXIT, type ExitCode, UsageError } from '../errors.js';
import type { CommandIo } from './update.js';

/** `clerk-bulk report`: summarise a results file (issue 6 fills this in). */
export async function reportCommand(
  options: Record<string, unknown>,
  _io: CommandIo,
): Promise<ExitCode> {
  void options;
  void EXIT;
  throw new UsageError('report is not available yet', 'E_NOT_IMPLEMENTED');
}
