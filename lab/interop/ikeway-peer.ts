// ikeway as the PEER of an interop cell (router-b): a second `ikeway daemon` configured from the cell
// like router-a's (ikeway-side.ts), always waiting (the cell calls initiate() when the peer starts
// the tunnel). Proves ikeway <-> ikeway on real kernel SAs with the same steps as the other peers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledCli } from '../guest/bundle.ts';
import { LabError } from '../errors.ts';
import { IkewayDaemon, writeIkewayConfig } from './ikeway-side.ts';
import type { CellContext, CellSpec, PeerDriver, PeerSa, Role } from './types.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const norm = (s: string) => s.replace(/^0x/, '').toLowerCase();

export class IkewayPeer implements PeerDriver {
  readonly kind = 'ikeway' as const;
  #d: IkewayDaemon | undefined;

  version(): string {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    return `ikeway ${pkg.version}`;
  }

  unsupported(cell: CellSpec, _role: Role): string | undefined {
    return cell.liveness
      ? 'not run with ikeway as the peer (the liveness cell restarts a foreign peer)'
      : undefined;
  }

  async start(ctx: CellContext): Promise<void> {
    if (ctx.creds.kind !== 'psk' || ctx.creds.psk === undefined)
      throw new LabError('LAB_TOPOLOGY', 'the ikeway peer runs PSK cells only');
    const config = writeIkewayConfig({
      cell: ctx.cell,
      role: 'responder', // start: wait; initiate() brings it up when the peer is the initiator
      dir: ctx.dir,
      name: ctx.name,
      local: ctx.local,
      remote: ctx.remote,
      psk: ctx.creds.psk,
      ...(ctx.cell.peerRefusesTfc && { extra: { 'accept-tfc-padding': false } }),
    });
    this.#d = await IkewayDaemon.start(ctx.ns, await bundledCli(), config, ctx.name);
  }

  #need(): IkewayDaemon {
    if (!this.#d) throw new LabError('LAB_TUNNEL', 'the ikeway peer is not started');
    return this.#d;
  }

  async initiate(): Promise<void> {
    await this.#need().up();
  }

  async status(): Promise<PeerSa | undefined> {
    const sa = (await this.#need().ikeSas())[0];
    if (!sa) return undefined;
    const children = sa.children
      .filter((c) => c.state === 'installed')
      .map((c) => ({
        spiIn: norm(c.spiIn),
        spiOut: norm(c.spiOut),
        packetsIn: c.packetsIn ?? 0,
        packetsOut: c.packetsOut ?? 0,
      }));
    if (children.length === 0) return undefined;
    return { ikeSpiI: norm(sa.spiI), ikeSpiR: norm(sa.spiR), children };
  }

  async rekeyChild(): Promise<void> {
    await this.#need().rekey('child');
  }

  async rekeyIke(): Promise<void> {
    await this.#need().rekey('ike');
  }

  async stop(): Promise<void> {
    await this.#d?.stop();
  }

  async kill(): Promise<void> {
    await this.#d?.kill();
  }

  log(): string {
    return (this.#d?.lines ?? []).join('\n');
  }
}
