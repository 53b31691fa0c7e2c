//! `runnel user create|delete|list`: SCRAM users, as `kafka-configs --entity-type users`
//! manages them (AlterUserScramCredentials and DescribeUserScramCredentials).
//!
//! Owns: the user verbs' flags and their output. Text follows kafka-configs' wording
//! (`SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192`);
//! JSON carries the same facts. The password goes to the client library, which sends only a
//! salted hash of it.

use anyhow::bail;
use clap::{Args, Subcommand};
use runnel_client::admin::scram::{ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration};
use runnel_client::admin::Admin;
use serde_json::json;

use super::output::{print, print_json};
use super::{Format, GlobalArgs};

/// The mechanism `create` and `delete` use unless told otherwise.
pub const MECHANISM_DEFAULT: &str = "SCRAM-SHA-256";
/// Iterations of a new credential unless told otherwise: twice Kafka's minimum of 4096.
pub const ITERATIONS_DEFAULT: i32 = 8192;
const RESOURCE_NOT_FOUND: i16 = 91;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  runnel user create alice --password alice-secret\n  \
    runnel user create bob --password bob-secret --mechanism SCRAM-SHA-512 --iterations 4096\n  \
    runnel user list\n  runnel user delete alice")]
pub struct UserArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a SCRAM user, or replace its password for one mechanism.
    Create(CreateArgs),
    /// Delete a user's SCRAM credentials (every mechanism unless --mechanism).
    Delete(DeleteArgs),
    /// List SCRAM users with their mechanisms and iteration counts.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The user name (the principal becomes User:NAME).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The password; only a salted hash of it is sent.
    #[arg(long, value_name = "PASSWORD")]
    pub password: String,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, value_name = "MECHANISM", default_value = MECHANISM_DEFAULT)]
    pub mechanism: String,
    /// PBKDF2 iterations (the broker accepts 4096..=16384).
    #[arg(long, value_name = "N", default_value_t = ITERATIONS_DEFAULT)]
    pub iterations: i32,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The user name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Delete only this mechanism's credential [default: every mechanism the user has].
    #[arg(long, value_name = "MECHANISM")]
    pub mechanism: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Users to show [default: every user with a SCRAM credential].
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    let format = args.global.format;
    // A malformed mechanism is refused before any connection is made.
    let mechanism = match &args.command {
        UserCommand::Create(create) => Some(create.mechanism.parse::<ScramMechanism>()?),
        UserCommand::Delete(DeleteArgs { mechanism: Some(name), .. }) => Some(name.parse::<ScramMechanism>()?),
        _ => None,
    };
    let admin = args.global.admin().await?;
    match args.command {
        UserCommand::Create(create) => {
            let mechanism = mechanism.unwrap_or(ScramMechanism::Sha256);
            create_user(&admin, create, mechanism, format).await
        }
        UserCommand::Delete(delete) => delete_user(&admin, &delete.name, mechanism, format).await,
        UserCommand::List(list) => list_users(&admin, list, format).await,
    }
}

async fn create_user(admin: &Admin, args: CreateArgs, mechanism: ScramMechanism, format: Format) -> anyhow::Result<()> {
    let upsert = UserScramCredentialAlteration::Upsert {
        user: args.name.clone(),
        mechanism,
        iterations: args.iterations,
        password: args.password,
    };
    let mut results = admin.alter_user_scram_credentials(&[upsert]).await?;
    if let Some(Err(error)) = results.remove(&args.name) {
        return Err(error.into());
    }
    match format {
        Format::Text => print(&format!("Completed updating config for user {}.\n", args.name)),
        Format::Json => print_json(&json!({
            "user": args.name,
            "status": "updated",
            "mechanism": mechanism.name(),
            "iterations": args.iterations,
        })),
    }
}

async fn delete_user(
    admin: &Admin,
    name: &str,
    mechanism: Option<ScramMechanism>,
    format: Format,
) -> anyhow::Result<()> {
    let mechanisms = match mechanism {
        Some(mechanism) => vec![mechanism],
        None => {
            let mut described = admin.describe_user_scram_credentials(Some(&[name.to_string()])).await?;
            match described.remove(name) {
                Some(Ok(infos)) => infos.iter().map(|info| info.mechanism).collect(),
                Some(Err(error)) if error.code() == Some(RESOURCE_NOT_FOUND) => {
                    bail!("user {name} has no SCRAM credentials")
                }
                Some(Err(error)) => return Err(error.into()),
                None => bail!("the broker did not describe user {name}"),
            }
        }
    };
    // Kafka refuses two changes to one user in a request, so each mechanism is its own call.
    for mechanism in &mechanisms {
        let delete = UserScramCredentialAlteration::Delete { user: name.to_string(), mechanism: *mechanism };
        if let Some(Err(error)) = admin.alter_user_scram_credentials(&[delete]).await?.remove(name) {
            return Err(error.into());
        }
    }
    match format {
        Format::Text => print(&format!("Completed updating config for user {name}.\n")),
        Format::Json => print_json(&json!({
            "user": name,
            "status": "deleted",
            "mechanisms": mechanisms.iter().map(|m| m.name()).collect::<Vec<_>>(),
        })),
    }
}

/// kafka-configs' rendering of a user's credentials: `SCRAM-SHA-256=iterations=8192`, joined by ", ".
fn credentials_text(infos: &[ScramCredentialInfo]) -> String {
    infos.iter().map(|info| format!("{}=iterations={}", info.mechanism, info.iterations)).collect::<Vec<_>>().join(", ")
}

async fn list_users(admin: &Admin, args: ListArgs, format: Format) -> anyhow::Result<()> {
    let named = (!args.names.is_empty()).then_some(args.names.as_slice());
    let described = admin.describe_user_scram_credentials(named).await?;
    let (mut text, mut json, mut errors) = (String::new(), Vec::new(), Vec::new());
    for (user, result) in &described {
        match result {
            Ok(infos) => {
                text += &format!("SCRAM credential configs for user-principal '{user}' are {}\n", credentials_text(infos));
                json.push(json!({
                    "user": user,
                    "credentials": infos
                        .iter()
                        .map(|info| json!({ "mechanism": info.mechanism.name(), "iterations": info.iterations }))
                        .collect::<Vec<_>>(),
                }));
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    match format {
        Format::Text => print(&text)?,
        Format::Json => print_json(&json!(json))?,
    }
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("{}", errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_print_as_kafka_configs_does() {
        let infos = [
            ScramCredentialInfo { mechanism: ScramMechanism::Sha256, iterations: 8192 },
            ScramCredentialInfo { mechanism: ScramMechanism::Sha512, iterations: 4096 },
        ];
        assert_eq!(credentials_text(&infos), "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096");
    }
}
