/**
 * Deterministic input files: `id,name,email,public,data.tier`, ids 1..N, every row
 * valid. A sidecar `.meta.json` records how the file was made, so a file of the same
 * recipe and size is reused instead of written again.
 */
import { once } from 'node:events';
import {
  createWriteStream,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';

/** Bump when the rows change, so old files are regenerated. */
const GENERATOR_VERSION = 1;
const ROWS_PER_CHUNK = 10_000;
const TIERS = ['gold', 'silver', 'bronze', 'platinum'];
const FIRST = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'];

/** The CSV line for row `i` (1-based). Every 10th name needs quoting, as real exports do. */
export function csvLine(i) {
  const first = FIRST[i % FIRST.length];
  const last = LAST[(i >>> 3) % LAST.length];
  const name = i % 10 === 0 ? `"${last}, ${first}"` : `${first} ${last} ${i}`;
  const email = `${first.toLowerCase()}.${i}@example.com`;
  const isPublic = i % 3 === 0 ? 'false' : 'true';
  return `${i},${name},${email},${isPublic},${TIERS[i % TIERS.length]}\n`;
}

/** The JSON body the CLI sends for row `i` (what the loopback ceiling sends too). */
export function bodyFor(i) {
  const first = FIRST[i % FIRST.length];
  const last = LAST[(i >>> 3) % LAST.length];
  return JSON.stringify({
    name: i % 10 === 0 ? `${last}, ${first}` : `${first} ${last} ${i}`,
    email: `${first.toLowerCase()}.${i}@example.com`,
    public: i % 3 !== 0,
    data: { tier: TIERS[i % TIERS.length] },
  });
}

/**
 * The same file as {@link ensureInput} with every `changeEvery`-th row changed (its
 * tier is `changed`): the next night's export, for the job state bench.
 */
export async function ensureChangedInput(path, rows, changeEvery) {
  return ensureInput(path, rows, (i) =>
    i % changeEvery === 0 ? csvLine(i).replace(/,[a-z]+\n$/, ',changed\n') : csvLine(i),
  );
}

/**
 * Make sure `path` holds the `rows`-row input; returns whether it was (re)generated.
 * Written to a temporary name and renamed, so an interrupted run never leaves a short
 * file that looks finished.
 */
export async function ensureInput(path, rows, line = csvLine) {
  const metaPath = `${path}.meta.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
      if (
        meta.version === GENERATOR_VERSION &&
        meta.rows === rows &&
        meta.bytes === statSync(path).size
      ) {
        return false;
      }
    } catch {
      // unreadable meta: regenerate
    }
  }
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  let bytes = 0;
  const write = async (text) => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('id,name,email,public,data.tier\n');
  for (let start = 1; start <= rows; start += ROWS_PER_CHUNK) {
    let chunk = '';
    const end = Math.min(rows, start + ROWS_PER_CHUNK - 1);
    for (let i = start; i <= end; i++) chunk += line(i);
    await write(chunk);
  }
  out.end();
  await once(out, 'close');
  renameSync(tmp, path);
  writeFileSync(metaPath, JSON.stringify({ version: GENERATOR_VERSION, rows, bytes }));
  return true;
}
