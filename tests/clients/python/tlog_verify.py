"""An auditor's verifier for grantlog's proofs, written from the public specs alone and
sharing no code with grantlog: RFC 6962 / RFC 9162 (Merkle tree, inclusion and
consistency proofs), C2SP signed-note (Ed25519, via `cryptography`) and C2SP
tlog-checkpoint. It recomputes every leaf from grantlog's CSV export (the canonical
envelope of docs/audit.md), every root from those leaves, and checks the signed
checkpoint and every proof it is given against them.

Input (stdin, JSON): {"verifier_key", "checkpoint" (the signed note), "export_csv" (a
path), "inclusion": [{"leaf_index", "tree_size", "leaf_hash", "hashes"}...],
"consistency": [{"from", "to", "hashes"}...]}, or {"verifier_key", "receipts": [consent
receipts]}. Output (stdout, JSON): what was checked.
Exits 1 naming the first thing that does not verify.
"""

import base64
import csv
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Refused(Exception):
    pass


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """RFC 6962 2.1: the Merkle tree hash of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def roots_of_every_size(leaves):
    """MTH of every prefix, computed with a stack of complete subtrees (one pass)."""
    roots, stack = [sha256(b"")], []
    for i, leaf in enumerate(leaves):
        stack.append((leaf, 1))
        while len(stack) > 1 and stack[-1][1] == stack[-2][1]:
            (right, size), (left, _) = stack.pop(), stack.pop()
            stack.append((node_hash(left, right), size * 2))
        root = stack[-1][0]
        for left, _ in reversed(stack[:-1]):
            root = node_hash(left, root)
        roots.append(root)
    return roots


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        raise Refused(f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Refused("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Refused(f"inclusion of leaf {index} in {size} does not verify")


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        if proof or first_hash != second_hash:
            raise Refused("equal sizes need equal roots and no proof")
        return
    if first == 0 or first > second or not proof:
        raise Refused(f"no consistency from {first} to {second} with this proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Refused("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_hash or sr != second_hash:
        raise Refused(f"consistency from {first} to {second} does not verify")


def open_note(note, verifier_key):
    """C2SP signed-note with an Ed25519 key `name+keyid+base64(0x01 || key)`."""
    name, key_id, material = verifier_key.split("+", 2)
    raw = base64.b64decode(material, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise Refused("not an Ed25519 verifier key")
    if sha256(name.encode() + b"\n" + raw)[:4].hex() != key_id:
        raise Refused("the verifier key's id does not match its key")
    key = Ed25519PublicKey.from_public_bytes(raw[1:])
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    verified = False
    for line in signatures.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise Refused("malformed signature line")
        signer, blob = line[2:].split(" ", 1)
        blob = base64.b64decode(blob, validate=True)
        if signer != name or blob[:4].hex() != key_id:
            continue
        try:
            key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise Refused("the checkpoint's signature does not verify")
        verified = True
    if not verified:
        raise Refused(f"the checkpoint carries no signature by {name}")
    return text


def parse_checkpoint(text):
    """C2SP tlog-checkpoint: origin, decimal size, base64 root."""
    lines = text[:-1].split("\n")
    origin, size, root = lines[0], lines[1], base64.b64decode(lines[2], validate=True)
    if not origin or not size.isdigit() or (size.startswith("0") and size != "0") or len(root) != 32:
        raise Refused("malformed checkpoint")
    return origin, int(size), root


def canonical_leaves(path):
    """The leaf of every exported event: the canonical envelope of docs/audit.md, a JSON
    array of the stored fields, as Rust's serde_json writes it (no spaces, non-ASCII
    kept, the usual escapes)."""
    leaves = []
    with open(path, newline="", encoding="utf-8") as export:
        for row in csv.DictReader(export):
            envelope = [
                int(row["position"]),
                row["stream_id"],
                int(row["stream_version"]),
                row["event_type"],
                int(row["schema_version"]),
                row["occurred_at"],
                row["actor"],
                row["trace_id"] or None,
                row["payload"],
            ]
            if int(row["position"]) != len(leaves) + 1:
                raise Refused(f"position {len(leaves) + 1} is missing from the export")
            canonical = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
            leaves.append(leaf_hash(canonical))
    return leaves


def canonical_leaf(event):
    """The leaf of one event given as stored (a receipt's "event")."""
    envelope = [
        event["position"],
        event["stream_id"],
        event["stream_version"],
        event["event_type"],
        event["schema_version"],
        event["occurred_at"],
        event["actor"],
        event["trace_id"],
        event["payload"],
    ]
    return leaf_hash(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode())


def verify_receipt(receipt, verifier_key):
    """A consent receipt on its own: its approval event's leaf is in the tree its signed
    checkpoint commits to, and the event is the approval the receipt describes."""
    b64 = base64.b64decode
    proof, event = receipt["proof"], receipt["event"]
    if proof is None:
        raise Refused("the receipt carries no proof yet")
    origin, size, root = parse_checkpoint(open_note(proof["checkpoint"], verifier_key))
    leaf = canonical_leaf(event)
    if b64(proof["leaf_hash"]) != leaf or proof["leaf_index"] != event["position"] - 1 or proof["tree_size"] != size:
        raise Refused("the receipt's proof is not about its event")
    verify_inclusion(proof["leaf_index"], size, leaf, [b64(h) for h in proof["hashes"]], root)
    payload = json.loads(event["payload"])
    if event["event_type"] != "grant.approved" or payload["grant_id"] != receipt["grant_id"]:
        raise Refused("the receipt's event is not its grant's approval")
    methods = {"consent_page": "consent page", "remembered_decision": "remembered decision"}
    said = {
        "owner": (payload["owner_id"], receipt["piiPrincipalId"]),
        "scope": (payload["scope"], receipt["scope"]),
        "resources": (payload["resources"], receipt["resources"]),
        "duration": (payload["duration"], receipt["duration"]),
        "expiry": (payload["access_expires_at"], receipt["expires_at"]),
        "time": (payload["approved_at"], receipt["consent_time"]),
        "notice version": (payload["consent_text"]["version"], receipt["notice"]["version"]),
        "notice hash": (payload["consent_text"]["hash"], receipt["notice"]["sha256"]),
        "method": (methods[payload["method"]["kind"]], receipt["collectionMethod"]),
    }
    for what, (proved, claimed) in said.items():
        if proved != claimed:
            raise Refused(f"the receipt's {what} is not its event's")
    # The client: named by the grant's first event, proved in the same tree.
    request, request_proof = receipt["request"]["event"], receipt["request"]["proof"]
    request_leaf = canonical_leaf(request)
    if b64(request_proof["leaf_hash"]) != request_leaf or request_proof["leaf_index"] != request["position"] - 1:
        raise Refused("the receipt's request proof is not about its request event")
    verify_inclusion(request_proof["leaf_index"], size, request_leaf, [b64(h) for h in request_proof["hashes"]], root)
    requested = json.loads(request["payload"])
    if request["event_type"] != "grant.temporary_credentials_issued" or requested["grant_id"] != receipt["grant_id"]:
        raise Refused("the receipt's request event is not its grant's first")
    if requested["client_id"] != receipt["recipient"]["client_id"]:
        raise Refused("the receipt's recipient is not its event's")
    return origin


def main():
    job = json.load(sys.stdin)
    if "receipts" in job:
        origins = [verify_receipt(receipt, job["verifier_key"]) for receipt in job["receipts"]]
        json.dump({"receipts_verified": len(origins), "origins": sorted(set(origins))}, sys.stdout)
        return
    b64 = base64.b64decode
    leaves = canonical_leaves(job["export_csv"])
    roots = roots_of_every_size(leaves)
    assert all(roots[n] == mth(leaves[:n]) for n in (0, 1, 2, 3, 5, 8, len(leaves))), "prefix roots"
    origin, size, root = parse_checkpoint(open_note(job["checkpoint"], job["verifier_key"]))
    if size > len(leaves) or roots[size] != root:
        raise Refused(f"the checkpoint's root at {size} is not the root of the exported events")
    for proof in job["inclusion"]:
        index, tree_size = proof["leaf_index"], proof["tree_size"]
        if b64(proof["leaf_hash"]) != leaves[index]:
            raise Refused(f"leaf {index}: the proof's leaf hash is not the exported event's")
        verify_inclusion(index, tree_size, leaves[index], [b64(h) for h in proof["hashes"]], roots[tree_size])
    for proof in job["consistency"]:
        first, second = proof["from"], proof["to"]
        verify_consistency(first, second, roots[first], roots[second], [b64(h) for h in proof["hashes"]])
    json.dump(
        {
            "origin": origin,
            "checkpoint_size": size,
            "events": len(leaves),
            "inclusion_verified": len(job["inclusion"]),
            "consistency_verified": len(job["consistency"]),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    try:
        main()
    except Refused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        sys.exit(1)
