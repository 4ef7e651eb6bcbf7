//! Local servers for the alert tests, all on 127.0.0.1: a small HTTP server
//! that records requests and answers what the test says, and an SMTP server
//! with STARTTLS, implicit TLS and AUTH PLAIN/LOGIN.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// One request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query, e.g. `/send?key=k`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| percent_decode(v))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// What the server answers.
pub enum Reply {
    Json(u16, serde_json::Value),
    Text(u16, String),
    /// Read the request, never answer.
    Hang,
    /// `307 Temporary Redirect` to this URL (method and body are kept).
    Redirect(String),
}

type Handler = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

pub struct HttpServer {
    pub base: String,
    pub reqs: Arc<Mutex<Vec<Req>>>,
}

impl HttpServer {
    pub async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let r = reqs.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (r, h) = (r.clone(), handler.clone());
                tokio::spawn(async move {
                    let _ = serve_http(sock, r, h).await;
                });
            }
        });
        HttpServer { base, reqs }
    }
    pub fn requests(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }
}

async fn serve_http(
    sock: tokio::net::TcpStream,
    reqs: Arc<Mutex<Vec<Req>>>,
    handler: Handler,
) -> std::io::Result<()> {
    let mut rd = BufReader::new(sock);
    let mut line = String::new();
    rd.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if rd.read_line(&mut l).await? == 0 {
            return Ok(());
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    rd.read_exact(&mut body).await?;
    let req = Req {
        method,
        target,
        headers,
        body,
    };
    let reply = handler(&req);
    reqs.lock().unwrap().push(req);
    let mut extra = String::new();
    let (code, ctype, body) = match reply {
        Reply::Json(c, v) => (c, "application/json", v.to_string()),
        Reply::Text(c, t) => (c, "text/plain", t),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(());
        }
        Reply::Redirect(to) => {
            extra = format!("location: {to}\r\n");
            (307, "text/plain", String::new())
        }
    };
    let resp = format!(
        "HTTP/1.1 {code} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut sock = rd.into_inner();
    sock.write_all(resp.as_bytes()).await?;
    sock.shutdown().await
}

// ---------------------------------------------------------------------------
// SMTP
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP that offers STARTTLS, and AUTH only after it.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// One received mail.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub rcpts: Vec<String>,
    pub data: String,
    /// (mechanism, user, password) of a successful AUTH.
    pub auth: Option<(String, String, String)>,
    pub tls: bool,
}

pub struct SmtpServer {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// Every AUTH attempt, successful or not: (mechanism, user, password).
    pub auth_attempts: Arc<Mutex<Vec<(String, String, String)>>>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/smtp")
        .join(name)
}

/// Path of the test CA that signed the server's certificate (IP 127.0.0.1).
pub fn test_ca_file() -> String {
    fixture("ca.pem").display().to_string()
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

struct SmtpCtx {
    user: String,
    pass: String,
    /// AUTH mechanisms offered, e.g. "PLAIN LOGIN" or "LOGIN".
    mechs: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    attempts: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl SmtpServer {
    pub async fn start(mode: SmtpTls, user: &str, pass: &str, mechs: &str) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let ctx = Arc::new(SmtpCtx {
            user: user.into(),
            pass: pass.into(),
            mechs: mechs.into(),
            mails: mails.clone(),
            attempts: attempts.clone(),
        });
        let acc = acceptor();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (ctx, acc) = (ctx.clone(), acc.clone());
                tokio::spawn(async move {
                    let io: Box<dyn Io> = match mode {
                        SmtpTls::Starttls => Box::new(sock),
                        SmtpTls::Implicit => match acc.accept(sock).await {
                            Ok(s) => Box::new(s),
                            Err(_) => return,
                        },
                    };
                    let tls = mode == SmtpTls::Implicit;
                    if let Ok(Some(raw)) = smtp_session(io, tls, true, &ctx).await {
                        if let Ok(s) = acc.accept(raw).await {
                            let _ = smtp_session(Box::new(s), true, false, &ctx).await;
                        }
                    }
                });
            }
        });
        SmtpServer {
            port,
            mails,
            auth_attempts: attempts,
        }
    }
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn b64d(s: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

fn angle(s: &str) -> String {
    let a = s.find('<').map_or(0, |i| i + 1);
    let b = s[a..].find('>').map_or(s.len(), |i| a + i);
    s[a..b].to_string()
}

/// One SMTP session on `io`. Returns `Some(raw stream)` when the client
/// asked for STARTTLS (the caller wraps it and starts a new session).
async fn smtp_session(
    io: Box<dyn Io>,
    tls: bool,
    greet: bool,
    ctx: &SmtpCtx,
) -> std::io::Result<Option<Box<dyn Io>>> {
    let mut rd = BufReader::new(io);
    if greet {
        rd.get_mut()
            .write_all(b"220 test.local ESMTP ready\r\n")
            .await?;
    }
    let mut mail = Mail {
        tls,
        ..Default::default()
    };
    let mut authed: Option<(String, String, String)> = None;
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let w = rd.get_mut();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut r = String::from("250-test.local\r\n250-8BITMIME\r\n");
            if !tls {
                r.push_str("250-STARTTLS\r\n");
            } else {
                r.push_str(&format!("250-AUTH {}\r\n", ctx.mechs));
            }
            r.push_str("250 OK\r\n");
            w.write_all(r.as_bytes()).await?;
        } else if upper == "STARTTLS" && !tls {
            w.write_all(b"220 go ahead\r\n").await?;
            return Ok(Some(rd.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd[10..].trim().to_string();
            let arg = if arg.is_empty() {
                w.write_all(b"334 \r\n").await?;
                let mut l = String::new();
                rd.read_line(&mut l).await?;
                l
            } else {
                arg
            };
            let dec = b64d(&arg);
            let mut p = dec.split('\0');
            let (_, u, pw) = (p.next(), p.next().unwrap_or(""), p.next().unwrap_or(""));
            authed = check_auth(ctx, "PLAIN", u, pw);
            reply_auth(rd.get_mut(), authed.is_some()).await?;
        } else if upper.starts_with("AUTH LOGIN") {
            w.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let mut u = String::new();
            rd.read_line(&mut u).await?;
            rd.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let mut pw = String::new();
            rd.read_line(&mut pw).await?;
            authed = check_auth(ctx, "LOGIN", &b64d(&u), &b64d(&pw));
            reply_auth(rd.get_mut(), authed.is_some()).await?;
        } else if upper.starts_with("MAIL FROM") {
            if authed.is_none() {
                w.write_all(b"530 5.7.0 Authentication required\r\n")
                    .await?;
                continue;
            }
            mail.from = angle(&cmd);
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            mail.rcpts.push(angle(&cmd));
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if rd.read_line(&mut l).await? == 0 {
                    return Ok(None);
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                data.push_str(l);
            }
            mail.data = data;
            mail.auth = authed.clone();
            ctx.mails.lock().unwrap().push(mail.clone());
            rd.get_mut().write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(None);
        } else {
            w.write_all(b"502 unknown command\r\n").await?;
        }
    }
}

fn check_auth(ctx: &SmtpCtx, mech: &str, u: &str, pw: &str) -> Option<(String, String, String)> {
    let t = (mech.to_string(), u.to_string(), pw.to_string());
    ctx.attempts.lock().unwrap().push(t.clone());
    (u == ctx.user && pw == ctx.pass).then_some(t)
}

async fn reply_auth(w: &mut Box<dyn Io>, ok: bool) -> std::io::Result<()> {
    if ok {
        w.write_all(b"235 2.7.0 Authentication successful\r\n")
            .await
    } else {
        w.write_all(b"535 5.7.8 Authentication credentials invalid\r\n")
            .await
    }
}

/// The decoded text of every MIME part of a mail, with its content type.
pub fn mime_parts(data: &str) -> Vec<(String, String)> {
    let boundary = data
        .split("boundary=")
        .nth(1)
        .map(|s| {
            s.trim_start_matches('"')
                .split(['"', '\r', '\n', ';'])
                .next()
                .unwrap()
                .to_string()
        })
        .expect("multipart mail");
    let mut out = Vec::new();
    for part in data.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (head, body) = part
            .split_once("\r\n\r\n")
            .or_else(|| part.split_once("\n\n"))
            .unwrap_or((part, ""));
        let lower = head.to_ascii_lowercase();
        let ctype = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-type:"))
            .unwrap_or("")
            .trim()
            .to_string();
        let cte = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-transfer-encoding:"))
            .unwrap_or("7bit")
            .trim()
            .to_string();
        let text = match cte.as_str() {
            "base64" => b64d(&body.split_whitespace().collect::<String>()),
            "quoted-printable" => qp_decode(body),
            _ => body.to_string(),
        };
        out.push((ctype, text));
    }
    out
}

fn qp_decode(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
pub struct LogBuf(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
