// The flooder process for test/robust/flood.test.ts, run inside the flooder's namespace:
// `flood.ts '<FloodOptions as JSON>'`. Prints progress lines on stderr and one
// `IKW-FLOOD <FloodStats as JSON>` line on stdout at the end.
import { runFlood, type FloodOptions } from '../../../lab/robust/flood.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as FloodOptions;
process.stderr.write(`flooding ${o.target} from ${o.sources.length} sources at ${o.rate}/s\n`);
const stats = await runFlood({
  ...o,
  onProgress: (s) => process.stderr.write(`IKW-FLOOD-PROGRESS ${JSON.stringify(s)}\n`),
});
process.stdout.write(`IKW-FLOOD ${JSON.stringify(stats)}\n`);
