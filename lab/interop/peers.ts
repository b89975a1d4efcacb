// The peer kinds the matrix knows. A new kind adds one line here (see types.ts, "HOW A PEER KIND
// PLUGS IN"); the runner makes a fresh driver per cell.
import { LibreswanPeer } from './libreswan-peer.ts';
import { STRONGSWAN_6 } from '../peers/strongswan.ts';
import { StrongswanPeer } from './strongswan-peer.ts';
import type { PeerDriver, PeerKind } from './types.ts';

export const PEER_DRIVERS: Partial<Record<PeerKind, () => PeerDriver>> = {
  strongswan: () => new StrongswanPeer(),
  libreswan: () => new LibreswanPeer(),
  strongswan6: () => new StrongswanPeer(STRONGSWAN_6),
};

export function peerDriver(kind: string): PeerDriver {
  const make = PEER_DRIVERS[kind as PeerKind];
  if (!make) throw new Error(`unknown interop peer ${kind}; known: ${Object.keys(PEER_DRIVERS).join(', ')}`);
  return make();
}
