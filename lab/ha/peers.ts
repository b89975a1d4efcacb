// The HA lab's site-B peer (lab/ha/lab.ts): an ikeway daemon that initiates to the shared address,
// or strongSwan 5.9.8 (lab/peers/strongswan.ts, one charon in the peer namespace) that the pair
// initiates to. Both report their IKE SAs with SPIs as the peer sees them; strongSwan's log also
// tells what went over the wire after the kill (its requests, retransmissions, any IKE_SA_INIT).
import type { ChildProcess } from 'node:child_process';
import { request } from '../../src/control/client.ts';
import type { StatusReport } from '../../src/control/status-types.ts';
import { LabNs } from '../netns/lab-ns.ts';
import { Charon } from '../peers/strongswan.ts';
import { ADDR, SWAN_ESP, SWAN_IKE, VIP } from './setup.ts';

export interface PeerChild {
  readonly spiIn: string;
  readonly spiOut: string;
  readonly installed: boolean;
}
export interface PeerIkeSa {
  readonly spiI: string;
  readonly spiR: string;
  readonly established: boolean;
  readonly children: readonly PeerChild[];
}

/** What the peer sent and received after the kill (strongSwan's log; message IDs included). */
export interface PeerWire {
  readonly ikeSaInit: number;
  readonly retransmits: number;
  /** e.g. "> INFORMATIONAL request 4", "< INFORMATIONAL response 4", "retransmit 1 of 4". */
  readonly exchanges: readonly string[];
  /** charon's lines on replacing an IKE SA (INITIAL_CONTACT, uniqueness), if any. */
  readonly replaced: readonly string[];
}

export interface HaPeer {
  readonly kind: 'ikeway' | 'strongswan';
  start(): Promise<void>;
  sas(): Promise<PeerIkeSa[]>;
  /** The peer starts a Child SA rekey. */
  rekeyChild(): Promise<void>;
  /** Remember where the log stands (at the kill); wire() reports what came after. */
  mark(): void;
  wire(): PeerWire | undefined;
  /** The peer's own log tail for a failure report (no key material). */
  logTail(): string;
  stop(): Promise<void>;
}

export interface PeerContext {
  readonly ns: string;
  readonly dir: string;
  readonly kernel: 'memory' | 'xfrm';
  /** Spawns a daemon the lab tracks (its output kept for the report). */
  readonly spawn: (name: string, cmd: string, args: string[]) => ChildProcess;
  readonly ikewayCli: string;
  /** The PSK both sides use (the ikeway daemons read it from IKW_PSK). */
  readonly psk: string;
}

const norm = (s: string | undefined, len: number) =>
  (s ?? '').replace(/^0x/, '').toLowerCase().padStart(len, '0');

class IkewayPeer implements HaPeer {
  readonly kind = 'ikeway';
  constructor(
    private readonly c: PeerContext,
    private readonly config: string,
  ) {}
  async start(): Promise<void> {
    this.c.spawn('ikeway-peer', process.execPath, [
      ...[this.c.ikewayCli, 'daemon', '-c', this.config, '--kernel', this.c.kernel],
    ]);
  }
  async sas(): Promise<PeerIkeSa[]> {
    const s = (await request(`${this.c.dir}/peer.sock`, 'status', undefined, {
      timeoutMs: 2000,
    })) as StatusReport;
    return (s.connections[0]?.ikeSas ?? []).map((sa) => ({
      spiI: norm(sa.spiI, 16),
      spiR: norm(sa.spiR, 16),
      established: sa.state === 'established',
      children: sa.children.map((c) => ({
        spiIn: norm(c.spiIn, 8),
        spiOut: norm(c.spiOut, 8),
        installed: c.state === 'installed',
      })),
    }));
  }
  async rekeyChild(): Promise<void> {
    await request(`${this.c.dir}/peer.sock`, 'rekey', { name: 'site', what: 'child' });
  }
  mark(): void {}
  wire(): undefined {
    return undefined;
  }
  logTail(): string {
    return '';
  }
  async stop(): Promise<void> {}
}

class StrongswanHaPeer implements HaPeer {
  readonly kind = 'strongswan';
  #charon: Charon | undefined;
  #mark = 0;
  constructor(private readonly c: PeerContext) {}

  async start(): Promise<void> {
    this.#charon = await Charon.start({
      ns: new LabNs(this.c.ns, 'peer'),
      tag: 'ha',
      // The host kernel has no ESP: there charon carries ESP itself (TUN); the guest's kernel does.
      libipsec: this.c.kernel === 'memory',
      // enc 1: the "generating/parsed <exchange> request|response <message ID>" lines (no keys).
      logLevels: { default: 1, enc: 1, knl: 0 },
      connections: [
        {
          name: 'site',
          localAddrs: [ADDR.peer],
          remoteAddrs: [VIP],
          localId: ADDR.peer,
          remoteId: VIP,
          localAuth: 'psk',
          remoteAuth: 'psk',
          proposals: [SWAN_IKE],
          dpdDelay: '1s',
          mobike: false,
          children: [
            {
              name: 'site',
              localTs: ['10.2.0.0/24'],
              remoteTs: ['10.1.0.0/24'],
              espProposals: [SWAN_ESP],
              startAction: 'none',
            },
          ],
        },
      ],
      secrets: { psk: [{ secret: this.c.psk, ids: [ADDR.peer, VIP] }] },
      // The lab routes site A's LAN already.
      extraCharonConf: '  install_routes = no',
      startTimeoutMs: this.c.kernel === 'xfrm' ? 60_000 : 15_000,
    });
    await this.#charon.loadAll();
  }

  async sas(): Promise<PeerIkeSa[]> {
    return (await this.#need().listSas()).map((sa) => ({
      spiI: norm(sa.fields['initiator-spi'], 16),
      spiR: norm(sa.fields['responder-spi'], 16),
      established: sa.fields['state'] === 'ESTABLISHED',
      children: sa.children.map((c) => ({
        spiIn: norm(c.fields['spi-in'], 8),
        spiOut: norm(c.fields['spi-out'], 8),
        installed: c.fields['state'] === 'INSTALLED',
      })),
    }));
  }

  async rekeyChild(): Promise<void> {
    await this.#need().rekey({ child: 'site' });
  }

  mark(): void {
    this.#mark = this.#charon?.logText().length ?? 0;
  }

  wire(): PeerWire | undefined {
    const text = this.#charon?.logText().slice(this.#mark);
    if (text === undefined) return undefined;
    const exchanges: string[] = [];
    const replaced: string[] = [];
    let ikeSaInit = 0;
    let retransmits = 0;
    for (const line of text.split('\n')) {
      const m = /(generating|parsed) (\w+) (request|response) (\d+)/.exec(line);
      const r = /retransmit (\d+) of request with message ID (\d+)/.exec(line);
      if (m) {
        if (m[2] === 'IKE_SA_INIT') ikeSaInit++;
        exchanges.push(`${m[1] === 'generating' ? '>' : '<'} ${m[2]} ${m[3]} ${m[4]}`);
      } else if (r) {
        retransmits++;
        exchanges.push(`retransmit ${r[1]} of ${r[2]}`);
      } else if (/INITIAL_CONTACT|uniqueness|duplicate/i.test(line)) replaced.push(line.trim().slice(0, 200));
    }
    return { ikeSaInit, retransmits, exchanges: exchanges.slice(0, 40), replaced: replaced.slice(0, 5) };
  }

  /** charon's log tail for a failure report (levels <= 1: no key material). */
  logTail(): string {
    return (this.#charon?.logText() ?? '').split('\n').slice(-40).join('\n');
  }

  async stop(): Promise<void> {
    await this.#charon?.stop({ graceMs: 2000 });
    this.#charon = undefined;
  }

  #need(): Charon {
    if (!this.#charon) throw new Error('strongSwan peer is not running');
    return this.#charon;
  }
}

export function haPeer(kind: 'ikeway' | 'strongswan', c: PeerContext, ikewayConfig: string): HaPeer {
  return kind === 'ikeway' ? new IkewayPeer(c, ikewayConfig) : new StrongswanHaPeer(c);
}
