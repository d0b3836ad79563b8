//! A TCP proxy a test can cut, as a network partition between one node and its
//! database would: every connection through it is closed at once, and new ones are
//! held unanswered (a black hole: the client waits until it gives up) or accepted and
//! closed at once (as a TCP balancer with no backend does), until it is restored.

use std::io::copy;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// A proxy on a loopback port to `upstream` (`host:port`).
pub struct CuttableProxy {
    port: u16,
    state: Arc<AtomicU8>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

/// What the proxy does with a new connection.
const FORWARD: u8 = 0;
const HOLD: u8 = 1;
const CLOSE: u8 = 2;

impl CuttableProxy {
    /// Starts forwarding to `upstream`; its accepting thread lives as long as the test
    /// process.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (state, open) = (Arc::new(AtomicU8::new(FORWARD)), Arc::new(Mutex::new(Vec::new())));
        let (accepting_state, accepting_open, upstream) = (state.clone(), open.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                match accepting_state.load(Ordering::SeqCst) {
                    HOLD => {
                        held.push(client);
                        continue;
                    }
                    CLOSE => continue,
                    _ => held.clear(),
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let mut open = accepting_open.lock().unwrap();
                open.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Self { port, state, open }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every connection through it and holds new ones unanswered.
    pub fn cut(&self) {
        self.cut_to(HOLD);
    }

    /// Closes every connection through it and closes new ones as soon as they arrive.
    pub fn cut_closing(&self) {
        self.cut_to(CLOSE);
    }

    fn cut_to(&self, state: u8) {
        self.state.store(state, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.store(FORWARD, Ordering::SeqCst);
    }
}
