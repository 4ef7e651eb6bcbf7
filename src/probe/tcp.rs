//! TCP connect probes: the port accepts a connection within the timeout.

use std::time::{Duration, Instant};

use super::{Attempt, FailureClass};

/// One connect attempt to `addr` ("host:port"), bounded by `timeout`
/// including name resolution.
pub async fn check(addr: &str, timeout: Duration) -> Attempt {
    let start = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_stream)) => Attempt::success(start.elapsed(), None),
        Ok(Err(e)) => {
            use std::io::ErrorKind as K;
            let class = match e.kind() {
                K::ConnectionRefused => FailureClass::ConnectionRefused,
                K::ConnectionReset | K::ConnectionAborted => FailureClass::ConnectionReset,
                K::TimedOut => FailureClass::Timeout,
                _ if is_resolve_error(&e) => FailureClass::Dns,
                _ => FailureClass::Other,
            };
            Attempt::failure(start.elapsed(), None, class, format!("connect {addr}: {e}"))
        }
        Err(_) => Attempt::failure(
            start.elapsed(),
            None,
            FailureClass::Timeout,
            format!("connect {addr}: no answer within {}ms", timeout.as_millis()),
        ),
    }
}

fn is_resolve_error(e: &std::io::Error) -> bool {
    let s = e.to_string().to_ascii_lowercase();
    s.contains("lookup")
        || s.contains("name or service")
        || s.contains("resolve")
        || s.contains("nodename")
}
