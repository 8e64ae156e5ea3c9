import { ClerkBulkError, EXIT } from '../../errors.js';

/** Codes of a state directory that cannot be used as it is. Exit 2: nothing was sent. */
export type StateUsageCode =
  /** The directory belongs to another job (other base URL or key). */
  | 'E_STATE_FOREIGN'
  /** Manifest or entries file unreadable, truncated, edited or inconsistent. */
  | 'E_STATE_CORRUPT'
  /** Written by a newer clerk-bulk (a format version this one does not know). */
  | 'E_STATE_VERSION'
  /** The directory holds other files: not a state directory. */
  | 'E_STATE_NOT_STATE'
  /** The directory or its files cannot be read or created. */
  | 'E_STATE_READ';

/** The state directory cannot be used: refused before anything is sent. Exit 2. */
export class StateError extends ClerkBulkError {
  override name = 'StateError';
  readonly dir: string;
  constructor(message: string, code: StateUsageCode, dir: string, options?: { cause?: unknown }) {
    super(message, code, EXIT.USAGE, options);
    this.dir = dir;
  }
}

/**
 * Saving the state failed (disk full, read-only...). The previous state is still the
 * valid one, and the next run re-sends whatever this one could not record: safe, only
 * slower. Exit 3, like a results file that cannot be written mid-run.
 */
export class StateWriteError extends ClerkBulkError {
  override name = 'StateWriteError';
  readonly dir: string;
  constructor(message: string, dir: string, options?: { cause?: unknown }) {
    super(message, 'E_STATE_WRITE', EXIT.ABORTED, options);
    this.dir = dir;
  }
}
