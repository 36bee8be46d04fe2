/** The gateway's receipt signer: the provenance module's BIP340 receipts, keyed from a 0600 file, and logged. */
import { BodyHasher, ReceiptSigner } from '../provenance/index.js';
import type { ReceiptIssuer } from './respond.js';

export function openReceiptIssuer(path: string): ReceiptIssuer & { publicKeyHex: string } {
  const signer = ReceiptSigner.open(path);
  return {
    publicKeyHex: signer.publicKeyHex,
    requestHasher: (method, pathAndQuery) => BodyHasher.forRequest(method, pathAndQuery),
    responseHasher: (status) => BodyHasher.forResponse(status),
    sign: (fields) => signer.sign(fields).header,
  };
}

/** The same issuer, appending every receipt it signs to `log` before the response carries it. */
export function loggedIssuer<T extends ReceiptIssuer>(
  issuer: T,
  log: { record(header: string): Promise<void> },
): T {
  return { ...issuer, record: (header: string) => log.record(header) };
}
