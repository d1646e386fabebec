//! A TCP proxy in front of PostgreSQL that counts what clients send
//! (queries: `Execute` and simple `Query` messages of the wire protocol;
//! round trips: `Sync` and `Query`) and can cut every connection, to play
//! an unreachable database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The running proxy (on a runtime of its own, so any test can use it).
pub struct PgProxy {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    open: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    _runtime: tokio::runtime::Runtime,
}

const SSL_REQUEST: u32 = 80_877_103;

/// What the clients sent so far.
#[derive(Debug, Default)]
pub struct Counts {
    /// Statements executed (`Execute` + `Query`).
    pub queries: AtomicU64,
    /// Times a client waited for the server (`Sync` + `Query`).
    pub round_trips: AtomicU64,
}

impl Counts {
    fn saw(&self, kind: u8) {
        if kind == b'E' || kind == b'Q' {
            self.queries.fetch_add(1, Ordering::SeqCst);
        }
        if kind == b'S' || kind == b'Q' {
            self.round_trips.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl PgProxy {
    /// Proxies `upstream` (`HOST:PORT`) on a free loopback port.
    pub fn start(upstream: String) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counts = Arc::new(Counts::default());
        let open = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = watch::channel(0);
        let (count, gate) = (counts.clone(), open.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue; // dropped: the database is "down"
                }
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let (count, mut cuts) = (count.clone(), cuts.clone());
                // only a cut after this connection began ends it
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay(client, server, count) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { addr, counts, open, cut, _runtime: runtime }
    }

    /// `postgres://` URL of the proxied database named in `url`.
    pub fn url(&self, url: &str) -> String {
        let (scheme_user, rest) = url.split_once('@').expect("postgres://USER@HOST:PORT/DB");
        let db = rest.split_once('/').map_or("", |(_, db)| db);
        // plain TCP: the proxy reads the protocol
        let sep = if db.contains('?') { '&' } else { '?' };
        format!("{scheme_user}@{}/{db}{sep}sslmode=disable", self.addr)
    }

    /// (queries, round trips) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.counts.queries.load(Ordering::SeqCst), self.counts.round_trips.load(Ordering::SeqCst))
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn relay(client: TcpStream, server: TcpStream, count: Arc<Counts>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    let upstream = async move {
        // Untyped messages first: SSLRequest (answered by one byte) and the startup message.
        loop {
            let len = client_rx.read_u32().await?;
            let mut body = vec![0; (len as usize).saturating_sub(4)];
            client_rx.read_exact(&mut body).await?;
            server_tx.write_u32(len).await?;
            server_tx.write_all(&body).await?;
            if !(len == 8 && body[..4] == SSL_REQUEST.to_be_bytes()) {
                break;
            }
        }
        loop {
            let kind = client_rx.read_u8().await?;
            let len = client_rx.read_u32().await?;
            let mut body = vec![0; (len as usize).saturating_sub(4)];
            client_rx.read_exact(&mut body).await?;
            count.saw(kind);
            server_tx.write_u8(kind).await?;
            server_tx.write_u32(len).await?;
            server_tx.write_all(&body).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    let downstream = tokio::io::copy(&mut server_rx, &mut client_tx);
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
