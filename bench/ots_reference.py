"""Runs python-opentimestamps (the reference library) over the same proofs and headers as bench/ots.ts.

usage: python ots_reference.py verify SECONDS HEADERS_FILE PROOF...
Reads every proof and header into memory first, then for SECONDS parses each proof and checks each
Bitcoin attestation against the header with that merkle root, as `ots verify` does once it has the
header. Prints one JSON line: {"proofs": N, "seconds": S, "verified": V}.
"""
import json
import sys
import time

from bitcoin.core import CBlockHeader
from opentimestamps.core.notary import BitcoinBlockHeaderAttestation
from opentimestamps.core.serialize import BytesDeserializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile


def load_headers(path):
    by_root = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith('#'):
                continue
            header = CBlockHeader.deserialize(bytes.fromhex(fields[-1]))
            by_root[header.hashMerkleRoot] = header
    return by_root


def verify_one(data, by_root):
    ctx = BytesDeserializationContext(data)
    detached = DetachedTimestampFile.deserialize(ctx)
    for msg, attestation in detached.timestamp.all_attestations():
        if isinstance(attestation, BitcoinBlockHeaderAttestation):
            header = by_root.get(msg)
            if header is not None:
                attestation.verify_against_blockheader(msg, header)
                return True
    return False


def main():
    if len(sys.argv) < 5 or sys.argv[1] != 'verify':
        sys.exit(__doc__)
    seconds = float(sys.argv[2])
    by_root = load_headers(sys.argv[3])
    proofs = [open(p, 'rb').read() for p in sys.argv[4:]]
    done = verified = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for data in proofs:
            verified += verify_one(data, by_root)
            done += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({'proofs': done, 'seconds': elapsed, 'verified': verified}))


main()
