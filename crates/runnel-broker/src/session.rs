//! Who is on the other end of a connection, as handlers may see it: the peer address, the
//! listener the client came in on, and its authenticated principal. `connection` builds one
//! per connection after any TLS handshake; handlers read it through [`Caller`] and never see
//! the transport (socket, TLS state, certificates) itself.
//!
//! The principal is what authorization (ACLs) will check; the listener name is what Kafka
//! picks advertised addresses by.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::SecurityProtocol;
use crate::tls::KafkaPrincipal;

/// One connection's identity, fixed once the connection is established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub peer: SocketAddr,
    /// The listener name, upper-cased as in `listeners` (e.g. `PLAINTEXT`, `SSL`, `CLIENT`).
    pub listener: Arc<str>,
    pub security_protocol: SecurityProtocol,
    /// `User:ANONYMOUS` on PLAINTEXT and for TLS clients without a certificate.
    pub principal: KafkaPrincipal,
}

impl Session {
    /// An unauthenticated session, as on a PLAINTEXT listener.
    pub fn anonymous(peer: SocketAddr, listener: Arc<str>, security_protocol: SecurityProtocol) -> Session {
        Session { peer, listener, security_protocol, principal: KafkaPrincipal::anonymous() }
    }
}

/// Who sent a request: the connection's session and the request header's client id.
pub struct Caller<'a> {
    pub client_id: &'a str,
    pub session: &'a Session,
}
