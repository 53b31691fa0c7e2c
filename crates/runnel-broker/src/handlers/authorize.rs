//! The authorization questions handlers ask, one short call each: may the caller do this
//! operation on this topic, group, transactional id or the cluster? Every check goes through
//! here (and from here to the pure `acl::Authorizer`), so no handler decides access itself.
//!
//! Without an authorizer every answer is yes and `authorized_operations` reports every
//! operation the resource supports, as Kafka does. A denial of a resource the client asked
//! for by name is logged at debug level with the rule that decided, like Kafka's
//! `kafka.authorizer.logger`.

use crate::acl::authorizer::all_operations;
use crate::acl::{Access, AclOperation, Requester, ResourceType};
use crate::context::BrokerContext;
use crate::session::Caller;

pub use crate::acl::types::CLUSTER_NAME;

/// One request's view of authorization: the caller and one snapshot of the ACLs.
pub struct Authz<'a> {
    access: Access,
    who: Requester<'a>,
}

impl<'a> Authz<'a> {
    pub fn new(ctx: &BrokerContext, caller: &Caller<'a>) -> Authz<'a> {
        Authz { access: ctx.authorization.access(), who: Requester::new(&caller.session.principal, caller.session.peer.ip()) }
    }

    pub fn allows(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        let Access::Acls(authorizer) = &self.access else { return true };
        let allowed = authorizer.authorize(&self.who, operation, resource_type, name);
        if !allowed && tracing::enabled!(tracing::Level::DEBUG) {
            let decision = authorizer.decide(&self.who, operation, resource_type, name);
            tracing::debug!(
                principal = %self.who.principal,
                host = %self.who.host,
                %operation,
                resource = %format_args!("{resource_type}:{name}"),
                ?decision,
                "denied"
            );
        }
        allowed
    }

    pub fn topic(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Topic, name)
    }

    pub fn group(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Group, name)
    }

    pub fn cluster(&self, operation: AclOperation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    pub fn transactional_id(&self, operation: AclOperation, id: &str) -> bool {
        self.allows(operation, ResourceType::TransactionalId, id)
    }

    /// Whether the caller may do `operation` on at least one resource of the type (Kafka's
    /// `authorizeByResourceType`).
    pub fn on_any(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        match &self.access {
            Access::Open => true,
            Access::Acls(authorizer) => authorizer.authorize_by_resource_type(&self.who, operation, resource_type),
        }
    }

    /// Kafka's `authorized_operations` bit field for one resource.
    pub fn operations(&self, resource_type: ResourceType, name: &str) -> i32 {
        match &self.access {
            Access::Open => all_operations(resource_type),
            Access::Acls(authorizer) => authorizer.authorized_operations(&self.who, resource_type, name),
        }
    }

    /// The cluster's `authorized_operations`: 0 without DESCRIBE on the cluster, as Kafka
    /// reports it in Metadata and DescribeCluster.
    pub fn cluster_operations(&self) -> i32 {
        if self.cluster(AclOperation::Describe) {
            self.operations(ResourceType::Cluster, CLUSTER_NAME)
        } else {
            0
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Sessions for handler tests.

    use std::net::SocketAddr;

    use crate::config::SecurityProtocol;
    use crate::session::Session;
    use crate::tls::KafkaPrincipal;

    /// A PLAINTEXT client on loopback, as `principal` (`User:ANONYMOUS` when `None`).
    pub fn session(principal: Option<&str>) -> Session {
        let peer: SocketAddr = ([127, 0, 0, 1], 40_000).into();
        let mut session = Session::anonymous(peer, "PLAINTEXT".into(), SecurityProtocol::Plaintext);
        if let Some(name) = principal {
            session.principal = KafkaPrincipal::user(name);
        }
        session
    }
}

#[cfg(test)]
mod tests;
