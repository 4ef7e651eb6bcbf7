//! The plain TCP stream a probe's HTTP exchange runs on, without the
//! `shutdown(2)` hyper asks for when it closes the connection.
//!
//! A probe drops its connection right after the answer: `close(2)` sends
//! the FIN anyway, so the extra syscall per attempt (one in ten of a
//! plain probe's syscalls) buys nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// `TcpStream` whose `poll_shutdown` does nothing; the stream closes when
/// dropped.
pub struct NoShutdown(pub TcpStream);

impl AsyncRead for NoShutdown {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for NoShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes go through; `shutdown` sends no FIN (the peer sees EOF only
    /// when the stream is dropped).
    #[tokio::test]
    async fn writes_pass_and_only_the_drop_closes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut s = NoShutdown(TcpStream::connect(addr).await.unwrap());
        let (mut peer, _) = l.accept().await.unwrap();
        s.write_all(b"ping").await.unwrap();
        s.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        let n = peer.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        let more =
            tokio::time::timeout(std::time::Duration::from_millis(100), peer.read(&mut buf)).await;
        assert!(more.is_err(), "no EOF after shutdown: {more:?}");
        drop(s);
        let n = tokio::time::timeout(std::time::Duration::from_secs(2), peer.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0, "EOF once dropped");
    }
}
