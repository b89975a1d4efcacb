// A tiny HTTP server for the revocation lab, run inside the lab's PKI namespace:
//   /ca.crl    the CRL file given on the command line (application/pkix-crl)
//   /hang      accepts the request and never answers (a responder that hangs)
//   /huge      streams more bytes than any CRL or OCSP limit (8 MiB of zeros)
//   /garbage   200 with bytes that are no DER at all
//   /replay    replay.der next to the CRL file: a real OCSP response recorded for another request
//              (another nonce), as a replaying attacker would send it
//   /get-only/ the `openssl ocsp` responder at ADDRESS:OCSP_PORT for GET requests (RFC 6960 A.1: the
//              rest of the path is passed on as it is), 405 for any other method: proves a client
//              uses GET
// Usage: node http-server.mjs ADDRESS PORT CRL_FILE LIFETIME_SECONDS [OCSP_PORT]. It exits by itself after
// LIFETIME_SECONDS so a failed test leaves nothing running.
import { createServer, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [address, port, crlFile, lifetime, ocspPort] = process.argv.slice(2);
const held = [];
const server = createServer((req, res) => {
  if (req.url === '/ca.crl') {
    const body = readFileSync(crlFile);
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': body.length });
    res.end(body);
  } else if (req.url?.startsWith('/hang')) {
    held.push(res); // never answered
  } else if (req.url?.startsWith('/huge')) {
    res.writeHead(200, { 'content-type': 'application/ocsp-response' });
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 8 << 20) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    res.on('error', () => undefined);
    more();
  } else if (req.url?.startsWith('/replay')) {
    const body = readFileSync(join(dirname(crlFile), 'replay.der'));
    res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.length });
    res.end(body);
  } else if (req.url?.startsWith('/get-only/') && ocspPort) {
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    const path = req.url.slice('/get-only'.length);
    const up = request({ host: address, port: Number(ocspPort), path, method: 'GET' }, (r) => {
      res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? '' });
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    up.end();
  } else if (req.url?.startsWith('/garbage')) {
    res.writeHead(200, { 'content-type': 'application/ocsp-response' });
    res.end('<html>this is not an OCSP response</html>');
  } else {
    res.writeHead(404).end();
  }
});
server.listen(Number(port), address, () => console.log(`listening ${address}:${port}`));
setTimeout(() => process.exit(0), Number(lifetime) * 1000).unref();
