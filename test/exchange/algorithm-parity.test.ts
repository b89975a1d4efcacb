// Issue 14 item 4, "an honest validator": every word of the proposal token grammar (enumerated from
// the grammar's own table, src/crypto/proposal-tokens.ts) goes through `check` (the config validator)
// in a single-algorithm-varied IKE proposal and ESP proposal. Each accepted proposal is then
// negotiated between two ikeway engines in memory, through the daemon's own config -> engine mapping,
// and the negotiated transform must be that word's: zero accepted-but-unusable words. Each refused
// one must be an E_PROPOSAL error at file:line:col whose hint names the supported set.
// Issue 16: ML-KEM (as the only key exchange) and RFC 9370 additional key exchanges (ke1_ .. ke7_,
// keN_none) are accepted in IKE proposals: for them the exchange must really run (the IKE SA lists
// every key exchange method it did), and the IKE SA must rekey (IKE_FOLLOWUP_KE for keN_). In ESP
// proposals a keN_ word follows X25519 and is proven by a Child SA rekey with PFS (IKE_FOLLOWUP_KE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, ExchangeType } from '../../src/codec/index.ts';
import { TransformType } from '../../src/codec/iana.ts';
import { ConfigErrors, parseConfig, type ConfigProblem } from '../../src/config/index.ts';
import { PROPOSAL_TOKENS } from '../../src/config/proposals-tokens.ts';
import { grammarWords, isAead, parseToken, type TokenTransform } from '../../src/crypto/proposal-tokens.ts';
import { KeyExchangePool } from '../../src/crypto/pool.ts';
import { espKernelAlgs, lookupEncr, lookupInteg, lookupKeGroup } from '../../src/crypto/registry.ts';
import { toIkeConnection } from '../../src/daemon/connections.ts';
import type { Proposal } from '../../src/ike/proposals.ts';
import { ENV, doc } from '../config/helpers.ts';
import { established, pair } from './harness.ts';

const { ENCR, PRF, INTEG, KE, ESN } = TransformType;
const X25519 = parseToken('x25519')!.id;

/** The IKE and ESP proposal strings that vary only this word (the rest is a known-good suite). */
function proposalsFor(word: string, tr: TokenTransform): { ike: string; esp: string } {
  switch (tr.type) {
    case ENCR:
      return isAead(tr.id)
        ? { ike: `${word}-prfsha256-x25519`, esp: word }
        : { ike: `${word}-sha256-x25519`, esp: `${word}-sha256` };
    case INTEG:
      return { ike: `aes256-${word}-x25519`, esp: `aes256-${word}` };
    case PRF:
      return { ike: `aes256gcm16-${word}-x25519`, esp: `aes256gcm16-${word}` };
    case ESN:
      return { ike: `aes256gcm16-prfsha256-x25519-${word}`, esp: `aes256gcm16-${word}` };
    case KE:
      return { ike: `aes256gcm16-prfsha256-${word}`, esp: `aes256gcm16-${word}` };
    default: // RFC 9370 additional key exchanges
      return { ike: `aes256gcm16-prfsha256-x25519-${word}`, esp: `aes256gcm16-x25519-${word}` };
  }
}

const FILE = 'parity.yaml';

/** `ikeway check` on a document with these proposals: the config, or its problems. */
function check(ike: string, esp: string) {
  const text = doc(`    ike-proposals: ${ike}\n    esp-proposals: ${esp}\n`);
  try {
    return { result: parseConfig(text, FILE, { env: ENV }), problems: [] as ConfigProblem[] };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { result: undefined, problems: [...e.errors] };
  }
}

const has = (p: Proposal | undefined, tr: TokenTransform) =>
  p?.transforms.some((t) => t.type === tr.type && t.id === tr.id && t.keyLength === tr.keyLength) ?? false;

/** Negotiate IKE SA + Child SA (and a PFS rekey when the ESP proposal names a group) with `over` on both. */
async function negotiate(word: string, tr: TokenTransform, ikeText: string, espText: string, esp: boolean) {
  const isAddKe = tr.type > ESN; // RFC 9370 transform types 6..12
  const conn = toIkeConnection(check(ikeText, espText).result!.config.connections[0]!);
  const over = { ikeProposals: conn.ikeProposals, espProposals: conn.espProposals };
  const h = pair({ a: over, b: over });
  try {
    h.a.engine.initiate('site');
    await h.settle(0);
    const [sa] = established(h.a);
    const [peer] = established(h.b);
    assert.ok(sa && peer, `${word}: IKE SA not established (${ikeText} / ${espText})`);
    if (!esp) {
      assert.ok(has(sa.proposal, tr), `${word}: negotiated IKE proposal lacks the word's transform`);
      assert.ok(has(peer.proposal, tr), `${word}: responder's IKE proposal lacks it`);
      if (tr.type === KE || (tr.type > KE && tr.id !== 0)) {
        // The key exchange ran (IKE_SA_INIT, or IKE_INTERMEDIATE for keN_), on both sides.
        const want = tr.type === KE ? [tr.id] : [X25519, tr.id];
        assert.deepEqual(sa.keMethods, want, `${word}: initiator's key exchanges`);
        assert.deepEqual(peer.keMethods, want, `${word}: responder's key exchanges`);
      }
    }
    const child = sa.children[0];
    assert.equal(child?.state, 'installed', `${word}: no Child SA (${espText})`);
    const sas = [...h.a.kernel.installed, ...h.b.kernel.installed];
    assert.equal(sas.length, 4, `${word}: two ESP SAs on each side`);
    // The kernel gets the registry's XFRM names for what was negotiated.
    const algs = espKernelAlgs(child!.encr!, child!.integ)!;
    for (const p of sas) {
      assert.equal(p.aead?.name ?? p.crypt?.name, algs.aead?.name ?? algs.crypt?.name, word);
      assert.equal(p.auth?.name, algs.auth?.name, word);
    }
    if (esp && tr.type !== KE && !isAddKe)
      assert.ok(has(child!.proposal, tr), `${word}: Child SA proposal lacks it`);
    if (esp && tr.type === ENCR) assert.equal(child!.encr, lookupEncr(tr.id, tr.keyLength) && child!.encr);
    if (esp && tr.type === INTEG) assert.equal(child!.integ, lookupInteg(tr.id));
    if (!esp && tr.type >= KE) {
      // The IKE SA rekeys with every key exchange (CREATE_CHILD_SA, then IKE_FOLLOWUP_KE for keN_).
      h.a.engine.rekeyIke(sa);
      await h.settle(0);
      const [fresh] = established(h.a);
      assert.ok(fresh && fresh !== sa, `${word}: the IKE SA did not rekey`);
      assert.equal(fresh.keGroup, sa.keGroup, `${word}: rekeyed with another method`);
      assert.deepEqual(fresh.keMethods, sa.keMethods, `${word}: the rekey ran every key exchange`);
      assert.equal(fresh.children[0]?.state, 'installed', `${word}: the Child SA moved over`);
    }
    if (esp && tr.type >= KE) {
      // RFC 7296 §1.3.3: the group of an ESP proposal is negotiated on CREATE_CHILD_SA (PFS rekey);
      // RFC 9370 §2.2.4: an additional one runs in IKE_FOLLOWUP_KE after it.
      h.a.engine.rekeyChild(sa, child!);
      await h.settle(0);
      const fresh = sa.children.find((c) => c !== child && c.state === 'installed');
      assert.ok(has(fresh?.proposal, tr), `${word}: the PFS rekey did not use the group`);
    }
    const followups = h.net.log.filter(
      (d) => decodeMessage(d.data).header.exchangeType === ExchangeType.IKE_FOLLOWUP_KE,
    ).length;
    // Two messages, or more when ML-KEM-1024 travels in RFC 7383 fragments.
    assert.equal(followups >= 2, isAddKe && tr.id !== 0, `${word}: ${followups} IKE_FOLLOWUP_KE messages`);
  } finally {
    await h.close();
  }
}

test('every grammar word is either negotiable in IKE and ESP or refused with the supported set', async () => {
  const words = grammarWords();
  assert.ok(words.length > 250, `the grammar enumerates ${words.length} words`);
  const unusable: string[] = [];
  let negotiated = 0;
  let refused = 0;
  for (const word of words) {
    const tr = parseToken(word)!;
    const { ike, esp } = proposalsFor(word, tr);
    for (const [which, text] of [
      ['ike', ike],
      ['esp', esp],
    ] as const) {
      const [ikeText, espText] =
        which === 'ike' ? [text, 'aes256gcm16'] : ['aes256gcm16-prfsha256-x25519', text];
      const c = check(ikeText, espText);
      if (c.result === undefined) {
        refused++;
        // A precise error at file:line:col of the offending value, naming the supported set.
        assert.equal(c.problems.length, 1, `${word}: ${c.problems.map((p) => p.message).join(' | ')}`);
        const p = c.problems[0]!;
        assert.deepEqual([p.file, p.line, p.col, p.code], [FILE, which === 'ike' ? 7 : 8, 20, 'E_PROPOSAL']);
        assert.ok(p.message.includes(`"${word}"`), `${word}: ${p.message}`);
        assert.match(p.hint, /supported|applies to|remove/, `${word}: ${p.hint}`);
        continue;
      }
      try {
        if (tr.type === KE && lookupKeGroup(tr.id)) {
          // The daemon pre-generates pairs for every configured group at start (src/daemon/daemon.ts).
          const pool = new KeyExchangePool({ groups: [tr.id], size: 1 });
          pool.fill();
          pool.close();
        }
        await negotiate(word, tr, ikeText, espText, which === 'esp');
        negotiated++;
      } catch (e) {
        unusable.push(`${which} ${word}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  assert.deepEqual(unusable, [], 'accepted by check but not negotiable');
  // Every word the config accepts was negotiated in at least one protocol (the count is not vacuous).
  assert.ok(negotiated >= Object.keys(PROPOSAL_TOKENS).length, `${negotiated} negotiated`);
  assert.ok(refused > 0);
});
