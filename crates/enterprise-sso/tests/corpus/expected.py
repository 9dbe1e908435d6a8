#!/usr/bin/env python3
"""Writes the expected values beside every corpus document, independently of the Rust code.

SAML: the XML is read with Python's ElementTree and each certificate's validity window with
`openssl x509`; the rules applied are the documented ones (README "SAML inputs"): the IdP
entity (an aggregate's only IdP entity; several need a choice), entityID, the HTTP-Redirect
SSO location (else the first HTTP-POST one), every signing certificate (KeyDescriptor with
use="signing" or no use) once, the primary certificate at NOW (valid at NOW and expiring
last, else expiring last), and whether a connection could be activated at NOW.

OIDC: the discovery documents' endpoints as given, and why one is refused.

Run from this folder: python3 expected.py (needs openssl). Review the diff it produces.
"""
import base64, datetime, glob, json, os, subprocess, xml.etree.ElementTree as ET

NOW_MS = 1717200000000  # 2024-06-01T00:00:00Z, the tests' pinned clock
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

# Documents the library must refuse, and why (the test checks the code).
SAML_REFUSALS = {
    "sustainsys_bom_no_keys.xml": ("saml_metadata_missing_fields",
        "an IdP entity without KeyDescriptor: no signing certificate"),
}


def openssl_window(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-startdate", "-enddate"],
                         input=der, capture_output=True, check=True).stdout.decode()
    vals = dict(line.split("=", 1) for line in out.strip().splitlines())
    def ms(v):
        t = datetime.datetime.strptime(v.strip(), "%b %d %H:%M:%S %Y %Z")
        return int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000
    return ms(vals["notBefore"]), ms(vals["notAfter"])


def read_entity(e):
    idp = e.find(f"{{{MD}}}IDPSSODescriptor")
    out = {"entity_id": e.get("entityID").strip()}
    services = [(s.get("Binding"), s.get("Location").strip())
                for s in idp.findall(f"{{{MD}}}SingleSignOnService")
                if s.get("Binding") in (REDIRECT, POST) and (s.get("Location") or "").strip()]
    redirect = [l for b, l in services if b == REDIRECT]
    out["sso_url"] = redirect[0] if redirect else (services[0][1] if services else None)
    certs, seen = [], set()
    for kd in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if kd.get("use") not in (None, "signing"):
            continue
        for x in kd.iter(f"{{{DS}}}X509Certificate"):
            b64 = "".join((x.text or "").split())
            der = base64.b64decode(b64)
            if der in seen:
                continue
            seen.add(der)
            try:
                nb, na = openssl_window(der)
            except subprocess.CalledProcessError:
                return {"refusal": {"code": "saml_certificate_invalid",
                                    "reason": "a signing certificate is not DER X.509 (openssl refuses it too)"}}
            certs.append({"der_base64": base64.b64encode(der).decode(), "not_before_ms": nb, "not_after_ms": na})
    if (out["sso_url"] or "").startswith("http://"):
        return {"refusal": {"code": "form_param_format_invalid",
                            "reason": "its SingleSignOnService location is plain http; the URL policy requires https"}}
    out["certificates"] = certs
    valid = [i for i, c in enumerate(certs) if c["not_before_ms"] <= NOW_MS <= c["not_after_ms"]]
    pool = valid or list(range(len(certs)))
    out["primary"] = max(pool, key=lambda i: (certs[i]["not_after_ms"], -i)) if pool else None
    if valid:
        out["activation"] = "ok"
    elif all(c["not_after_ms"] < NOW_MS for c in certs):
        out["activation"] = "saml_certificate_expired"
    else:
        out["activation"] = "saml_certificate_not_yet_valid"
    return out


def saml(path):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        root = ET.fromstring(f.read())
    entities = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else list(root.iter(f"{{{MD}}}EntityDescriptor"))
    idps = [e for e in entities if e.find(f"{{{MD}}}IDPSSODescriptor") is not None]
    exp = {"now_ms": NOW_MS}
    if name in SAML_REFUSALS:
        code, reason = SAML_REFUSALS[name]
        exp["refusal"] = {"code": code, "reason": reason}
    elif len(idps) > 1:
        exp["refusal"] = {"code": "saml_metadata_ambiguous_entity",
                          "reason": f"an aggregate of {len(idps)} IdP entities; idp_entity_id chooses"}
        exp["choose"] = read_entity(idps[-1])
    else:
        exp.update(read_entity(idps[0]))
    return exp



OIDC_URLS = {
    "apple.json": "https://appleid.apple.com/.well-known/openid-configuration",
    "google.json": "https://accounts.google.com/.well-known/openid-configuration",
    "google_legacy.json": "https://accounts.google.com/.well-known/openid-configuration",
    "entra-common.json": "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
    "entra-organizations.json": "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
    "entra_v1_test.json": "https://login.microsoftonline.com/d062b2b0-9aca-4ff7-b32a-ba47231a4002/.well-known/openid-configuration",
    "gitlab.json": "https://gitlab.com/.well-known/openid-configuration",
    "slack.json": "https://slack.com/.well-known/openid-configuration",
    "yahoo.json": "https://api.login.yahoo.com/.well-known/openid-configuration",
    "paypal.json": "https://www.paypal.com/.well-known/openid-configuration",
    "twitch.json": "https://id.twitch.tv/oauth2/.well-known/openid-configuration",
    "mojeid.json": "https://mojeid.cz/oidc/.well-known/openid-configuration",
    "pingfederate.json": "https://connect-interop.pinglabs.org:9031/.well-known/openid-configuration",
}
OIDC_REFUSALS = {
    "entra_v1_test.json": ("oidc_discovery_invalid", "jwks_uri is a relative reference (JsonWebKeySet.json), not an https URL"),
}


def oidc(path):
    name = os.path.basename(path)
    with open(path, encoding="utf-8-sig") as f:
        d = json.load(f)
    exp = {"discovery_url": OIDC_URLS[name]}
    if name in OIDC_REFUSALS:
        code, reason = OIDC_REFUSALS[name]
        exp["refusal"] = {"code": code, "reason": reason}
        return exp
    for k in ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        exp[k] = d.get(k)
    return exp


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for kind, fn, pattern in (("saml", saml, "*.xml"), ("oidc", oidc, "*.json")):
        for path in sorted(glob.glob(os.path.join(here, kind, pattern))):
            if path.endswith(".expected.json"):
                continue
            out = os.path.splitext(path)[0] + ".expected.json"
            with open(out, "w") as f:
                json.dump(fn(path), f, indent=2)
                f.write("\n")


main()
