//! At most so many requests in flight to any one server, however many
//! tasks ask it at once.
//!
//! `replication` reads the zones of a window `--concurrency` at a time,
//! and each zone's RRsets `--concurrency` at a time at each server: bound
//! per zone only, zones with the same servers (an estate's usually have)
//! had up to `--concurrency`² queries in flight to one server, more than
//! its UDP receive buffer holds (BIND's 208 KiB default, some 250 queries
//! on loopback), so it dropped the rest. One gate per server address,
//! shared by every zone, bounds what each server gets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The requests in flight to each server, at most `limit` at a time. It
/// keeps a gate for every server address asked: one is made per window
/// of domains and dropped with it.
#[derive(Debug)]
pub struct PerServer {
    limit: usize,
    gates: Mutex<HashMap<SocketAddr, Arc<Semaphore>>>,
}

/// A request's place among those in flight to its server, given back
/// when dropped.
pub type Turn = Option<OwnedSemaphorePermit>;

impl PerServer {
    /// At most `limit` (at least one) requests in flight to each server.
    pub fn new(limit: usize) -> Self {
        PerServer {
            limit: limit.max(1),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// How many requests may be in flight to one server.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Waits until fewer than [`PerServer::limit`] requests are in flight
    /// to `server`; this one is until the turn is dropped. Turns are given
    /// in the order they were asked for.
    pub async fn turn(&self, server: SocketAddr) -> Turn {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
            let gate = gates
                .entry(server)
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)));
            Arc::clone(gate)
        };
        // `None` only for a closed gate, and none is ever closed.
        gate.acquire_owned().await.ok()
    }

    /// A turn at each of `servers`, for work that asks each of them one
    /// request at a time. They are taken in address order, so that two
    /// such works never each hold a turn the other waits for.
    pub async fn turns(&self, servers: impl IntoIterator<Item = SocketAddr>) -> Vec<Turn> {
        let mut servers: Vec<SocketAddr> = servers.into_iter().collect();
        servers.sort_unstable();
        servers.dedup();
        let mut turns = Vec::with_capacity(servers.len());
        for server in servers {
            turns.push(self.turn(server).await);
        }
        turns
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::future::join_all;

    use super::*;
    use crate::concurrency::in_order;

    /// In flight to one server now, and the most ever.
    #[derive(Default)]
    struct Count {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    /// One zone's 20 RRsets asked of `server`, 4 at a time, as
    /// `replication` asks them.
    async fn zone_at(gates: &PerServer, server: SocketAddr, count: &Count) {
        in_order(0..20, 4, |_| async {
            let _turn = gates.turn(server).await;
            let now = count.now.fetch_add(1, Ordering::SeqCst) + 1;
            count.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            count.now.fetch_sub(1, Ordering::SeqCst);
        })
        .collect()
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn each_server_gets_at_most_the_limit_whoever_asks() {
        // 8 zones at once, each at both servers: 32 in flight to each
        // server without the gate.
        let servers = ["192.0.2.1:53", "192.0.2.2:53"].map(|a| a.parse().unwrap());
        let gates = PerServer::new(4);
        let counts = [Count::default(), Count::default()];
        let zone = || join_all((0..2).map(|s| zone_at(&gates, servers[s], &counts[s])));
        join_all((0..8).map(|_| zone())).await;
        for count in &counts {
            assert_eq!(count.most.load(Ordering::SeqCst), 4);
        }
    }
}
