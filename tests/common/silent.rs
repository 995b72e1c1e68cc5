//! A DNS server that answers nothing: a UDP socket on loopback that
//! stands for every server of a run, to show what kmsdns sends before it
//! gives up, or that it sends nothing at all.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// The silent server.
pub struct Silent {
    socket: UdpSocket,
}

impl Silent {
    pub fn bind() -> Silent {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("UDP socket");
        Silent { socket }
    }

    pub fn address(&self) -> SocketAddr {
        self.socket.local_addr().expect("address")
    }

    /// The first query not yet taken, if one came (taking it).
    pub fn asked(&self) -> io::Result<(usize, SocketAddr)> {
        self.socket.set_nonblocking(true)?;
        let asked = self.socket.recv_from(&mut [0; 512]);
        self.socket.set_nonblocking(false)?;
        asked
    }

    /// Fails the test (saying `what`) when a query came.
    pub fn assert_unasked(&self, what: &dyn std::fmt::Display) {
        let asked = self.asked();
        assert!(
            asked
                .as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock),
            "a query was sent: {asked:?}\n{what}"
        );
    }

    /// Takes every query that came, so that the next one waited for is a
    /// later run's.
    pub fn forget(&self) {
        while self.asked().is_ok() {}
    }

    /// Waits for the next query, up to `timeout`.
    pub fn wait_for_query(&self, timeout: Duration) {
        self.socket
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        self.socket.recv_from(&mut [0; 512]).expect("a query");
    }
}
