import { EXIT, type ExitCode, UsageError } from '../errors.js';
import { describeState, type StateDescription } from '../pipeline/state/index.js';
import { loadState } from '../pipeline/state/store.js';
import { stateJson } from '../report/json-output.js';
import { safeText } from '../report/safe-text.js';
import type { CommandIo } from './update.js';

/**
 * `clerk-bulk state <dir>`: what a job state holds — ids, when it was last saved, the
 * runs that built it, sends not yet recorded and who holds its lock. Reads without
 * locking (a run may be going on), but reads everything a run would: a damaged or
 * truncated state is refused (exit 2), never shown as empty.
 */
export async function stateCommand(
  options: Record<string, unknown>,
  io: Pick<CommandIo, 'stdout'>,
): Promise<ExitCode> {
  const dir = options.dir;
  if (typeof dir !== 'string' || dir === '') {
    throw new UsageError('missing the state directory: clerk-bulk state <dir>', 'E_USAGE');
  }
  const description = describeState(dir);
  // The manifest alone does not vouch for the entries: check them as a run would.
  loadState(dir);
  if (options.json === true) {
    io.stdout.write(`${JSON.stringify(stateJson(description, EXIT.OK))}\n`);
  } else {
    io.stdout.write(formatState(description));
  }
  return EXIT.OK;
}

/** The human description of a state (docs/state.md). */
export function formatState(d: StateDescription): string {
  const lines = [
    d.exists
      ? `${safeText(d.dir)}: ${d.ids} ids, last updated ${d.updatedAt}`
      : d.keys > 0
        ? `${safeText(d.dir)}: no update state saved yet`
        : `${safeText(d.dir)}: no state saved yet (the first run sends every row)`,
  ];
  if (d.keys > 0) {
    lines.push(`  ${d.keys} CRM keys with their Clerk Chat ids (sync, import --key)`);
  }
  if (d.runs.length > 0) {
    lines.push(`  runs (newest last, up to ${d.runs.length}):`);
    for (const run of d.runs) {
      const extra = [
        run.other === undefined || run.other === 0 ? '' : `, other ${run.other}`,
        run.stopped === undefined ? '' : `, stopped: ${run.stopped}`,
        run.resume === true ? ', resumed' : '',
      ].join('');
      lines.push(
        `    ${run.finishedAt}  ${run.rows} rows: updated ${run.updated}, unchanged ${run.unchanged}, failed ${run.failed}${extra}`,
      );
    }
  }
  if (d.pendingSends > 0) {
    lines.push(
      `  ${d.pendingSends} sends not yet recorded (a run going on, or killed): those ids are sent again by the next run`,
    );
  }
  if (d.lockedBy !== undefined) {
    lines.push(
      `  locked by pid ${d.lockedBy.pid} on ${safeText(d.lockedBy.host)} since ${d.lockedBy.startedAt} (a lock of a dead process is taken over by the next run)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
