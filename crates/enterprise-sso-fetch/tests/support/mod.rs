//! A tiny HTTP/1.1 server on loopback whose answers the tests script (redirects, huge or
//! endless bodies, silence), a resolver that maps chosen names to chosen addresses, and a
//! CA with a server certificate made with rcgen.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use enterprise_sso_fetch::Resolver;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// Runs `f` for at most 30 seconds: every test is bounded.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test took longer than 30 s")
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete answer.
    Body {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// 200 with `total` bytes in 16 KiB writes, with or without `Content-Length` (without:
    /// the body ends when the connection closes). Stops when a write fails.
    Stream { total: usize, declare_length: bool },
    /// 200 with a `Content-Length` of 1000, then one byte every 200 ms.
    Drip,
    /// Reads the request and never answers.
    Hang,
    /// 200 with a `Content-Length` of `length`, then silence.
    DeclareOnly { length: usize },
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply::Body {
            status: 200,
            headers: vec![],
            body: body.into(),
        }
    }
    pub fn status(status: u16) -> Self {
        Reply::Body {
            status,
            headers: vec![],
            body: b"nope".to_vec(),
        }
    }
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Reply::Body {
            status,
            headers: vec![("Location", location.into())],
            body: vec![],
        }
    }
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A running server: its address, the requests it read (head and body), the body bytes it
/// managed to write, and the connections it accepted.
pub struct Server {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<String>>>,
    pub written: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
    /// The request paths seen, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.split(' ').nth(1).unwrap_or("").to_owned())
            .collect()
    }
}

/// Serves plain HTTP on 127.0.0.1, answering each request with `handler(path)`.
pub async fn serve(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    serve_with(Arc::new(handler), None, false).await
}

/// [`serve`], keeping connections open after complete answers (HTTP/1.1 keep-alive), so
/// a client that pooled connections would reuse them.
pub async fn serve_keepalive(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
    serve_with(Arc::new(handler), None, true).await
}

/// Serves HTTPS on 127.0.0.1 with `acceptor`.
pub async fn serve_tls(
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
    acceptor: tokio_rustls::TlsAcceptor,
) -> Server {
    serve_with(Arc::new(handler), Some(acceptor), false).await
}

async fn serve_with(
    handler: Handler,
    tls: Option<tokio_rustls::TlsAcceptor>,
    keepalive: bool,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let written = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (r, w, a) = (requests.clone(), written.clone(), accepted.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let (handler, r, w, tls) = (handler.clone(), r.clone(), w.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => conn(stream, handler, r, w, keepalive).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            conn(stream, handler, r, w, keepalive).await;
                        }
                    }
                }
            });
        }
    });
    Server {
        addr,
        requests,
        written,
        accepted,
        task,
    }
}

async fn conn<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    requests: Arc<Mutex<Vec<String>>>,
    written: Arc<AtomicUsize>,
    keepalive: bool,
) {
    loop {
        if !one(&mut s, &handler, &requests, &written, keepalive).await || !keepalive {
            return;
        }
    }
}

/// Reads one request and answers it; `true` when the connection may carry another.
async fn one<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    handler: &Handler,
    requests: &Mutex<Vec<String>>,
    written: &AtomicUsize,
    keepalive: bool,
) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return false;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    requests
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&buf).into_owned());
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    match handler(&path) {
        Reply::Body {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{}",
                body.len(),
                if keepalive {
                    ""
                } else {
                    "Connection: close\r\n"
                }
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            if s.write_all(&bytes).await.is_err() {
                return false;
            }
            if keepalive {
                return true;
            }
            let _ = s.shutdown().await;
        }
        Reply::Stream {
            total,
            declare_length,
        } => {
            let head = if declare_length {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned()
            };
            if s.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            let block = vec![b'a'; 16 * 1024];
            let mut sent = 0;
            while sent < total {
                let n = block.len().min(total - sent);
                if s.write_all(&block[..n]).await.is_err() {
                    return false;
                }
                sent += n;
                written.fetch_add(n, Ordering::SeqCst);
            }
            let _ = s.shutdown().await;
        }
        Reply::Drip => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            for _ in 0..1000 {
                if s.write_all(b"a").await.is_err() || s.flush().await.is_err() {
                    return false;
                }
                written.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Reply::DeclareOnly { length } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
            if s.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
    false
}

/// A resolver with fixed answers; each name may answer differently on successive calls
/// (the last answer repeats). Counts its calls.
#[derive(Debug, Default)]
pub struct MapResolver {
    answers: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    pub calls: AtomicUsize,
}

impl MapResolver {
    pub fn new(entries: &[(&str, &[&str])]) -> Arc<Self> {
        let r = Self::default();
        for (name, addrs) in entries {
            r.push(name, addrs);
        }
        Arc::new(r)
    }
    /// Adds the next answer for `name`.
    pub fn push(&self, name: &str, addrs: &[&str]) {
        self.answers
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .push(addrs.iter().map(|a| a.parse().unwrap()).collect());
    }
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Resolver for MapResolver {
    async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let Some(list) = answers.get_mut(host) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "unknown test name"));
        };
        if list.len() > 1 {
            Ok(list.remove(0))
        } else {
            Ok(list[0].clone())
        }
    }
}

/// A private CA and a server certificate it issued for `names`.
pub struct Pki {
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

pub fn pki(names: &[&str]) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "enterprise-sso-fetch test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = CertificateParams::new(names).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();

    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    }
}

/// `unwrap_err` for fetch results that does not print a (possibly megabyte) body.
pub trait Refused {
    fn refused(self) -> enterprise_sso_fetch::FetchError;
}

impl Refused for Result<Vec<u8>, enterprise_sso_fetch::FetchError> {
    #[track_caller]
    fn refused(self) -> enterprise_sso_fetch::FetchError {
        match self {
            Ok(body) => panic!("the fetch succeeded with {} bytes", body.len()),
            Err(e) => e,
        }
    }
}
