import { createRequire } from 'node:module';

/** This package's version, read from package.json (dist/version.js → ../package.json). */
export const VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
