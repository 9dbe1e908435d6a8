#!/usr/bin/env python3
"""Exclusive XML canonicalization oracle: lxml (libxml2's xmlC14NDocSaveTo), independent of ours.

Usage:
  python3 idp/oracle/c14n.py FILE [--id ID] [--inclusive p1,p2] [--with-comments]
                                  [--enveloped] [--inclusive-c14n] [--digest sha256]

Prints to stdout the exclusive c14n 1.0 bytes of the element whose ID / Id / AssertionID
attribute is ID (or of the document element without --id), exactly, with no trailing newline.
  --inclusive p1,p2   InclusiveNamespaces PrefixList (use #default for the default namespace)
  --with-comments     exc-c14n#WithComments (comments kept)
  --enveloped         first drop the element's own ds:Signature children (the
                      enveloped-signature transform), keeping their tail text
  --inclusive-c14n    inclusive c14n 1.0 instead of exclusive
  --digest ALG        print base64(ALG(c14n bytes)) instead of the bytes (a DigestValue)
FILE "-" reads stdin. DTDs are not loaded and entities are not resolved (a document that needs
either is an error). Exit status 2 when the ID is missing or is not unique.
Works with Debian's python3-lxml or idp/.venv/bin/python.
"""
import argparse
import base64
import hashlib
import sys

from lxml import etree

DSIG = "http://www.w3.org/2000/09/xmldsig#"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--id")
    ap.add_argument("--inclusive", default="", help="comma-separated InclusiveNamespaces PrefixList")
    ap.add_argument("--with-comments", action="store_true")
    ap.add_argument("--enveloped", action="store_true")
    ap.add_argument("--inclusive-c14n", action="store_true")
    ap.add_argument("--digest", choices=["sha1", "sha256", "sha384", "sha512"])
    a = ap.parse_args()

    data = sys.stdin.buffer.read() if a.file == "-" else open(a.file, "rb").read()
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True,
                             remove_blank_text=False)
    root = etree.fromstring(data, parser)
    el = root
    if a.id is not None:
        hits = [e for e in root.iter(etree.Element)
                if a.id in (e.get("ID"), e.get("Id"), e.get("AssertionID"))]
        if len(hits) != 1:
            sys.stderr.write("c14n.py: %d elements with ID %r\n" % (len(hits), a.id))
            sys.exit(2)
        el = hits[0]
    if a.enveloped:
        for sig in [c for c in el if isinstance(c.tag, str) and c.tag == "{%s}Signature" % DSIG]:
            parent, prev = sig.getparent(), sig.getprevious()
            if sig.tail:
                if prev is not None:
                    prev.tail = (prev.tail or "") + sig.tail
                else:
                    parent.text = (parent.text or "") + sig.tail
            parent.remove(sig)
    prefixes = [p for p in a.inclusive.split(",") if p] or None
    if a.inclusive_c14n:
        out = etree.tostring(el, method="c14n", exclusive=False, with_comments=a.with_comments)
    else:
        out = etree.tostring(el, method="c14n", exclusive=True, with_comments=a.with_comments,
                             inclusive_ns_prefixes=prefixes)
    if a.digest:
        sys.stdout.write(base64.b64encode(hashlib.new(a.digest, out).digest()).decode() + "\n")
    else:
        sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
