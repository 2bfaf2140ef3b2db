//! Passive data connections: a port opened for one transfer (PASV or EPSV), taken only by
//! the control connection's own peer (another host connecting first is turned away and the
//! port keeps waiting for the right one), and wrapped in TLS when the session asked for
//! `PROT P` (which a site requiring TLS insists on before any transfer).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};

/// How long a client has to open the data connection it asked for.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// A byte stream, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A port waiting for its data connection.
pub struct Passive {
    listener: TcpListener,
    pub port: u16,
}

/// Opens a port in `low..=high` on `ip` (the control connection's local address).
pub fn open(ip: IpAddr, low: u16, high: u16) -> std::io::Result<Passive> {
    let span = u32::from(high - low) + 1;
    for _ in 0..32 {
        let port = low + (rand::random::<u32>() % span) as u16;
        let socket = match ip {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        if socket.bind(SocketAddr::new(ip, port)).is_ok() {
            let listener = socket.listen(4)?;
            return Ok(Passive { listener, port });
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free passive port (scan.ftp_passive_ports)",
    ))
}

/// Why no data connection came.
#[derive(Debug)]
pub enum NoData {
    /// Nobody connected in time (only strangers did: their addresses).
    Timeout(Vec<IpAddr>),
    /// The connection or its TLS handshake failed.
    Failed(String),
}

impl Passive {
    /// Waits for the data connection from `peer`, then its TLS handshake when `tls` is given.
    /// Connections from any other address are closed at once and reported.
    pub async fn accept(
        self,
        peer: IpAddr,
        tls: Option<&tokio_rustls::TlsAcceptor>,
    ) -> Result<(Pin<Box<dyn Stream>>, Vec<IpAddr>), NoData> {
        let deadline = Instant::now() + ACCEPT_TIMEOUT;
        let mut strangers = Vec::new();
        let stream = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.listener.accept()).await {
                Ok(Ok((s, from))) if from.ip().to_canonical() == peer.to_canonical() => break s,
                Ok(Ok((s, from))) => {
                    tracing::warn!(from = %from.ip(), expected = %peer, "FTP data connection from another address refused");
                    strangers.push(from.ip());
                    drop(s);
                }
                Ok(Err(e)) => return Err(NoData::Failed(e.to_string())),
                Err(_) => return Err(NoData::Timeout(strangers)),
            }
        };
        let _ = stream.set_nodelay(true);
        match tls {
            None => Ok((Box::pin(stream), strangers)),
            Some(acceptor) => {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => Ok((Box::pin(s), strangers)),
                    Ok(Err(e)) => Err(NoData::Failed(format!("TLS: {e}"))),
                    Err(_) => Err(NoData::Failed("the TLS handshake timed out".into())),
                }
            }
        }
    }
}
