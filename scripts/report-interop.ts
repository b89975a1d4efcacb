// `npm run report:interop`: refreshes the committed interop page on purpose. Copies the latest
// matrix run's results (out/interop/*.jsonl, or IKW_INTEROP_OUT) to docs/interop/ and renders
// docs/interop.md from them; the test run itself never writes into docs/.
import { relative } from 'node:path';
import { DOCS_DIR, outDir, publishRuns } from '../lab/interop/results.ts';

const out = outDir();
const { copied, kept } = publishRuns(out);
const where = relative(process.cwd(), out) || '.';
console.log(`docs/interop.md rendered in ${relative(process.cwd(), DOCS_DIR) || '.'}/`);
console.log(`from this run (${where}): ${copied.join(', ') || 'none'}`);
console.log(`kept from before: ${kept.join(', ') || 'none'}`);
if (copied.length === 0)
  console.log(`no results in ${where}: run node scripts/run-tests.mjs interop/matrix first`);
