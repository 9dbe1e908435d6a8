#!/usr/bin/env python3
"""Drive SimpleSAMLphp's real login form with urllib (stdlib only) and print the SAMLResponse.

Usage:
  python3 idp/simplesamlphp/login.py --base http://127.0.0.1:7003 \
      --sp-entity-id http://127.0.0.1:3000/saml/sp --acs http://127.0.0.1:3000/saml/acs \
      [--request-id _req_0001] [--relay-state rs1] [--user jane --password jane-pass] \
      [--idp-initiated] [--force-authn] [--xml]

SP-initiated (default): builds an AuthnRequest, sends it with the HTTP-Redirect binding
(raw DEFLATE, base64, URL-encoded) to /saml2/idp/SSOService.php, posts username, password and
AuthState to the login form with the cookies kept, and reads the auto-POST form.
--idp-initiated: starts at /saml2/idp/SSOService.php?spentityid=... (no AuthnRequest; the
response has no InResponseTo).
Prints JSON {"action", "SAMLResponse" (base64), "RelayState"}; with --xml prints the decoded XML.
Importable: login(base, sp_entity_id, acs, ...) -> dict.
"""
import argparse
import base64
import datetime
import html
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.parse
import urllib.request
import zlib


def redirect_request(sso_url, sp_entity_id, acs, request_id, force_authn=False):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    fa = ' ForceAuthn="true"' if force_authn else ""
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{html.escape(request_id)}" Version="2.0" IssueInstant="{now}" '
        f'Destination="{html.escape(sso_url)}" AssertionConsumerServiceURL="{html.escape(acs)}" '
        f'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"{fa}>'
        f"<saml:Issuer>{html.escape(sp_entity_id)}</saml:Issuer>"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()


def _inputs(page):
    out = {}
    for m in re.finditer(r"<input\b[^>]*>", page, re.S):
        tag = m.group(0)
        n = re.search(r'name="([^"]*)"', tag)
        v = re.search(r'value="([^"]*)"', tag, re.S)
        if n:
            out[html.unescape(n.group(1))] = html.unescape(v.group(1)) if v else ""
    return out


def login(base, sp_entity_id, acs, request_id=None, relay_state=None, user="jane",
          password="jane-pass", idp_initiated=False, force_authn=False, timeout=20):
    base = base.rstrip("/")
    sso = base + "/saml2/idp/SSOService.php"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    if idp_initiated:
        q = {"spentityid": sp_entity_id}
        if relay_state is not None:
            q["RelayState"] = relay_state
    else:
        request_id = request_id or "_" + secrets.token_hex(16)
        q = {"SAMLRequest": redirect_request(sso, sp_entity_id, acs, request_id, force_authn)}
        if relay_state is not None:
            q["RelayState"] = relay_state
    r = opener.open(sso + "?" + urllib.parse.urlencode(q), timeout=timeout)
    page = r.read().decode("utf-8", "replace")
    form_url = r.geturl()
    fields = _inputs(page)
    if "AuthState" not in fields:
        raise RuntimeError("no login form (AuthState) at %s: %s" % (form_url, page[:500]))
    body = urllib.parse.urlencode(
        {"username": user, "password": password, "AuthState": fields["AuthState"]}).encode()
    post_url = urllib.parse.urljoin(form_url, urllib.parse.urlsplit(form_url).path)
    r = opener.open(post_url, data=body, timeout=timeout)
    page = r.read().decode("utf-8", "replace")
    fields = _inputs(page)
    if "SAMLResponse" not in fields:
        raise RuntimeError("no SAMLResponse after login (wrong password?): %s" % page[:500])
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    return {
        "action": html.unescape(action.group(1)) if action else None,
        "SAMLResponse": fields["SAMLResponse"],
        "RelayState": fields.get("RelayState"),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:7003")
    ap.add_argument("--sp-entity-id", required=True)
    ap.add_argument("--acs", required=True)
    ap.add_argument("--request-id")
    ap.add_argument("--relay-state")
    ap.add_argument("--user", default="jane")
    ap.add_argument("--password", default="jane-pass")
    ap.add_argument("--idp-initiated", action="store_true")
    ap.add_argument("--force-authn", action="store_true")
    ap.add_argument("--xml", action="store_true", help="print the decoded Response XML")
    a = ap.parse_args()
    res = login(a.base, a.sp_entity_id, a.acs, a.request_id, a.relay_state, a.user, a.password,
                a.idp_initiated, a.force_authn)
    if a.xml:
        sys.stdout.write(base64.b64decode(res["SAMLResponse"]).decode())
        sys.stdout.write("\n")
    else:
        print(json.dumps(res))


if __name__ == "__main__":
    main()
