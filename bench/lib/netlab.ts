// Two network namespaces joined by a veth pair for the IKE benchmarks: the responder (ikeway or
// charon) in one, the load generator in the other. Named with the pid (src/lab/netns.ts), removed
// by close() (call it from finally). Addresses from 198.51.100.0/24 (RFC 5737).
import { linkVeth, Netns } from '../../src/lab/netns.ts';

export const RESPONDER_ADDR = '198.51.100.1';
export const LOADGEN_ADDR = '198.51.100.2';

export class BenchNet {
  readonly responder: Netns;
  readonly loadgen: Netns;

  constructor() {
    this.responder = Netns.create('bresp');
    try {
      this.loadgen = Netns.create('bload');
      linkVeth(this.responder, `${RESPONDER_ADDR}/24`, this.loadgen, `${LOADGEN_ADDR}/24`);
    } catch (e) {
      this.responder.delete();
      throw e;
    }
  }

  close(): void {
    this.loadgen?.delete();
    this.responder.delete();
  }
}
