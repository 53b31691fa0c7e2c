//! AlterUserScramCredentials: create, replace and delete SCRAM credentials with the
//! validation, error codes and messages of Kafka's `ScramControlManager.alterCredentials`:
//! a user named twice in one request (deletions and upsertions together) gets
//! DUPLICATE_RESOURCE, an empty name or an iteration count outside 4096..=16384
//! UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM, deleting a
//! credential that does not exist RESOURCE_NOT_FOUND. The valid changes are applied together
//! (persisted, then published); results list deletions, then upsertions, then errors, as
//! Kafka does.
//!
//! An upsert carries a salt and a salted password, never the password; the handler passes
//! them on and the credential store derives the stored and server keys, keeping nothing else.
//!
//! Needs ALTER on the cluster; Kafka's refusal is CLUSTER_AUTHORIZATION_FAILED for each user
//! named, in name order.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::{ScramCredentialDeletion, ScramCredentialUpsertion};
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse};
use kafka_protocol::protocol::StrBytes;
use runnel_protocol::kafka_protocol;

use super::authorize::Authz;
use crate::acl::AclOperation;
use crate::context::BrokerContext;
use crate::session::Caller;
use crate::sasl::{CredentialChange, ScramKind, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN};

const DUPLICATE_MESSAGE: &str = "A user credential cannot be altered twice in the same request";

type Refusal = (ResponseError, String);

fn refusal(error: ResponseError, message: &str) -> Refusal {
    (error, message.to_string())
}

/// Kafka's `validateScramUsernameAndMechanism`.
fn user_and_mechanism(name: &str, mechanism: i8) -> Result<ScramKind, Refusal> {
    if name.is_empty() {
        return Err(refusal(ResponseError::UnacceptableCredential, "Username must not be empty"));
    }
    ScramKind::from_code(mechanism).ok_or_else(|| refusal(ResponseError::UnsupportedSaslMechanism, "Unknown SCRAM mechanism"))
}

fn deletion(ctx: &BrokerContext, deletion: &ScramCredentialDeletion) -> Result<CredentialChange, Refusal> {
    let kind = user_and_mechanism(&deletion.name, deletion.mechanism)?;
    if !ctx.scram_credentials.contains(&deletion.name, kind) {
        return Err(refusal(ResponseError::ResourceNotFound, "Attempt to delete a user credential that does not exist"));
    }
    Ok(CredentialChange::Delete { user: deletion.name.to_string(), kind })
}

fn upsertion(upsertion: &ScramCredentialUpsertion) -> Result<CredentialChange, Refusal> {
    let kind = user_and_mechanism(&upsertion.name, upsertion.mechanism)?;
    if upsertion.iterations < SCRAM_ITERATIONS_MIN {
        return Err(refusal(ResponseError::UnacceptableCredential, "Too few iterations"));
    }
    if upsertion.iterations > SCRAM_ITERATIONS_MAX {
        return Err(refusal(ResponseError::UnacceptableCredential, "Too many iterations"));
    }
    Ok(CredentialChange::Upsert {
        user: upsertion.name.to_string(),
        kind,
        iterations: upsertion.iterations,
        salt: upsertion.salt.to_vec(),
        salted_password: upsertion.salted_password.to_vec(),
    })
}

fn result(user: &str, outcome: Option<&Refusal>) -> AlterUserScramCredentialsResult {
    let result = AlterUserScramCredentialsResult::default().with_user(StrBytes::from_string(user.to_string()));
    match outcome {
        None => result.with_error_message(None),
        Some((error, message)) => {
            result.with_error_code(error.code()).with_error_message(Some(StrBytes::from_string(message.clone())))
        }
    }
}

pub fn handle(
    ctx: &BrokerContext,
    request: &AlterUserScramCredentialsRequest,
    caller: &Caller<'_>,
) -> AlterUserScramCredentialsResponse {
    if !Authz::new(ctx, caller).cluster(AclOperation::Alter) {
        let named = request.deletions.iter().map(|d| d.name.as_str()).chain(request.upsertions.iter().map(|u| u.name.as_str()));
        let users: std::collections::BTreeSet<&str> = named.collect();
        let denied = refusal(ResponseError::ClusterAuthorizationFailed, "Cluster authorization failed.");
        let results = users.into_iter().map(|user| result(user, Some(&denied))).collect();
        return AlterUserScramCredentialsResponse::default().with_results(results);
    }
    // Insertion-ordered by first appearance, as the response lists them.
    let mut deletions: Vec<(String, CredentialChange)> = Vec::new();
    let mut upserts: Vec<(String, CredentialChange)> = Vec::new();
    let mut errors: BTreeMap<String, Refusal> = BTreeMap::new();
    let mut error_order: Vec<String> = Vec::new();
    let mut refuse = |errors: &mut BTreeMap<String, Refusal>, user: &str, why: Refusal| {
        error_order.push(user.to_string());
        errors.insert(user.to_string(), why);
    };
    for wanted in &request.deletions {
        let user = wanted.name.as_str();
        if errors.contains_key(user) {
            continue;
        }
        if let Some(index) = deletions.iter().position(|(name, _)| name == user) {
            deletions.remove(index);
            refuse(&mut errors, user, refusal(ResponseError::DuplicateResource, DUPLICATE_MESSAGE));
            continue;
        }
        match deletion(ctx, wanted) {
            Ok(change) => deletions.push((user.to_string(), change)),
            Err(why) => refuse(&mut errors, user, why),
        }
    }
    for wanted in &request.upsertions {
        let user = wanted.name.as_str();
        if errors.contains_key(user) {
            continue;
        }
        let earlier_deletion = deletions.iter().position(|(name, _)| name == user);
        let earlier_upsert = upserts.iter().position(|(name, _)| name == user);
        if earlier_deletion.is_some() || earlier_upsert.is_some() {
            if let Some(index) = earlier_deletion {
                deletions.remove(index);
            }
            if let Some(index) = earlier_upsert {
                upserts.remove(index);
            }
            refuse(&mut errors, user, refusal(ResponseError::DuplicateResource, DUPLICATE_MESSAGE));
            continue;
        }
        match upsertion(wanted) {
            Ok(change) => upserts.push((user.to_string(), change)),
            Err(why) => refuse(&mut errors, user, why),
        }
    }
    let applied: Vec<String> = deletions.iter().chain(&upserts).map(|(user, _)| user.clone()).collect();
    let changes: Vec<CredentialChange> = deletions.into_iter().chain(upserts).map(|(_, change)| change).collect();
    let stored = if changes.is_empty() { Ok(()) } else { ctx.scram_credentials.apply(changes) };
    let mut results = Vec::new();
    match stored {
        Ok(()) => results.extend(applied.iter().map(|user| result(user, None))),
        Err(error) => {
            tracing::error!(%error, "cannot store SCRAM credentials");
            let failed = refusal(ResponseError::UnknownServerError, "The SCRAM credentials could not be stored");
            results.extend(applied.iter().map(|user| result(user, Some(&failed))));
        }
    }
    let mut listed = std::collections::BTreeSet::new();
    for user in error_order {
        if listed.insert(user.clone()) {
            results.push(result(&user, errors.get(&user)));
        }
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::context::testing::context;

    static SESSION: std::sync::LazyLock<crate::session::Session> =
        std::sync::LazyLock::new(|| crate::handlers::authorize::testing::session(None));

    fn caller() -> Caller<'static> {
        Caller { client_id: "test", session: &SESSION }
    }

    fn upsert(user: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
        ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_string(user.into()))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(Bytes::from_static(b"salt"))
            .with_salted_password(Bytes::from(vec![3u8; 32]))
    }

    fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
        ScramCredentialDeletion::default().with_name(StrBytes::from_string(user.into())).with_mechanism(mechanism)
    }

    fn outcomes(response: &AlterUserScramCredentialsResponse) -> Vec<(String, i16, Option<String>)> {
        response
            .results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code, r.error_message.as_ref().map(|m| m.to_string())))
            .collect()
    }

    #[test]
    fn upserts_then_deletes_with_kafkas_validation() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let request = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
            upsert("alice", 1, 4096),
            upsert("bob", 2, 16384),
            upsert("few", 1, 4095),
            upsert("many", 1, 16385),
            upsert("", 1, 8192),
            upsert("odd", 0, 8192),
            upsert("twice", 1, 8192),
            upsert("twice", 2, 8192),
        ]);
        let got = outcomes(&handle(&ctx, &request, &caller()));
        let expected = [
            ("alice", 0, None),
            ("bob", 0, None),
            ("few", 93, Some("Too few iterations")),
            ("many", 93, Some("Too many iterations")),
            ("", 93, Some("Username must not be empty")),
            ("odd", 33, Some("Unknown SCRAM mechanism")),
            ("twice", 92, Some(DUPLICATE_MESSAGE)),
        ];
        let expected: Vec<_> = expected.iter().map(|(u, c, m)| (u.to_string(), *c, m.map(String::from))).collect();
        assert_eq!(got, expected);
        assert!(ctx.scram_credentials.contains("alice", ScramKind::Sha256));
        assert!(ctx.scram_credentials.contains("bob", ScramKind::Sha512));
        assert!(!ctx.scram_credentials.contains("twice", ScramKind::Sha256));

        let request = AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![delete("alice", 1), delete("alice", 2), delete("carol", 1), delete("bob", 2)])
            .with_upsertions(vec![upsert("bob", 1, 8192)]);
        let got = outcomes(&handle(&ctx, &request, &caller()));
        assert_eq!(got[0], ("alice".to_string(), 92, Some(DUPLICATE_MESSAGE.to_string())));
        assert_eq!(got[1], ("carol".to_string(), 91, Some("Attempt to delete a user credential that does not exist".into())));
        assert_eq!(got[2], ("bob".to_string(), 92, Some(DUPLICATE_MESSAGE.to_string())));
        // Nothing changed: every change in that request was refused.
        assert!(ctx.scram_credentials.contains("alice", ScramKind::Sha256));
        assert!(ctx.scram_credentials.contains("bob", ScramKind::Sha512));
        let got = outcomes(&handle(&ctx, &AlterUserScramCredentialsRequest::default().with_deletions(vec![delete("bob", 2)]), &caller()));
        assert_eq!(got, [("bob".to_string(), 0, None)]);
        assert!(!ctx.scram_credentials.describe().contains_key("bob"));
    }
}
