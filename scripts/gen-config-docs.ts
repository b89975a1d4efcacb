// Writes docs/configuration.md from the config spec (npm run docs:config). test/config/reference.test.ts
// fails when the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/reference.ts';

const file = new URL('../docs/configuration.md', import.meta.url).pathname;
writeFileSync(file, renderConfigReference());
console.log(`wrote ${file}`);
