// Two network namespaces joined by a veth pair for the IKE benchmarks: the responder (ikeway or
// charon) in one, the load generator in the other. Named with the pid (lab/netns/netns.ts), removed
// by close() (call it from finally). Addresses from 198.51.100.0/24 (RFC 5737).
import { linkVeth, Netns } from '../../lab/netns/netns.ts';

export const RESPONDER_ADDR = '198.51.100.1';
export const LOADGEN_ADDR = '198.51.100.2';

/** The responder admits at most this many IKE SAs per peer address (limits.ike-sas-per-peer max). */
export const PER_ADDRESS = 1000;

export class BenchNet {
  readonly responder: Netns;
  readonly loadgen: Netns;
  readonly #dev: string;
  #next = 2;

  constructor() {
    this.responder = Netns.create('bresp');
    try {
      this.loadgen = Netns.create('bload');
      this.#dev = linkVeth(this.responder, `${RESPONDER_ADDR}/24`, this.loadgen, `${LOADGEN_ADDR}/24`)[1];
    } catch (e) {
      this.responder.delete();
      throw e;
    }
  }

  /**
   * A fresh load-generator address for each load step (198.51.100.2, .3, ...): ikeway admits at most
   * PER_ADDRESS IKE SAs per peer address, so a run holding 40k tunnels comes from 40+ addresses.
   */
  nextLoadAddr(): string {
    if (this.#next > 254) throw new RangeError('out of load-generator addresses');
    const a = `198.51.100.${this.#next++}`;
    if (a !== LOADGEN_ADDR) this.loadgen.ip('addr', 'add', `${a}/24`, 'dev', this.#dev);
    return a;
  }

  close(): void {
    this.loadgen?.delete();
    this.responder.delete();
  }
}
