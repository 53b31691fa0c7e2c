//! DescribeUserScramCredentials: which SCRAM mechanisms each user has, with iteration counts,
//! as Kafka's `ScramImage.describe` answers: every user when none is named; a user named
//! twice gets DUPLICATE_RESOURCE once, an unknown one RESOURCE_NOT_FOUND, each with Kafka's
//! message. Salts and keys never leave the credential store.
//!
//! Needs DESCRIBE on the cluster; Kafka's refusal is CLUSTER_AUTHORIZATION_FAILED at the top
//! and in one nameless result per user named, without messages. Asked for every user, Kafka
//! 4.1 never answers the refusal (its error response dereferences the null user list);
//! Runnel answers it with the top-level error alone.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation;
use crate::context::BrokerContext;
use crate::session::Caller;

const DUPLICATE_USER_MESSAGE: &str = "Cannot describe SCRAM credentials for the same user twice in a single request: ";
const UNKNOWN_USER_MESSAGE: &str = "Attempt to describe a user credential that does not exist: ";

pub fn handle(
    ctx: &BrokerContext,
    request: &DescribeUserScramCredentialsRequest,
    caller: &Caller<'_>,
) -> DescribeUserScramCredentialsResponse {
    if !Authz::new(ctx, caller).cluster(AclOperation::Describe) {
        let denied = ResponseError::ClusterAuthorizationFailed.code();
        let results = request
            .users
            .iter()
            .flatten()
            .map(|_| DescribeUserScramCredentialsResult::default().with_error_code(denied).with_error_message(None))
            .collect();
        return DescribeUserScramCredentialsResponse::default()
            .with_error_code(denied)
            .with_error_message(None)
            .with_results(results);
    }
    let known = ctx.scram_credentials.describe();
    // user -> named more than once
    let mut asked: BTreeMap<String, bool> = BTreeMap::new();
    match request.users.as_deref() {
        None | Some([]) => asked.extend(known.keys().map(|user| (user.clone(), false))),
        Some(users) => {
            for user in users {
                asked.entry(user.name.to_string()).and_modify(|twice| *twice = true).or_insert(false);
            }
        }
    }
    let results = asked
        .into_iter()
        .map(|(user, twice)| {
            let result = DescribeUserScramCredentialsResult::default().with_user(StrBytes::from_string(user.clone()));
            let (code, message) = match known.get(&user) {
                _ if twice => (ResponseError::DuplicateResource, DUPLICATE_USER_MESSAGE),
                None => (ResponseError::ResourceNotFound, UNKNOWN_USER_MESSAGE),
                Some(credentials) => {
                    return result.with_credential_infos(
                        credentials
                            .iter()
                            .map(|(kind, iterations)| {
                                CredentialInfo::default().with_mechanism(kind.code()).with_iterations(*iterations)
                            })
                            .collect(),
                    )
                }
            };
            result.with_error_code(code.code()).with_error_message(Some(StrBytes::from_string(format!("{message}{user}"))))
        })
        .collect();
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;

    use super::*;
    use crate::context::testing::context;
    use crate::sasl::{CredentialChange, ScramKind};

    fn named(users: &[&str]) -> DescribeUserScramCredentialsRequest {
        DescribeUserScramCredentialsRequest::default().with_users(Some(
            users.iter().map(|u| UserName::default().with_name(StrBytes::from_string(u.to_string()))).collect(),
        ))
    }

    #[test]
    fn describes_known_users_and_refuses_unknown_and_repeated_ones_as_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let upsert = |user: &str, kind: ScramKind, iterations| CredentialChange::Upsert {
            user: user.into(),
            kind,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: vec![1; kind.output_bytes()],
        };
        ctx.scram_credentials
            .apply(vec![
                upsert("alice", ScramKind::Sha256, 8192),
                upsert("alice", ScramKind::Sha512, 4096),
                upsert("bob", ScramKind::Sha512, 4096),
            ])
            .unwrap();
        let session = crate::handlers::authorize::testing::session(None);
        let caller = Caller { client_id: "test", session: &session };
        let all = handle(&ctx, &DescribeUserScramCredentialsRequest::default(), &caller);
        assert_eq!(all.results.iter().map(|r| r.user.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
        let alice = &all.results[0].credential_infos;
        assert_eq!(alice.iter().map(|c| (c.mechanism, c.iterations)).collect::<Vec<_>>(), [(1, 8192), (2, 4096)]);

        let answer = handle(&ctx, &named(&["carol", "bob", "bob"]), &caller);
        let by_user: BTreeMap<&str, _> = answer.results.iter().map(|r| (r.user.as_str(), r)).collect();
        assert_eq!(by_user.len(), 2);
        assert_eq!(by_user["bob"].error_code, 92);
        assert_eq!(
            by_user["bob"].error_message.as_deref(),
            Some("Cannot describe SCRAM credentials for the same user twice in a single request: bob")
        );
        assert_eq!(by_user["carol"].error_code, 91);
        assert_eq!(
            by_user["carol"].error_message.as_deref(),
            Some("Attempt to describe a user credential that does not exist: carol")
        );
    }
}
