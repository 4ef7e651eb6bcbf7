//! A plain SMTP server (127.0.0.1, no TLS) that misbehaves on cue, for the
//! delivery tests: a greeting that never comes, a refused recipient, an
//! AUTH refusal that echoes what it got, a slow or failing answer to the
//! message. Every accepted message is kept, with the recipients the server
//! accepted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::servers::Mail;

/// How the server misbehaves. The default is a well-behaved server that
/// accepts any AUTH.
#[derive(Clone, Default)]
pub struct SmtpScript {
    /// Never send the greeting.
    pub silent: bool,
    /// Reply to `RCPT TO` of these addresses, e.g. `550 5.1.1 no such user`.
    pub rcpt_replies: HashMap<String, String>,
    /// Reply to AUTH; `{arg}` is replaced by the client's AUTH argument (the
    /// base64 of the credentials), as a chatty server might echo it.
    pub auth_reply: Option<String>,
    /// Wait this long after the message before answering it.
    pub data_delay: Option<Duration>,
    /// Answer the message with this instead of `250`.
    pub data_reply: Option<String>,
}

pub struct FaultySmtp {
    pub port: u16,
    /// Messages the server received in full (before any delay or refusal).
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// Connections accepted.
    pub sessions: Arc<AtomicUsize>,
    /// The lines the client sent, every session.
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl FaultySmtp {
    pub async fn start(script: SmtpScript) -> FaultySmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(AtomicUsize::new(0));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (m, s, l) = (mails.clone(), sessions.clone(), lines.clone());
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                s.fetch_add(1, Ordering::SeqCst);
                let (m, l, script) = (m.clone(), l.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = session(sock, &script, &m, &l).await;
                });
            }
        });
        FaultySmtp {
            port,
            mails,
            sessions,
            lines,
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }
}

fn angle(s: &str) -> String {
    let a = s.find('<').map_or(0, |i| i + 1);
    let b = s[a..].find('>').map_or(s.len(), |i| a + i);
    s[a..b].to_string()
}

async fn session(
    sock: tokio::net::TcpStream,
    script: &SmtpScript,
    mails: &Mutex<Vec<Mail>>,
    lines: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut rd = BufReader::new(sock);
    if script.silent {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    rd.get_mut()
        .write_all(b"220 faulty.local ESMTP\r\n")
        .await?;
    let mut mail = Mail::default();
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        lines.lock().unwrap().push(cmd.clone());
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-faulty.local\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN".into()
        } else if upper.starts_with("AUTH") {
            let arg = cmd.split_whitespace().nth(2).unwrap_or("").to_string();
            match &script.auth_reply {
                Some(r) => r.replace("{arg}", &arg),
                None => "235 2.7.0 ok".into(),
            }
        } else if upper.starts_with("MAIL FROM") {
            mail = Mail {
                from: angle(&cmd),
                ..Default::default()
            };
            "250 OK".into()
        } else if upper.starts_with("RCPT TO") {
            let to = angle(&cmd);
            match script.rcpt_replies.get(&to) {
                Some(r) => r.clone(),
                None => {
                    mail.rcpts.push(to);
                    "250 OK".into()
                }
            }
        } else if upper == "DATA" {
            rd.get_mut().write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if rd.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            mail.data = data;
            mails.lock().unwrap().push(mail.clone());
            if let Some(d) = script.data_delay {
                tokio::time::sleep(d).await;
            }
            script
                .data_reply
                .clone()
                .unwrap_or_else(|| "250 OK queued".into())
        } else if upper == "QUIT" {
            rd.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            "250 OK".into()
        };
        rd.get_mut()
            .write_all(format!("{reply}\r\n").as_bytes())
            .await?;
    }
}
