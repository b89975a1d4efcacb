// Credentials: identities, PSKs, private keys and certificates for IKE_AUTH. The only module that
// holds keys (ARCHITECTURE principle 8). All failures are CredsError with a stable `code`; the
// engine answers every one of them with AUTHENTICATION_FAILED (RFC 7296 §2.21.2) and logs `message`
// (which never contains key material).
//
// Typical use by the IKE engine (RFC 7296 §2.15, §3.5-3.8; RFC 7427):
//
//   const store = CredentialStore.fromConnection(conn, { clock });   // or new + addCa/addLocal/addPsk
//   // IKE_SA_INIT / IKE_AUTH request: ask for certificates from our CAs
//   certReq = { encoding: CertEncoding.X509_SIGNATURE, data: store.certReqData() };
//   // our AUTH with a certificate
//   const signer = store.localSigner(idFromConfig(conn.localId), peerCertReqHashes);
//   idPayload = { idType: signer.id.type, data: signer.id.data };
//   certPayloads = signer.certificates;          // encoding X509_SIGNATURE (4) each
//   auth = signer.sign(octets, peerSignatureHashes /* undefined if no SIGNATURE_HASH_ALGORITHMS */);
//   // the peer's AUTH
//   store.verifyPeerAuth({ peerId: idFromPayload(p.idType, p.data), expectedId, certs, authMethod,
//                          authData, octets, allowedHashes });   // throws CredsError
//   // a peer that sends no CERT payload: store.addPeerCert(pem) beforehand (found by its ID)
//   // PSK: pskAuth(prf, store.psk(localId, peerId).bytes(), octets) from src/crypto
export { CredsError, type CredsErrorCode } from './errors.ts';
export {
  ANY_ID,
  ID_ANY,
  formatId,
  idEquals,
  idFromConfig,
  idFromPayload,
  idMatches,
  parseId,
  type ConfigIdentity,
  type IkeId,
} from './identity.ts';
export {
  decodeDn,
  dnEquals,
  dnMatches,
  encodeDn,
  formatDn,
  parseDn,
  type Ava,
  type Dn,
  type Rdn,
} from './dn.ts';
export { Certificate, KeyUsage, loadCertificate, loadCertificates, loadPrivateKey } from './x509.ts';
export { certHasId, verifyChain, MAX_PATH } from './chain.ts';
export { chooseScheme, signOctets, verifySignature, type AuthData, type SignOptions } from './sign.ts';
export {
  CredentialStore,
  splitCertReq,
  type CertAuthInput,
  type LocalInput,
  type LocalSigner,
  type PeerAuthInput,
  type PeerAuthResult,
  type PskAuthInput,
  type StoreOptions,
} from './store.ts';
export {
  RevocationChecker,
  type CheckerOptions,
  type RevocationMode,
  type RevocationPolicy,
  type Verdict,
} from './revocation/checker.ts';
export { parseCrl, type Crl } from './revocation/crl.ts';
export { FetchError, httpFetch, type Fetcher, type FetchOptions } from './revocation/fetch.ts';
export { RawKeyAuth } from './rawkey.ts';
