import type { CommandModule } from 'yargs';
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** What `ikeway version`, `--version` and `-v` print. */
export function versionLine(): string {
  return `ikeway ${packageVersion()} (node ${process.version})`;
}

export const versionCommand: CommandModule = {
  command: 'version',
  describe: 'Print the ikeway version and the Node.js runtime',
  handler: () => {
    console.log(versionLine());
  },
};
