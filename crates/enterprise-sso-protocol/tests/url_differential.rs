//! The URL policy against independent parsers: wherever the policy accepts a URL, `http`'s
//! `Uri` (hyper's parser) and, when `python3` is on the machine, Python's
//! `urllib.parse.urlsplit` must see the same host in what was given and in what is stored.
//! The table also pins which hostile URLs are refused.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use enterprise_sso_protocol::limits::Policy;
use enterprise_sso_protocol::url_policy::{canonical_url, check_fetch_url_kind};

/// (URL, accepted under the default policy).
const TABLE: &[(&str, bool)] = &[
    ("https://idp.example.com/md", true),
    ("https://IDP.Example.COM", true),
    ("https://idp.example.com./x", true),
    ("https://idp.example.com:8443/x?y=1#z", true),
    ("https://good.com#@evil.com/", true),
    ("https://good.com?@evil.com/", true),
    ("https://8.8.8.8/md", true),
    ("https://[2606:4700:4700::1111]/md", true),
    ("https://[2001:db8::1]/md", false),
    ("https://224.0.0.1/md", false),
    ("https://[ff02::1]/md", false),
    ("https://xn--bcher-kva.de/md", true),
    // Parser differentials.
    ("https://good.com\\@127.0.0.1/", false),
    ("https://good.com\\@evil.com/", false),
    ("https:/\\/evil.com/", false),
    ("https:\\\\evil.com/", false),
    ("https:evil.com/", false),
    ("https:///evil.com/", false),
    ("https://goo\tgle.com/", false),
    ("https://evil.com\n.good.com/", false),
    ("https://evil.com\r\n/", false),
    ("https:// evil.com/", false),
    ("https://evil.com%2f@good.com/", false),
    ("https://ev%69l.com/", false),
    ("https://localhost%2e/", false),
    ("https://b\u{fc}cher.de/", false),
    ("https://evil.com\u{3002}good.com/", false),
    ("https://evil.com:443@good.com/", false),
    ("https://user@good.com/", false),
    ("https://good.com:80:81/", false),
    // Loopback and internal addresses in every spelling.
    ("https://localhost/", false),
    ("https://localhost./", false),
    ("https://LOCALHOST/", false),
    ("https://a.localhost/", false),
    ("https://127.0.0.1/", false),
    ("https://0x7f.1/", false),
    ("https://2130706433/", false),
    ("https://0177.0.0.1/", false),
    ("https://[::1]/", false),
    ("https://[::127.0.0.1]/", false),
    ("https://[::ffff:127.0.0.1]/", false),
    ("https://[::ffff:0:7f00:1]/", false),
    ("https://[64:ff9b::a9fe:a9fe]/", false),
    ("https://[64:ff9b:1::a00:1]/", false),
    ("https://[2002:a9fe:a9fe::]/", false),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", false),
    ("https://169.254.169.254/latest/meta-data", false),
    ("https://[fe80::1]/", false),
    ("https://[fd00::1]/", false),
    ("https://[fe80::1%25eth0]/", false),
    ("https://10.0.0.1/", false),
    ("https://0.0.0.0/", false),
];

fn strip_brackets(h: &str) -> String {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn our_host(url: &str) -> String {
    strip_brackets(url::Url::parse(url).unwrap().host_str().unwrap())
}

fn http_host(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    uri.host().map(strip_brackets)
}

#[test]
fn the_policy_refuses_what_parsers_disagree_on() {
    let policy = Policy::default();
    let mut wrong = Vec::new();
    for (url, want) in TABLE {
        let got = check_fetch_url_kind(url, &policy).is_ok();
        if got != *want {
            wrong.push(format!("{url:?}: accepted={got}, expected {want}"));
        }
        if !got {
            continue;
        }
        let stored = canonical_url(url).unwrap();
        let ours = our_host(&stored);
        // The stored form parses to the same host everywhere.
        assert_eq!(
            http_host(&stored).as_deref(),
            Some(ours.as_str()),
            "{url:?}"
        );
        // What was given: another parser may refuse it, but never see another host.
        if let Some(theirs) = http_host(url) {
            assert_eq!(
                theirs.trim_end_matches('.'),
                ours.trim_end_matches('.'),
                "{url:?}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn python_urlsplit_sees_the_same_host() {
    let accepted: Vec<&str> = TABLE
        .iter()
        .filter(|(u, _)| check_fetch_url_kind(u, &Policy::default()).is_ok())
        .map(|(u, _)| *u)
        .collect();
    let script = "import sys, urllib.parse\n\
        for line in sys.stdin.read().split('\\n'):\n\
        \x20   print(urllib.parse.urlsplit(line).hostname or '')\n";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("python3 not found: the Python differential was skipped");
        return;
    };
    let stored: Vec<String> = accepted.iter().map(|u| canonical_url(u).unwrap()).collect();
    let input = accepted
        .iter()
        .copied()
        .chain(stored.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hosts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let given = accepted.iter().chain(accepted.iter());
    for ((url, theirs), ours) in given.zip(&hosts).zip(
        accepted
            .iter()
            .chain(accepted.iter())
            .map(|u| our_host(&canonical_url(u).unwrap())),
    ) {
        assert_eq!(
            theirs.trim_end_matches('.'),
            ours.trim_end_matches('.'),
            "python sees another host in {url:?}"
        );
    }
    assert_eq!(hosts.len(), 2 * accepted.len());
}
