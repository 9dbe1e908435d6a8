#!/usr/bin/env python3
"""Generate the adversarial SAML Response corpus from real IdP output. TEST DATA ONLY.

Usage (after idp/install.sh):
  idp/.venv/bin/python idp/corpus/generate.py            # (re)write the corpus
  idp/.venv/bin/python idp/corpus/generate.py --check    # regenerate in a temp dir, compare
  idp/.venv/bin/python idp/corpus/generate.py --refresh-recorded   # also re-mint recorded cases
  options: --out DIR (default crates/enterprise-sso-protocol/tests/corpus/saml/generated)
           --no-ssp (skip SimpleSAMLphp even when the recorded files are missing)
           --ssp-port N (default 7093)

Sources of the valid responses the cases start from:
  samlify  idp/node/samlify-response.js, clock pinned (--now), IDs seeded: byte-for-byte stable
  pysaml2  idp/pysaml2/server.py mint, clock pinned, IDs seeded: byte-for-byte stable
  ssp      SimpleSAMLphp under php -S, real login form driven by urllib; its clock cannot be
           pinned, so `now` is its IssueInstant + 60 s. RECORDED: minted once, then kept.
Random bytes (encryption IVs/keys, ECDSA signatures, SimpleSAMLphp) make some cases RECORDED:
the committed file is reused on rerun and only re-minted with --refresh-recorded.
Cases that need a valid signature over altered content are re-signed with lxml + signxml.

Writes <name>.xml files, certs/ and keys/ (copies of the idp/keys test material the cases
need), manifest.json and README.md. The manifest format is described in README.md.
"""
import argparse
import base64
import copy
import datetime as dt
import filecmp
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

from lxml import etree
from signxml import XMLSigner, SignatureMethod, DigestAlgorithm, CanonicalizationMethod, methods

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = os.path.dirname(HERE)
REPO = os.path.dirname(IDP)
KEYS = os.path.join(IDP, "keys")
DEFAULT_OUT = os.path.join(REPO, "crates", "enterprise-sso-protocol", "tests", "corpus", "saml", "generated")
NODE = os.environ.get("NODE", "node")
VENV_PY = os.path.join(IDP, ".venv", "bin", "python")

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
DS = "{%s}" % NS["ds"]

PINNED = "2026-06-01T12:00:00Z"      # IssueInstant of the samlify and pysaml2 responses
LIFETIME = 300                       # NotOnOrAfter = PINNED + 300 s (both IdPs)
SKEW = 120                           # the skew the cases assume (issue 31's default)
SP = "http://127.0.0.1:3000/saml/sp"
ACS = "http://127.0.0.1:3000/saml/acs"
OTHER_SP = "http://127.0.0.1:3000/saml/other-sp"
OTHER_ACS = "http://127.0.0.1:3000/saml/other-acs"
REQ = "_req_" + hashlib.sha256(b"enterprise-sso corpus request 1").hexdigest()[:32]
REQ2 = "_req_" + hashlib.sha256(b"enterprise-sso corpus request 2").hexdigest()[:32]
SAMLIFY_IDP = "http://127.0.0.1:7000/idp"
PYSAML2_IDP = "http://127.0.0.1:7002/metadata"
OTHER_IDP = "http://127.0.0.1:7000/other-idp"
USER = "jane@acme.com"
ATTACKER = "attacker@evil.example"
LONG_USER = "jane@acme.com.evil.example"   # the attacker's own, legitimately signed account
OVERSIZE = 1024 * 1024 + 64 * 1024          # bytes of padding in the over-size case

CERT = {k: "certs/%s-cert.pem" % k for k in ("idp", "idp2", "attacker", "idp-ec")}
SP_KEY = "keys/sp-key.pem"
XMLSEC_CMD = ("xmlsec1 --verify --pubkey-cert-pem <cert> --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response "
              "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion <file>")


def t(s, delta=0):
    d = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return (d + dt.timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[:3], r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout


# ---------------------------------------------------------------- minting (real IdPs)

def samlify(seed, *, sign="both", key="idp", request_id=REQ, email=USER, idp_entity=SAMLIFY_IDP,
            sp=SP, acs=ACS, encrypt=False, now=PINNED):
    cmd = [NODE, os.path.join(IDP, "node", "samlify-response.js"), "--xml", "--now", now, "--seed", seed,
           "--sign", sign, "--key", key, "--email", email, "--idp-entity-id", idp_entity,
           "--sp-entity-id", sp, "--acs", acs, "--family-name", "Doe"]
    cmd += ["--unsolicited"] if request_id is None else ["--request-id", request_id]
    if encrypt:
        cmd.append("--encrypt")
    return sh(cmd).strip()


def pysaml2(seed, *, sign="both", key="idp", request_id=REQ, sha1=False, encrypt=False, user="jane"):
    cmd = [VENV_PY, "-W", "ignore", os.path.join(IDP, "pysaml2", "server.py"), "mint", "--xml",
           "--now", PINNED, "--seed", seed, "--sign", sign, "--key", key, "--user", user,
           "--sp-entity-id", SP, "--acs", ACS, "--port", "7002"]
    if request_id is not None:
        cmd += ["--request-id", request_id]
    if sha1:
        cmd.append("--sha1")
    if encrypt:
        cmd.append("--encrypt")
    return sh(cmd).strip()


class Ssp:
    """SimpleSAMLphp started with idp/simplesamlphp/start.sh --daemon, driven by login.py."""

    def __init__(self, port):
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.entity = self.base + "/saml2/idp/metadata.php"
        self.flags = None
        sys.path.insert(0, os.path.join(IDP, "simplesamlphp"))
        import login  # noqa: E402
        self.login = login

    def start(self, *flags):
        if self.flags == flags:
            return
        self.stop()
        sh([os.path.join(IDP, "simplesamlphp", "start.sh"), "--daemon", "--port", str(self.port),
            "--sp-entity-id", SP, "--acs", ACS, *flags])
        self.flags = flags

    def stop(self):
        subprocess.run([os.path.join(IDP, "simplesamlphp", "start.sh"), "--stop", "--port", str(self.port)],
                       capture_output=True)
        self.flags = None

    def mint(self, *flags, request_id=REQ, idp_initiated=False):
        self.start(*flags)
        r = self.login.login(self.base, SP, ACS, request_id=request_id, relay_state="rs",
                             idp_initiated=idp_initiated)
        return base64.b64decode(r["SAMLResponse"])


# ---------------------------------------------------------------- XML helpers

PARSER = etree.XMLParser(remove_blank_text=False, resolve_entities=False, huge_tree=True)


def parse(b):
    return etree.fromstring(b, PARSER)


def ser(root):
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def x(root, path):
    return root.xpath(path, namespaces=NS)


def x1(root, path):
    r = x(root, path)
    if len(r) != 1:
        raise RuntimeError("expected one %s, found %d" % (path, len(r)))
    return r[0]


def assertion_of(root):
    return x1(root, "/samlp:Response/saml:Assertion")


def own_sig(el):
    s = x(el, "ds:Signature")
    return s[0] if s else None


def drop(el):
    """Remove el, keeping its tail text."""
    parent = el.getparent()
    prev = el.getprevious()
    if el.tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def set_nameid(el, value):
    for n in x(el, ".//saml:Subject/saml:NameID"):
        n.text = value
    for v in x(el, ".//saml:Attribute[@FriendlyName='mail']/saml:AttributeValue"):
        v.text = value


def exc_c14n(el, with_comments=False):
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=with_comments)


def digest_b64(el, alg="sha256"):
    """Digest of el as an enveloped-signature + exc-c14n reference would compute it."""
    c = copy.deepcopy(el)
    for s in x(c, "ds:Signature"):
        drop(s)
    return base64.b64encode(hashlib.new(alg, exc_c14n(c)).digest()).decode()


class Sha1Signer(XMLSigner):
    def check_deprecated_methods(self):  # SHA-1 on purpose: a downgrade case
        pass


def resign(root, which, *, key="idp", cert=None, sig="rsa-sha256", digest="sha256",
           c14n="http://www.w3.org/2001/10/xml-exc-c14n#", hmac_key=None, reference_uri=None):
    """Replace the signature(s) of the Assertion and/or Response with fresh ones (signxml).
    The new ds:Signature goes where SAML puts it: right after the element's Issuer.
    which: 'assertion', 'response' or 'both' (assertion first, then response)."""
    alg = {"rsa-sha256": SignatureMethod.RSA_SHA256, "rsa-sha512": SignatureMethod.RSA_SHA512,
           "rsa-sha1": SignatureMethod.RSA_SHA1, "ecdsa-sha256": SignatureMethod.ECDSA_SHA256,
           "hmac-sha256": SignatureMethod.HMAC_SHA256}[sig]
    dig = {"sha256": DigestAlgorithm.SHA256, "sha512": DigestAlgorithm.SHA512, "sha1": DigestAlgorithm.SHA1}[digest]
    cls = Sha1Signer if "sha1" in (sig + digest) else XMLSigner
    signer = cls(method=methods.enveloped, signature_algorithm=alg, digest_algorithm=dig, c14n_algorithm=c14n)
    signer.namespaces = {"ds": NS["ds"]}
    cert_name = cert or key
    keyb = hmac_key if hmac_key is not None else open(os.path.join(KEYS, key + "-key.pem"), "rb").read()
    certb = None if hmac_key is not None else open(os.path.join(KEYS, cert_name + "-cert.pem")).read()
    targets = {"assertion": ["assertion"], "response": ["response"], "both": ["assertion", "response"]}[which]
    for target in targets:
        el = assertion_of(root) if target == "assertion" else root
        old = own_sig(el)
        if old is not None:
            drop(old)
        issuer = x1(el, "saml:Issuer")
        ph = etree.Element(DS + "Signature", nsmap={"ds": NS["ds"]})
        ph.set("Id", "placeholder")
        issuer.addnext(ph)
        ph.tail = issuer.tail
        issuer.tail = None
        kw = dict(key=keyb, reference_uri="#" + el.get("ID"), id_attribute="ID")
        if certb:
            kw["cert"] = certb
        root = signer.sign(root, **kw)
        if reference_uri is not None:
            root = _fix_signature(root, target, reference_uri, keyb)
    return root


def IDP_KEY():
    return open(os.path.join(KEYS, "idp-key.pem"), "rb").read()


def _fix_signature(root, target, uri, keyb):
    """Set the Reference URI (e.g. "" = the whole document), recompute the sha256 digest of
    the element (enveloped + exc-c14n) and sign SignedInfo again (rsa-sha256): for what
    signxml refuses to make (URI="", duplicate IDs)."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    el = assertion_of(root) if target == "assertion" else root
    sig = own_sig(el)
    x1(sig, "ds:SignedInfo/ds:Reference").set("URI", uri)
    x1(sig, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = digest_b64(el)
    key = load_pem_private_key(keyb, None)
    sv = key.sign(exc_c14n(x1(sig, "ds:SignedInfo")), PKCS1v15(), SHA256())
    x1(sig, "ds:SignatureValue").text = base64.b64encode(sv).decode()
    return root


# ---------------------------------------------------------------- XSW (Somorovsky et al. 2012)

def evil_copy(el, new_id=None):
    c = copy.deepcopy(el)
    set_nameid(c, ATTACKER)
    if new_id:
        c.set("ID", new_id)
    return c


def xsw(root, n):
    """The eight wrapping variants from "On Breaking SAML: Be Whoever You Want to Be"
    (Somorovsky, Mayer, Schwenk, Kampmann, Jensen; USENIX Security 2012), in the form
    SAML Raider applies them. 1-2 wrap the signed Response, 3-8 the signed Assertion."""
    if n in (1, 2):
        sig = own_sig(root)
        orig = copy.deepcopy(root)
        drop(own_sig(orig))
        set_nameid(root, ATTACKER)
        root.set("ID", "_evil_response_" + hashlib.sha1(root.get("ID").encode()).hexdigest()[:16])
        for a in x(root, "saml:Assertion"):  # unique IDs: the case tests wrapping, not duplicate IDs
            a.set("ID", "_evil_assertion_" + hashlib.sha1(a.get("ID").encode()).hexdigest()[:16])
        if n == 1:
            sig.append(orig)                 # original Response inside the Signature
        else:
            sig.addprevious(orig)            # original Response before the Signature (detached)
        return root
    a = assertion_of(root)
    evil_id = "_evil_assertion_" + hashlib.sha1(a.get("ID").encode()).hexdigest()[:16]
    if n == 3:                               # evil assertion before the signed one
        e = evil_copy(a, evil_id)
        drop(own_sig(e))
        a.addprevious(e)
    elif n == 4:                             # signed assertion moved inside the evil one
        e = evil_copy(a, evil_id)
        drop(own_sig(e))
        root.append(e)
        e.append(a)
    elif n == 5:                             # signature stays in the evil assertion; original copy at the end
        clean = copy.deepcopy(a)
        drop(own_sig(clean))
        set_nameid(a, ATTACKER)
        a.set("ID", evil_id)
        root.append(clean)
    elif n == 6:                             # original copy inside the Signature of the evil assertion
        sig = own_sig(a)
        clean = copy.deepcopy(a)
        drop(own_sig(clean))
        set_nameid(a, ATTACKER)
        a.set("ID", evil_id)
        sig.append(clean)
    elif n == 7:                             # evil copy (same ID) inside an Extensions element before it
        ext = etree.Element("Extensions")
        a.addprevious(ext)
        e = evil_copy(a)
        drop(own_sig(e))
        ext.append(e)
    elif n == 8:                             # evil assertion keeps the ID and signature; original in ds:Object
        sig = own_sig(a)
        clean = copy.deepcopy(a)
        drop(own_sig(clean))
        set_nameid(a, ATTACKER)
        obj = etree.SubElement(sig, "Object")
        obj.append(clean)
    return root


# ---------------------------------------------------------------- xmlsec1

def xmlsec1_accepts(path, certs, outdir):
    ok = False
    for c in certs:
        r = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", os.path.join(outdir, c),
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", path],
                           capture_output=True, timeout=60)
        ok = ok or r.returncode == 0
    return ok


# ---------------------------------------------------------------- the cases

class Corpus:
    def __init__(self, out, refresh, ssp):
        self.out = out
        self.refresh = refresh
        self.ssp = ssp
        self.cases = []
        self.files = {}
        self.recorded_dir = None

    def recorded(self, name, producer):
        """Random bytes: reuse the committed file unless --refresh-recorded."""
        for d in [self.recorded_dir]:
            if d and not self.refresh and os.path.exists(os.path.join(d, name + ".xml")):
                return open(os.path.join(d, name + ".xml"), "rb").read()
        return producer()

    def write(self, name, data):
        if isinstance(data, etree._Element):
            data = ser(data)
        if name in self.files and self.files[name] != data:
            raise RuntimeError("file %s written twice with different bytes" % name)
        self.files[name] = data
        with open(os.path.join(self.out, name + ".xml"), "wb") as f:
            f.write(data)
        return name + ".xml"

    def case(self, name, file, *, source, attack, expect, now, idp_entity_id, certificates,
             in_response_to=REQ, allow_idp_initiated=False, allow_sha1=False, expect_name_id=None,
             note="", cve=None, sp_decryption_key=None, sp_entity_id=SP, acs_url=ACS):
        if expect == "accepted" and expect_name_id is None:
            expect_name_id = USER
        self.cases.append({
            "name": name, "file": file, "source": source, "attack": attack, "cve": cve, "expect": expect,
            "now": now, "skew_seconds": SKEW, "sp_entity_id": sp_entity_id, "acs_url": acs_url,
            "idp_entity_id": idp_entity_id, "certificates": certificates,
            "sp_decryption_key": sp_decryption_key, "in_response_to": in_response_to,
            "allow_idp_initiated": allow_idp_initiated, "allow_sha1": allow_sha1,
            "expect_name_id": expect_name_id, "xmlsec1_accepts": None, "note": note,
        })


def build(c):
    now = t(PINNED, 60)
    S = dict(source="samlify", idp_entity_id=SAMLIFY_IDP, certificates=[CERT["idp"]], now=now)
    P = dict(source="pysaml2", idp_entity_id=PYSAML2_IDP, certificates=[CERT["idp"]], now=now)

    # ---- bases (real IdP output, untouched)
    s_both = c.write("samlify_valid_both", samlify("both"))
    s_assert = c.write("samlify_valid_assertion_signed", samlify("assertion", sign="assertion"))
    s_resp = c.write("samlify_valid_response_signed", samlify("response", sign="response"))
    p_both = c.write("pysaml2_valid_both", pysaml2("both"))
    p_assert = c.write("pysaml2_valid_assertion_signed", pysaml2("assertion", sign="assertion"))
    p_resp = c.write("pysaml2_valid_response_signed", pysaml2("response", sign="response"))
    B = lambda name: parse(c.files[name[:-4] if name.endswith(".xml") else name])  # noqa: E731  fresh tree of a written file

    c.case("samlify_valid_both", s_both, attack="valid", expect="accepted", **S,
           note="Response and Assertion signed (rsa-sha256, sha256, exc-c14n).")
    c.case("samlify_valid_assertion_signed", s_assert, attack="valid", expect="accepted", **S,
           note="Only the Assertion is signed; the Response is not.")
    c.case("samlify_valid_response_signed", s_resp, attack="valid", expect="accepted", **S,
           note="Only the Response is signed; it covers the Assertion.")
    c.case("pysaml2_valid_both", p_both, attack="valid", expect="accepted", **P,
           note="pysaml2 + xmlsec1: ns0/ns1/ns2 prefixes, SignatureValue with line breaks.")
    c.case("pysaml2_valid_assertion_signed", p_assert, attack="valid", expect="accepted", **P)
    c.case("pysaml2_valid_response_signed", p_resp, attack="valid", expect="accepted", **P)

    f = c.write("samlify_valid_rotation_idp2", samlify("rotation", key="idp2"))
    c.case("samlify_valid_rotation_idp2", f, attack="valid", expect="accepted",
           **{**S, "certificates": [CERT["idp"], CERT["idp2"]]},
           note="Signed by the rotation successor idp2; both certificates configured (old first).")
    c.case("rotation_key_not_configured", f, attack="signed_by_unconfigured_key", expect="refused",
           **S, note="Signed by idp2 while only idp's certificate is configured.")
    f = c.write("pysaml2_valid_rotation_idp2", pysaml2("rotation", key="idp2"))
    c.case("pysaml2_valid_rotation_idp2", f, attack="valid", expect="accepted",
           **{**P, "certificates": [CERT["idp2"], CERT["idp"]]},
           note="Signed by idp2; both certificates configured (new first).")

    f = c.write("samlify_valid_encrypted", c.recorded("samlify_valid_encrypted",
                                                       lambda: samlify("enc", encrypt=True)))
    c.case("samlify_valid_encrypted", f, attack="valid", expect="accepted", sp_decryption_key=SP_KEY, **S,
           note="EncryptedAssertion (aes256-cbc + rsa-oaep-mgf1p) to the SP key; the Assertion inside is "
                "signed, the Response signed over the EncryptedAssertion. Recorded (random IV and key).")
    f = c.write("pysaml2_valid_encrypted", c.recorded("pysaml2_valid_encrypted",
                                                       lambda: pysaml2("enc", encrypt=True, sign="assertion")))
    c.case("pysaml2_valid_encrypted", f, attack="valid", expect="accepted", sp_decryption_key=SP_KEY, **P,
           note="pysaml2 EncryptedAssertion; only the Assertion (inside) is signed, so xmlsec1 finds no "
                "signature outside. Recorded (random IV and key).")
    f = c.write("encrypted_unsigned", c.recorded("encrypted_unsigned", lambda: _encrypted_unsigned()))
    c.case("encrypted_unsigned", f, attack="encrypted_assertion_unsigned", expect="refused",
           sp_decryption_key=SP_KEY, **S,
           note="EncryptedAssertion whose Assertion is unsigned, in an unsigned Response: encryption "
                "is not authentication (anyone can encrypt to the SP's public key). Recorded.")

    f = c.write("samlify_valid_idp_initiated", samlify("idpinit", request_id=None))
    c.case("samlify_valid_idp_initiated", f, attack="valid", expect="accepted", in_response_to=None,
           allow_idp_initiated=True, **S, note="Unsolicited (no InResponseTo anywhere), IdP-initiated allowed.")
    c.case("unsolicited_not_allowed", f, attack="unsolicited_not_allowed", expect="refused",
           in_response_to=None, **S, note="The same unsolicited response, IdP-initiated not allowed.")
    c.case("sp_initiated_as_unsolicited", s_both, attack="sp_initiated_replayed_as_unsolicited",
           expect="refused", in_response_to=None, allow_idp_initiated=True, **S,
           note="A response minted for an SP-initiated request (has InResponseTo) offered with no pending "
                "request while IdP-initiated is allowed: never accepted as unsolicited.")

    # ---- algorithms
    f = c.write("pysaml2_sha1", pysaml2("sha1", sha1=True))
    c.case("sha1_refused", f, attack="sha1_downgrade", expect="refused", **P,
           note="rsa-sha1 + sha1 digests (pysaml2's own default algorithms), SHA-1 not allowed.")
    c.case("sha1_allowed", f, attack="valid", expect="accepted", allow_sha1=True, **P,
           note="The same bytes with the per-connection SHA-1 opt-in.")
    r = resign(B(s_both), "both", sig="rsa-sha512", digest="sha512")
    f = c.write("signxml_valid_rsa_sha512", r)
    c.case("signxml_valid_rsa_sha512", f, attack="valid", expect="accepted", **{**S, "source": "samlify+signxml"},
           note="samlify response re-signed with rsa-sha512 / sha512 by the IdP key.")
    f = c.write("signxml_valid_ecdsa_p256", c.recorded("signxml_valid_ecdsa_p256",
                lambda: ser(resign(B(s_both), "both", key="idp-ec", sig="ecdsa-sha256"))))
    c.case("signxml_valid_ecdsa_p256", f, attack="valid", expect="accepted",
           **{**S, "source": "samlify+signxml", "certificates": [CERT["idp-ec"]]},
           note="Re-signed with the EC P-256 IdP key (ecdsa-sha256, r||s). Recorded (ECDSA is randomized).")
    idp_pem = open(os.path.join(KEYS, "idp-cert.pem"), "rb").read()
    f = c.write("hmac_signature", resign(set_nameid_tree(B(s_both), ATTACKER), "both", sig="hmac-sha256",
                                         hmac_key=idp_pem))
    c.case("hmac_signature", f, attack="hmac_signature", expect="refused", **{**S, "source": "samlify+signxml"},
           note="hmac-sha256 keyed with the IdP certificate's PEM bytes (public): algorithm confusion; "
                "NameID changed to the attacker's.")
    f = c.write("c14n_with_comments", resign(B(s_both), "both",
                                             c14n="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"))
    c.case("c14n_with_comments", f, attack="c14n_with_comments", expect="refused",
           **{**S, "source": "samlify+signxml"},
           note="Signed by the IdP key with exc-c14n#WithComments (CanonicalizationMethod and transform): "
                "not an allowed transform.")
    f = c.write("reference_uri_empty", resign(B(s_resp), "response", reference_uri=""))
    c.case("reference_uri_empty", f, attack="reference_uri_not_parent_id", expect="refused",
           **{**S, "source": "samlify+signxml"},
           note="Response signature with Reference URI=\"\" (whole document) instead of #ID.")

    # ---- keys
    r = set_nameid_tree(B(s_both), ATTACKER)
    f = c.write("attacker_cert_in_keyinfo", resign(r, "both", key="attacker"))
    c.case("attacker_cert_in_keyinfo", f, attack="attacker_certificate_in_keyinfo", expect="refused",
           cve="CVE-2024-32962", **{**S, "source": "samlify+signxml"},
           note="NameID changed, re-signed by the attacker key with the attacker certificate in KeyInfo.")
    f = c.write("other_idp_key", samlify("otherkey", key="attacker"))
    c.case("other_idp_key", f, attack="signed_by_other_idp", expect="refused", **S,
           note="Minted by samlify with another IdP's key (tenant crossing), our IdP's entity id as Issuer.")
    f = c.write("other_idp_response", samlify("otheridp", key="attacker", idp_entity=OTHER_IDP))
    c.case("other_idp_response", f, attack="response_of_other_idp", expect="refused", **S,
           note="A valid response of another IdP (its entity id, its key) posted to this connection.")

    # ---- signature placement and wrapping
    for src, base_resp, base_assert, meta in (("samlify", s_resp, s_assert, S), ("pysaml2", p_resp, p_assert, P)):
        for n in range(1, 9):
            root = xsw(B(base_resp if n <= 2 else base_assert), n)
            f = c.write("%s_xsw%d" % (src, n), root)
            c.case("%s_xsw%d" % (src, n), f, attack="xsw%d" % n, expect="refused", **meta,
                   note=XSW_NOTES[n])

    r = B(s_assert)
    e = evil_copy(assertion_of(r), "_second_" + assertion_of(r).get("ID")[1:])
    drop(own_sig(e))
    r.append(e)
    f = c.write("second_unsigned_assertion", r)
    c.case("second_unsigned_assertion", f, attack="second_unsigned_assertion", expect="refused", **S,
           note="The signed Assertion, then a second unsigned Assertion (attacker NameID).")
    r = B(s_assert)
    a = assertion_of(r)
    e = evil_copy(a)
    drop(own_sig(e))
    a.addprevious(e)
    f = c.write("duplicate_ids", r)
    c.case("duplicate_ids", f, attack="duplicate_ids", expect="refused", **S,
           note="An unsigned attacker Assertion with the same ID as the signed one, placed before it.")
    r = resign(B(s_both), "response")
    r.set("ID", assertion_of(r).get("ID"))
    f = c.write("response_id_equals_assertion_id", _fix_signature(r, "response", "#" + r.get("ID"), IDP_KEY()))
    c.case("response_id_equals_assertion_id", f, attack="duplicate_ids", expect="refused",
           **{**S, "source": "samlify+signxml"},
           note="Response and Assertion share one ID; both signatures valid (re-signed by the IdP key).")
    r = B(s_both)
    r.set("Consent", "urn:oasis:names:tc:SAML:2.0:consent:unspecified")
    f = c.write("response_signature_broken", r)
    c.case("response_signature_broken", f, attack="response_signature_invalid_assertion_valid",
           expect="refused", **S,
           note="Both signed; an attribute added to the Response breaks its signature while the Assertion's "
                "stays valid. A bad signature anywhere refuses.")

    # ---- digest / SignedInfo tricks
    r = B(s_assert)
    a = assertion_of(r)
    set_nameid(a, ATTACKER)
    new = digest_b64(a)
    ext = etree.Element("{%s}Extensions" % NS["samlp"])
    dv = etree.SubElement(ext, DS + "DigestValue", nsmap={"ds": NS["ds"]})
    dv.text = new
    x1(r, "saml:Issuer").addnext(ext)
    f = c.write("stray_digest_value", r)
    c.case("stray_digest_value", f, attack="stray_digest_value", expect="refused", cve="CVE-2024-45409", **S,
           note="NameID changed; a ds:DigestValue with the digest of the changed Assertion placed in "
                "samlp:Extensions, first in document order (ruby-saml read //ds:DigestValue).")
    r = B(s_assert)
    a = assertion_of(r)
    set_nameid(a, ATTACKER)
    new = digest_b64(a)
    dv = x1(a, "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue")
    orig = dv.text
    dv.text = None
    com = etree.Comment(new)
    dv.append(com)
    com.tail = orig
    f = c.write("commented_digest_value", r)
    c.case("commented_digest_value", f, attack="commented_digest_value", expect="refused", cve="CVE-2025-29775",
           **S, note="NameID changed; DigestValue is <!--digest of the changed Assertion-->original: "
                     "canonical SignedInfo (comments dropped) is unchanged, so the SignatureValue still verifies; "
                     "a reader taking the first child node gets the forged digest.")
    r = B(s_assert)
    a = assertion_of(r)
    set_nameid(a, ATTACKER)
    new = digest_b64(a)
    si = x1(a, "ds:Signature/ds:SignedInfo")
    si2 = copy.deepcopy(si)
    x1(si2, "ds:Reference/ds:DigestValue").text = new
    si.addnext(si2)
    f = c.write("two_signed_info", r)
    c.case("two_signed_info", f, attack="two_signed_info", expect="refused", cve="CVE-2025-29774", **S,
           note="NameID changed; a second SignedInfo (with the changed Assertion's digest) after the "
                "original one, whose SignatureValue still verifies.")

    # ---- text nodes: comments and PIs (CVE-2017-11427 family)
    for src, mint, meta in (("samlify", lambda: samlify("long", email=LONG_USER), S),):
        base = c.write("%s_valid_long_user" % src, mint())
        c.case("%s_valid_long_user" % src, base, attack="valid", expect="accepted", expect_name_id=LONG_USER,
               **meta, note="The attacker's own account %s, signed normally." % LONG_USER)
        r = B(base)
        n = x1(r, "saml:Assertion/saml:Subject/saml:NameID")
        n.text = USER
        com = etree.Comment("")
        n.append(com)
        com.tail = LONG_USER[len(USER):]
        f = c.write("comment_in_nameid", r)
        c.case("comment_in_nameid", f, attack="comment_in_nameid", expect="refused_or_full_text",
               expect_name_id=LONG_USER, cve="CVE-2017-11427", **meta,
               note="Either refused or full text: NameID is jane@acme.com<!---->.evil.example; c14n drops "
                    "the comment so the IdP's signature still verifies; a reader of the first text node "
                    "gets jane@acme.com. Accepting is right only with the full text " + LONG_USER + ".")
        r = B(base)
        v = x1(r, "saml:Assertion/saml:AttributeStatement/saml:Attribute[@FriendlyName='mail']/saml:AttributeValue")
        v.text = USER
        com = etree.Comment("")
        v.append(com)
        com.tail = LONG_USER[len(USER):]
        f = c.write("comment_in_attribute_value", r)
        c.case("comment_in_attribute_value", f, attack="comment_in_attribute_value",
               expect="refused_or_full_text", expect_name_id=LONG_USER, cve="CVE-2017-11427", **meta,
               note="Either refused or full text: the mail AttributeValue is jane@acme.com<!---->.evil.example "
                    "(signature still valid); the mail attribute must read " + LONG_USER + " if accepted.")
        r = B(base)
        n = x1(r, "saml:Assertion/saml:Subject/saml:NameID")
        n.text = USER
        pi = etree.ProcessingInstruction("x")
        n.append(pi)
        pi.tail = LONG_USER[len(USER):]
        f = c.write("pi_in_nameid", resign(r, "both"))
        c.case("pi_in_nameid", f, attack="pi_in_nameid", expect="refused_or_full_text", expect_name_id=LONG_USER,
               cve="CVE-2017-11427", **{**meta, "source": "samlify+signxml"},
               note="Either refused or full text: NameID is jane@acme.com<?x?>.evil.example, re-signed by the "
                    "IdP key (c14n keeps PIs, so the original signature would not hold).")

    # ---- document shape
    signed = c.files[s_both[:-4]]
    evil = ser(xsw_evil_response(B(s_both)))
    f = c.write("two_roots", signed + evil)
    c.case("two_roots", f, attack="two_roots", expect="refused", cve="CVE-2022-39299", **S,
           note="The signed Response followed by a second root element (unsigned attacker Response).")
    f = c.write("two_roots_evil_first", evil + signed)
    c.case("two_roots_evil_first", f, attack="two_roots", expect="refused", cve="CVE-2022-39299", **S,
           note="An unsigned attacker Response root, then the signed Response.")
    txt = signed.decode()
    dt_internal = ('<!DOCTYPE samlp:Response [<!ENTITY user "%s">]>' % USER).encode()
    f = c.write("doctype_internal_entity", dt_internal + txt.replace(">%s</saml:NameID>" % USER,
                                                                     ">&user;</saml:NameID>", 1).encode())
    c.case("doctype_internal_entity", f, attack="doctype_entities", expect="refused", **S,
           note="A DOCTYPE with an internal entity used in NameID; expanded, the signed content is unchanged.")
    dt_ext = b'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    f = c.write("doctype_external_entity", dt_ext + txt.replace("</saml:NameID>", "&xxe;</saml:NameID>", 1).encode())
    c.case("doctype_external_entity", f, attack="doctype_xxe", expect="refused", **S,
           note="A DOCTYPE declaring an external (SYSTEM) entity referenced in NameID (XXE).")
    laughs = "".join('<!ENTITY l%d "%s">' % (i, ("&l%d;" % (i - 1)) * 10 if i else "lol") for i in range(10))
    f = c.write("doctype_billion_laughs", ("<!DOCTYPE samlp:Response [%s]>" % laughs).encode()
                + txt.replace("</saml:NameID>", "&l9;</saml:NameID>", 1).encode())
    c.case("doctype_billion_laughs", f, attack="doctype_entity_expansion", expect="refused", **S,
           note="Nested entities (10^9 expansions) referenced in NameID.")
    r = B(s_both)
    v = x1(r, "saml:Assertion/saml:AttributeStatement/saml:Attribute[@FriendlyName='sn']/saml:AttributeValue")
    v.text = "D" * OVERSIZE
    f = c.write("oversize", resign(r, "both"))
    c.case("oversize", f, attack="oversize", expect="refused", **{**S, "source": "samlify+signxml"},
           note="%d bytes: an sn attribute of %d bytes, validly re-signed by the IdP key; over the 1 MiB input "
                "cap (base64 ~1.4 MiB)." % (len(c.files["oversize"]), OVERSIZE))

    # ---- integrity
    r = B(s_both)
    for s in x(r, "//ds:Signature"):
        drop(s)
    f = c.write("unsigned", r)
    c.case("unsigned", f, attack="unsigned", expect="refused", **S, note="Every ds:Signature removed.")
    r = set_nameid_tree(B(s_both), ATTACKER)
    f = c.write("tampered", r)
    c.case("tampered", f, attack="tampered_digest_mismatch", expect="refused", **S,
           note="NameID and mail changed after signing: digest mismatch in both signatures.")
    r = B(s_assert)
    sv = x1(r, "saml:Assertion/ds:Signature/ds:SignatureValue")
    raw = bytearray(base64.b64decode(sv.text))
    raw[-1] ^= 1
    sv.text = base64.b64encode(bytes(raw)).decode()
    f = c.write("signature_value_tampered", r)
    c.case("signature_value_tampered", f, attack="tampered_signature_value", expect="refused", **S,
           note="One bit of the Assertion's SignatureValue flipped.")

    # ---- semantics (each re-signed by the IdP key, so only the rule can refuse it)
    def edited(name, attack, fn, note, which="both", base=s_both, **kw):
        r = B(base)
        fn(r)
        f = c.write(name, resign(r, which))
        c.case(name, f, attack=attack, expect="refused", **{**S, "source": "samlify+signxml", **kw}, note=note)

    edited("wrong_audience", "wrong_audience",
           lambda r: setattr(x1(r, "//saml:Audience"), "text", OTHER_SP),
           "Audience is another SP's entity id (%s), signed by the IdP." % OTHER_SP)
    edited("audience_prefix", "wrong_audience",
           lambda r: setattr(x1(r, "//saml:Audience"), "text", SP + "-other"),
           "Audience %s-other: the SP entity id is only a prefix of it (Polis matched by prefix)." % SP)
    edited("wrong_destination", "wrong_destination",
           lambda r: r.set("Destination", OTHER_ACS), "Response Destination is another ACS URL.")
    edited("wrong_recipient", "wrong_recipient",
           lambda r: x1(r, "//saml:SubjectConfirmationData").set("Recipient", OTHER_ACS),
           "Bearer SubjectConfirmationData Recipient is another ACS URL.")
    edited("wrong_issuer", "wrong_issuer",
           lambda r: [setattr(i, "text", OTHER_IDP) for i in x(r, "//saml:Issuer")],
           "Both Issuers are another IdP's entity id; signed by this IdP's key.")
    edited("wrong_response_issuer", "wrong_issuer",
           lambda r: setattr(x1(r, "/samlp:Response/saml:Issuer"), "text", OTHER_IDP),
           "Only the Response Issuer differs; the Assertion's is right.", which="response")
    edited("wrong_assertion_issuer", "wrong_issuer",
           lambda r: setattr(x1(r, "/samlp:Response/saml:Assertion/saml:Issuer"), "text", OTHER_IDP),
           "Only the Assertion Issuer differs; the Response's is right.")
    edited("status_not_success", "status_not_success",
           lambda r: x1(r, "samlp:Status/samlp:StatusCode").set(
               "Value", "urn:oasis:names:tc:SAML:2.0:status:Responder"),
           "StatusCode Responder (an IdP-side failure) although an Assertion is present.", which="response")
    edited("no_authn_statement", "no_authn_statement",
           lambda r: drop(x1(r, "//saml:AuthnStatement")), "The Assertion has no AuthnStatement.")
    edited("no_bearer_confirmation", "no_bearer_subject_confirmation",
           lambda r: x1(r, "//saml:SubjectConfirmation").set("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"),
           "The only SubjectConfirmation is holder-of-key, not bearer.")
    edited("recipient_missing", "wrong_recipient",
           lambda r: x1(r, "//saml:SubjectConfirmationData").attrib.pop("Recipient"),
           "The bearer SubjectConfirmationData has no Recipient.")

    f = c.write("wrong_in_response_to", samlify("otherreq", request_id=REQ2))
    c.case("wrong_in_response_to", f, attack="wrong_in_response_to", expect="refused", **S,
           note="Minted for another request (%s); the pending request is %s." % (REQ2, REQ))
    r = B(s_assert)
    r.set("InResponseTo", REQ2)
    f = c.write("response_in_response_to_edited", r)
    c.case("response_in_response_to_edited", f, attack="unsigned_in_response_to_edited", expect="refused",
           in_response_to=REQ2, **S,
           note="Assertion-only signed response for %s; the unsigned Response's InResponseTo edited to a new "
                "pending request %s. The signed SubjectConfirmationData still says %s." % (REQ, REQ2, REQ))

    # ---- time: the same bytes, the clock moved (NotBefore = PINNED, NotOnOrAfter = PINNED + 300 s)
    nb, noa = PINNED, t(PINNED, LIFETIME)
    for name, now_, exp, note in (
        ("expired", t(noa, 3600), "refused", "now is an hour after NotOnOrAfter."),
        ("not_yet_valid", t(nb, -3600), "refused", "now is an hour before NotBefore."),
        ("skew_after_inside", t(noa, SKEW - 1), "accepted", "now = NotOnOrAfter + skew - 1 s: inside."),
        ("skew_after_boundary", t(noa, SKEW), "refused", "now = NotOnOrAfter + skew: NotOnOrAfter is exclusive."),
        ("skew_before_inside", t(nb, -SKEW), "accepted", "now = NotBefore - skew: inside."),
        ("skew_before_outside", t(nb, -SKEW - 1), "refused", "now = NotBefore - skew - 1 s."),
    ):
        c.case(name, s_both, attack="valid" if exp == "accepted" else "time_window", expect=exp,
               **{**S, "now": now_}, note=note + " skew_seconds = %d." % SKEW)

    # ---- SimpleSAMLphp (recorded)
    if c.ssp is not None or all(os.path.exists(os.path.join(c.recorded_dir or "", n + ".xml"))
                                for n in SSP_CASES):
        build_ssp(c, B)


SSP_CASES = ["ssp_valid_both", "ssp_valid_assertion_signed", "ssp_valid_response_signed", "ssp_valid_encrypted",
             "ssp_valid_idp_initiated", "ssp_valid_rotation_idp2"]


def build_ssp(c, B):
    ssp = c.ssp

    def rec(name, *flags, **kw):
        return c.write(name, c.recorded(name, lambda: ssp.mint(*flags, **kw)))

    files = {
        "ssp_valid_both": rec("ssp_valid_both"),
        "ssp_valid_assertion_signed": rec("ssp_valid_assertion_signed", "--sign", "assertion"),
        "ssp_valid_response_signed": rec("ssp_valid_response_signed", "--sign", "response"),
        "ssp_valid_encrypted": rec("ssp_valid_encrypted", "--encrypt"),
        "ssp_valid_idp_initiated": rec("ssp_valid_idp_initiated", idp_initiated=True),
        "ssp_valid_rotation_idp2": rec("ssp_valid_rotation_idp2", "--key", "idp2"),
    }
    if ssp is not None:
        ssp.stop()
    for name, f in files.items():
        raw = c.files[f[:-4]]
        issue = x1(parse(raw), "/samlp:Response").get("IssueInstant")
        issuer = x1(parse(raw), "/samlp:Response/saml:Issuer").text
        meta = dict(source="simplesamlphp", idp_entity_id=issuer, certificates=[CERT["idp"]], now=t(issue, 60))
        kw = {}
        note = "SimpleSAMLphp 1.19 (Debian), real login form (jane / jane-pass). Recorded; now = IssueInstant + 60 s."
        if name == "ssp_valid_encrypted":
            kw["sp_decryption_key"] = SP_KEY
            note += " EncryptedAssertion (aes128-cbc + rsa-oaep-mgf1p); Response signed."
        if name == "ssp_valid_idp_initiated":
            kw.update(in_response_to=None, allow_idp_initiated=True)
            note += " IdP-initiated (/saml2/idp/SSOService.php?spentityid=...): no InResponseTo."
        if name == "ssp_valid_rotation_idp2":
            meta["certificates"] = [CERT["idp"], CERT["idp2"]]
            note += " Signed by idp2; both certificates configured."
        c.case(name, f, attack="valid", expect="accepted", **meta, **kw, note=note)
        if name == "ssp_valid_idp_initiated":
            c.case("ssp_unsolicited_not_allowed", f, attack="unsolicited_not_allowed", expect="refused",
                   **meta, in_response_to=None, note="The same IdP-initiated response, IdP-initiated not allowed.")
        if name == "ssp_valid_response_signed":
            for n in (1, 2):
                g = c.write("ssp_xsw%d" % n, xsw(B(f[:-4]), n))
                c.case("ssp_xsw%d" % n, g, attack="xsw%d" % n, expect="refused", **meta, note=XSW_NOTES[n])
        if name == "ssp_valid_assertion_signed":
            for n in range(3, 9):
                g = c.write("ssp_xsw%d" % n, xsw(B(f[:-4]), n))
                c.case("ssp_xsw%d" % n, g, attack="xsw%d" % n, expect="refused", **meta, note=XSW_NOTES[n])
        if name == "ssp_valid_both":
            r = set_nameid_tree(B(f[:-4]), ATTACKER)
            g = c.write("ssp_tampered", r)
            c.case("ssp_tampered", g, attack="tampered_digest_mismatch", expect="refused", **meta,
                   note="NameID changed after signing.")
            c.case("ssp_expired", f, attack="time_window", expect="refused",
                   **{**meta, "now": t(meta["now"], 3600)}, note="now an hour after IssueInstant.")


def set_nameid_tree(root, value):
    set_nameid(root, value)
    return root


def xsw_evil_response(root):
    """An unsigned Response for the attacker (for the two-roots cases)."""
    for s in x(root, "//ds:Signature"):
        drop(s)
    set_nameid(root, ATTACKER)
    root.set("ID", "_evil_root_" + hashlib.sha1(root.get("ID").encode()).hexdigest()[:16])
    return root


def _encrypted_unsigned():
    b = samlify("encunsigned", sign="response", encrypt=True)
    r = parse(b)
    for s in x(r, "//ds:Signature"):
        drop(s)
    return ser(r)


XSW_NOTES = {
    1: "XSW1: attacker Response (new IDs) as root keeps the Signature; the original signed Response sits "
       "inside that Signature, where the Reference finds it.",
    2: "XSW2: like XSW1 but the original Response is placed before the Signature (detached).",
    3: "XSW3: an unsigned attacker Assertion (new ID) before the signed Assertion.",
    4: "XSW4: an unsigned attacker Assertion (new ID) with the signed Assertion moved inside it.",
    5: "XSW5: the signed Assertion edited (attacker NameID, new ID) keeps its Signature; an unsigned copy of "
       "the original with the old ID is appended to the Response.",
    6: "XSW6: like XSW5 but the unsigned copy of the original sits inside the Signature.",
    7: "XSW7: an unsigned attacker copy (same ID) inside an <Extensions> element before the signed Assertion.",
    8: "XSW8: the edited Assertion keeps ID and Signature; the original copy sits in a ds:Object-like "
       "<Object> inside the Signature.",
}


# ---------------------------------------------------------------- output

def write_readme(out, cases):
    lines = [
        "# Generated SAML Response corpus (adversarial + valid controls)",
        "",
        "Generated by `idp/.venv/bin/python idp/corpus/generate.py` (see `idp/README.md`); do not edit by hand.",
        "`--check` regenerates into a temporary folder and compares. TEST DATA: every key here is a test key.",
        "",
        "Each case is an entry of `manifest.json` (several cases may share one file: same bytes, other",
        "configuration or clock). Fields:",
        "",
        "| field | meaning |",
        "|---|---|",
        "| `name` | unique case name |",
        "| `file` | the raw Response XML (not base64), relative to this folder |",
        "| `source` | the IdP that minted it: `samlify`, `pysaml2`, `simplesamlphp`; `+signxml` when re-signed by lxml + signxml with the key named in the note |",
        "| `attack` | stable snake_case name of the attack, or `valid` |",
        "| `cve` | the CVE the case reproduces, or null |",
        "| `expect` | `accepted`, `refused`, or `refused_or_full_text` (either refused, or accepted with exactly `expect_name_id` / the full attribute text) |",
        "| `now` | the clock to verify at (RFC 3339) |",
        "| `skew_seconds` | the clock skew the expectation assumes (%d) |" % SKEW,
        "| `sp_entity_id`, `acs_url` | the SP the connection is configured with |",
        "| `idp_entity_id` | the IdP entity id the connection expects |",
        "| `certificates` | the connection's IdP signing certificates (PEM paths relative to this folder) |",
        "| `sp_decryption_key` | the SP's private key for EncryptedAssertion (relative path), or null |",
        "| `in_response_to` | the pending AuthnRequest ID of this browser, or null (no pending request) |",
        "| `allow_idp_initiated` | connection allows unsolicited responses |",
        "| `allow_sha1` | connection opted in to rsa-sha1 / sha1 |",
        "| `expect_name_id` | the NameID an accepted verification must yield, or null |",
        "| `xmlsec1_accepts` | whether `%s` exits 0 (any configured certificate). xmlsec1 checks the first ds:Signature in document order and nothing else: `true` on a refused case means the case tests consumption rules beyond signature checking |" % XMLSEC_CMD,
        "| `note` | what was done |",
        "",
        "Common values: SP `%s`, ACS `%s`, pending request `%s`, samlify IdP `%s`, pysaml2 IdP `%s`; "
        "samlify and pysaml2 responses are minted at %s with a %d s lifetime (`now` = +60 s)." % (
            SP, ACS, REQ, SAMLIFY_IDP, PYSAML2_IDP, PINNED, LIFETIME),
        "",
        "| case | file | attack | expect | xmlsec1 | note |",
        "|---|---|---|---|---|---|",
    ]
    for k in cases:
        lines.append("| %s | %s | %s%s | %s | %s | %s |" % (
            k["name"], k["file"], k["attack"], " (%s)" % k["cve"] if k["cve"] else "", k["expect"],
            "accepts" if k["xmlsec1_accepts"] else "refuses", k["note"].replace("|", "\\|")))
    n_ref = [k for k in cases if k["expect"] != "accepted"]
    lines += ["", "%d cases (%d accepted controls, %d refused or full-text); xmlsec1 alone accepts %d of the "
              "non-accepted ones: %s." % (
                  len(cases), len(cases) - len(n_ref), len(n_ref), sum(1 for k in n_ref if k["xmlsec1_accepts"]),
                  ", ".join(k["name"] for k in n_ref if k["xmlsec1_accepts"])), ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


def generate(out, refresh, use_ssp, ssp_port, recorded_dir):
    os.makedirs(os.path.join(out, "certs"), exist_ok=True)
    os.makedirs(os.path.join(out, "keys"), exist_ok=True)
    for k in ("idp", "idp2", "attacker", "idp-ec"):
        shutil.copyfile(os.path.join(KEYS, k + "-cert.pem"), os.path.join(out, "certs", k + "-cert.pem"))
    shutil.copyfile(os.path.join(KEYS, "sp-key.pem"), os.path.join(out, SP_KEY))
    shutil.copyfile(os.path.join(KEYS, "sp-cert.pem"), os.path.join(out, "certs", "sp-cert.pem"))
    need_ssp = use_ssp and (refresh or not all(
        os.path.exists(os.path.join(recorded_dir, n + ".xml")) for n in SSP_CASES))
    ssp = None
    if need_ssp:
        ssp = Ssp(ssp_port)
    c = Corpus(out, refresh, ssp)
    c.recorded_dir = recorded_dir
    try:
        build(c)
    finally:
        if ssp is not None:
            ssp.stop()
    names = [k["name"] for k in c.cases]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        raise RuntimeError("duplicate case names: %s" % sorted(dups))
    for k in c.cases:
        k["xmlsec1_accepts"] = xmlsec1_accepts(os.path.join(out, k["file"]), k["certificates"], out)
    manifest = {
        "generator": "idp/corpus/generate.py",
        "xmlsec1_command": XMLSEC_CMD,
        "cases": c.cases,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_readme(out, c.cases)
    # stale files from an older run
    keep = set(k["file"] for k in c.cases) | {"manifest.json", "README.md"}
    for fn in os.listdir(out):
        if fn.endswith(".xml") and fn not in keep:
            os.remove(os.path.join(out, fn))
    return c.cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--refresh-recorded", action="store_true")
    ap.add_argument("--no-ssp", action="store_true")
    ap.add_argument("--ssp-port", type=int, default=7093)
    a = ap.parse_args()
    if a.check:
        tmp = tempfile.mkdtemp(prefix="saml-corpus-")
        try:
            generate(tmp, False, False, a.ssp_port, a.out)
            cmp = filecmp.dircmp(a.out, tmp)
            bad = cmp.diff_files + cmp.left_only + cmp.right_only
            for sub in ("certs", "keys"):
                s = filecmp.dircmp(os.path.join(a.out, sub), os.path.join(tmp, sub))
                bad += [sub + "/" + n for n in s.diff_files + s.left_only + s.right_only]
            if bad:
                print("corpus differs from a fresh generation: %s" % ", ".join(sorted(bad)))
                sys.exit(1)
            print("corpus matches a fresh generation (%d files)" % len(os.listdir(tmp)))
        finally:
            shutil.rmtree(tmp)
        return
    cases = generate(a.out, a.refresh_recorded, not a.no_ssp, a.ssp_port, a.out)
    acc = sum(1 for k in cases if k["expect"] == "accepted")
    print("%d cases (%d accepted controls) in %s" % (len(cases), acc, os.path.relpath(a.out, REPO)))
    for k in cases:
        print("  %-40s %-22s xmlsec1=%s" % (k["name"], k["expect"], "accepts" if k["xmlsec1_accepts"] else "refuses"))


if __name__ == "__main__":
    main()
