//! Connections that can be closed on command: every accepted TCP stream is wrapped in a
//! [`ClosableStream`] that watches the controller's connection generation. When
//! [`FaultController::drop_connections`] bumps it, the next read or write fails, hyper drops the
//! connection and the socket closes; the client sees the connection end and must reconnect.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use super::FaultController;

/// Wraps each stream `incoming` accepts so `faults` can close it.
pub(crate) fn closable(
    incoming: TcpIncoming,
    faults: &FaultController,
) -> impl Stream<Item = io::Result<ClosableStream>> + Send + 'static {
    let faults = faults.clone();
    incoming.map(move |accepted| {
        accepted.map(|stream| ClosableStream::new(stream, faults.connection_generation()))
    })
}

/// A TCP stream whose reads and writes fail once the connection generation changes.
pub(crate) struct ClosableStream {
    stream: TcpStream,
    /// Resolves when the generation changes (or the controller is gone).
    dropped: Pin<Box<dyn Future<Output = ()> + Send>>,
    closed: bool,
}

impl ClosableStream {
    fn new(stream: TcpStream, mut generation: watch::Receiver<u64>) -> Self {
        Self {
            stream,
            dropped: Box::pin(async move {
                // An error means the controller is gone, which also ends the connection.
                let _ = generation.changed().await;
            }),
            closed: false,
        }
    }

    /// Whether the connection has been dropped; otherwise registers `cx` to be woken when it
    /// is, so an idle connection closes at once.
    fn is_dropped(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.closed && self.dropped.as_mut().poll(cx).is_ready() {
            tracing::debug!("momento-lite dropping a connection");
            self.closed = true;
        }
        self.closed
    }
}

fn dropped_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by momento-lite fault injection",
    )
}

impl AsyncRead for ClosableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClosableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(dropped_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Connected for ClosableStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}
