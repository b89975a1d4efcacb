// ikeway itself as the interop peer (site b): a second `ikeway daemon` driven through the same
// PeerDriver interface as strongSwan and Libreswan, so a lab written against a peer runs ikeway
// against ikeway too. Config from writeIkewayConfig (the cell's other side, never starting by
// itself); PSK or certificate files as the cell gives them. Not in the matrix (PEER_DRIVERS): the
// matrix is about other implementations.
import { bundledCli } from '../guest/bundle.ts';
import { LabError } from '../errors.ts';
import { IkewayDaemon, writeIkewayConfig } from './ikeway-side.ts';
import type { CellContext, CellSpec, PeerDriver, PeerSa, Role } from './types.ts';

const norm = (s: string, n: number) => s.replace(/^0x/, '').toLowerCase().padStart(n, '0');

export class IkewayPeer implements PeerDriver {
  readonly kind = 'ikeway' as const;
  #d: IkewayDaemon | undefined;
  #ctx: CellContext | undefined;
  #logs: string[] = [];

  version(): string {
    return 'ikeway (this checkout)';
  }

  unsupported(_cell: CellSpec, _role: Role): string | undefined {
    return undefined;
  }

  async start(ctx: CellContext): Promise<void> {
    this.#ctx = ctx;
    if (ctx.creds.kind !== 'psk' || !ctx.creds.psk)
      throw new LabError('LAB_TOPOLOGY', 'ikeway peer: only PSK cells are wired up');
    // The peer side never initiates on its own ('responder' in writeIkewayConfig's terms) unless it
    // is the restarted initiator of a liveness cell.
    const config = writeIkewayConfig({
      cell: ctx.cell,
      role: ctx.role === 'responder' && ctx.restarted ? 'initiator' : 'responder',
      dir: ctx.dir,
      name: ctx.name,
      local: ctx.local,
      remote: ctx.remote,
      psk: ctx.creds.psk,
    });
    this.#d = await IkewayDaemon.start(ctx.ns, await bundledCli(), config, ctx.name);
  }

  async initiate(): Promise<void> {
    await this.#c().up();
  }

  async status(): Promise<PeerSa | undefined> {
    const sa = (await this.#c().ikeSas())[0];
    const children = (sa?.children ?? [])
      .filter((c) => c.state === 'installed')
      .map((c) => ({
        spiIn: norm(c.spiIn, 8),
        spiOut: norm(c.spiOut, 8),
        ...(c.packetsIn !== undefined && { packetsIn: c.packetsIn }),
        ...(c.packetsOut !== undefined && { packetsOut: c.packetsOut }),
      }));
    if (!sa || children.length === 0) return undefined;
    return { ikeSpiI: norm(sa.spiI, 16), ikeSpiR: norm(sa.spiR, 16), children };
  }

  async rekeyChild(): Promise<void> {
    await this.#c().rekey('child');
  }

  async rekeyIke(): Promise<void> {
    await this.#c().rekey('ike');
  }

  async stop(): Promise<void> {
    const d = this.#d;
    this.#d = undefined;
    if (!d) return;
    await d.stop();
    this.#logs.push(d.lines.join('\n'));
  }

  async kill(): Promise<void> {
    const d = this.#d;
    this.#d = undefined;
    if (!d) return;
    await d.kill();
    this.#logs.push(d.lines.join('\n'));
  }

  log(): string {
    return [...this.#logs, this.#d?.lines.join('\n') ?? ''].join('\n');
  }

  #c(): IkewayDaemon {
    if (!this.#d)
      throw new LabError('LAB_TUNNEL', `ikeway peer is not running${this.#ctx ? '' : ' (never started)'}`);
    return this.#d;
  }
}
