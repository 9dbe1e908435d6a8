#!/usr/bin/env python3
"""SAML IdP smoke test and example: each IdP mints a Response for an SP-initiated request,
checked with xmlsec1 against idp/keys/idp-cert.pem. TEST ONLY.

Usage: idp/.venv/bin/python idp/saml-smoke.py [--base-port 7160]
  pysaml2       idp/pysaml2/server.py on BASE (login form POSTed with urllib), and IdP-initiated
  SimpleSAMLphp idp/simplesamlphp/start.sh on BASE+1 (real login form via login.py), signed,
                encrypted (decrypted with xmlsec1 and idp/keys/sp-key.pem) and IdP-initiated
  samlify       idp/node/samlify-response.js (no server)
Prints "N passed, N failed"; exits 1 on failure.
"""
import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "simplesamlphp"))
import login  # noqa: E402

SP = "http://127.0.0.1:3000/saml/sp"
ACS = "http://127.0.0.1:3000/saml/acs"
results = []


def check(name, ok, extra=""):
    results.append(ok)
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, " " + extra if extra else ""), flush=True)


def xmlsec_ok(xml, cert="idp-cert.pem"):
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(xml)
        f.flush()
        r = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", os.path.join(HERE, "keys", cert),
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                            "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", f.name],
                           capture_output=True)
        return r.returncode == 0


def decrypt(xml):
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        f.write(xml)
        f.flush()
        return subprocess.run(["xmlsec1", "--decrypt", "--privkey-pem", os.path.join(HERE, "keys", "sp-key.pem"),
                               f.name], capture_output=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-port", type=int, default=7160)
    a = ap.parse_args()
    py_port, ssp_port = a.base_port, a.base_port + 1

    # pysaml2 over HTTP
    p = subprocess.Popen([sys.executable, "-W", "ignore", os.path.join(HERE, "pysaml2", "server.py"), "--port",
                          str(py_port), "--sp-entity-id", SP, "--acs", ACS], stdout=subprocess.PIPE, text=True)
    try:
        md_url = p.stdout.readline().strip()
        md = urllib.request.urlopen(md_url, timeout=10).read().decode()
        check("pysaml2: metadata", "IDPSSODescriptor" in md, md_url)
        sso = "http://127.0.0.1:%d/sso" % py_port
        q = urllib.parse.urlencode({"SAMLRequest": login.redirect_request(sso, SP, ACS, "_smoke_py_1"),
                                    "RelayState": "rs1"})
        page = urllib.request.urlopen(sso + "?" + q, timeout=10).read().decode()
        f = login._inputs(page)
        body = urllib.parse.urlencode({**f, "username": "jane", "password": "jane-pass"}).encode()
        page = urllib.request.urlopen("http://127.0.0.1:%d/login" % py_port, data=body, timeout=20).read().decode()
        f = login._inputs(page)
        xml = base64.b64decode(f.get("SAMLResponse", ""))
        check("pysaml2: login form -> signed Response", xmlsec_ok(xml) and b'InResponseTo="_smoke_py_1"' in xml
              and f.get("RelayState") == "rs1" and ACS in re.search(r'action="([^"]*)"', page).group(1))
        page = urllib.request.urlopen("http://127.0.0.1:%d/idp-initiated" % py_port, timeout=20).read().decode()
        xml = base64.b64decode(login._inputs(page).get("SAMLResponse", ""))
        check("pysaml2: IdP-initiated", xmlsec_ok(xml) and b"InResponseTo" not in xml)
    finally:
        p.terminate()
        p.wait(10)

    # SimpleSAMLphp
    start = os.path.join(HERE, "simplesamlphp", "start.sh")
    try:
        for flags, name in (([], "signed"), (["--encrypt"], "encrypted")):
            out = subprocess.run([start, "--daemon", "--port", str(ssp_port), "--sp-entity-id", SP, "--acs", ACS,
                                  *flags], capture_output=True, text=True, check=True).stdout.split()
            base = "http://127.0.0.1:%d" % ssp_port
            check("ssp (%s): metadata URL printed" % name, out[0] == base + "/saml2/idp/metadata.php", out[0])
            r = login.login(base, SP, ACS, request_id="_smoke_ssp_1", relay_state="rs2")
            xml = base64.b64decode(r["SAMLResponse"])
            if name == "encrypted":
                dec = decrypt(xml)
                check("ssp: EncryptedAssertion decrypts", b"EncryptedAssertion" in xml and b">jane@acme.com<" in dec)
            else:
                check("ssp: login form -> signed Response", xmlsec_ok(xml) and b'InResponseTo="_smoke_ssp_1"' in xml
                      and b">jane@acme.com<" in xml and r["RelayState"] == "rs2" and r["action"] == ACS)
                r = login.login(base, SP, ACS, idp_initiated=True)
                xml = base64.b64decode(r["SAMLResponse"])
                check("ssp: IdP-initiated", xmlsec_ok(xml) and b"InResponseTo" not in xml)
                try:
                    login.login(base, SP, ACS, password="wrong")
                    check("ssp: wrong password refused", False)
                except RuntimeError:
                    check("ssp: wrong password refused", True)
    finally:
        subprocess.run([start, "--stop", "--port", str(ssp_port)])

    # samlify
    for sign in ("both", "assertion", "response"):
        xml = subprocess.run(["node", os.path.join(HERE, "node", "samlify-response.js"), "--xml", "--sign", sign,
                              "--request-id", "_smoke_sf_1", "--sp-entity-id", SP, "--acs", ACS],
                             capture_output=True, check=True).stdout
        check("samlify: signed Response (%s)" % sign, xmlsec_ok(xml) and b'InResponseTo="_smoke_sf_1"' in xml)

    print("%d passed, %d failed" % (results.count(True), results.count(False)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
